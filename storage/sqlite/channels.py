"""Channels Paperboy serves, their settings, and the topics they subscribe to."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from bot.model.channels import ChannelRef
from storage.sqlite.db import Queries, from_db, to_db
from bot.model.rows import Channel, Topic

_CHANNEL_COLUMNS = (
    "id, platform, workspace, channel, realtime, digest_time, timezone, top_n, min_upvotes, "
    "paused_reason, last_digest_at, created_at, threads, leaderboard_schedule, digest_days, "
    "digest_rank, picks, last_picks_at"
)
_TOPIC_COLUMNS = "id, channel_id, query, added_by, added_at, baseline_taken, added_by_id, number, notify, notify_name"
SCHEDULED = ("paused_reason IS NULL AND (coalesce(digest_time, '') != '' OR coalesce(leaderboard_schedule, '') != ''"
             " OR coalesce(picks, 0) != 0)")
"""The channels a poll looks at for digests, leaderboards and picks: the rest (most, on a big install) have none."""
_UPDATABLE = frozenset(
    {"realtime", "digest_time", "timezone", "top_n", "min_upvotes", "paused_reason", "last_digest_at", "threads",
     "leaderboard_schedule", "digest_days", "digest_rank", "picks", "last_picks_at"}
)


def _channel(row: sqlite3.Row) -> Channel:
    return Channel(
        id=row["id"],
        ref=ChannelRef(platform=row["platform"], workspace=row["workspace"], channel=row["channel"]),
        realtime=bool(row["realtime"]),
        digest_time=row["digest_time"],
        timezone=row["timezone"],
        top_n=row["top_n"],
        min_upvotes=row["min_upvotes"],
        paused_reason=row["paused_reason"],
        last_digest_at=from_db(row["last_digest_at"]),
        created_at=from_db(row["created_at"]),
        threads=bool(row["threads"]),
        leaderboard_schedule=row["leaderboard_schedule"],
        digest_days=row["digest_days"],
        digest_rank=row["digest_rank"],
        picks=row["picks"],
        last_picks_at=from_db(row["last_picks_at"]),
    )


def _topic(row: sqlite3.Row) -> Topic:
    return Topic(
        id=row["id"],
        channel_id=row["channel_id"],
        query=row["query"],
        added_by=row["added_by"],
        added_at=from_db(row["added_at"]),
        baseline_taken=bool(row["baseline_taken"]),
        added_by_id=row["added_by_id"],
        number=row["number"],
        notify=row["notify"],
        notify_name=row["notify_name"],
    )


def _column_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_db(value)
    if isinstance(value, bool):
        return int(value)
    return value


class ChannelQueries(Queries):
    """Create, read and change channels and their topics."""

    async def ensure_channel(self, ref: ChannelRef) -> Channel:
        """Return the channel for *ref*, creating it with `Channel`'s default settings the first time."""
        defaults = Channel(id=0, ref=ref)
        async with self._transaction() as conn:
            await conn.execute(
                """
                INSERT INTO channels (platform, workspace, channel, realtime, digest_time, timezone,
                                      top_n, min_upvotes, paused_reason, last_digest_at, created_at, threads,
                                      leaderboard_schedule, digest_days)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (platform, workspace, channel) DO NOTHING
                """,
                (
                    ref.platform, ref.workspace, ref.channel, int(defaults.realtime), defaults.digest_time,
                    defaults.timezone, defaults.top_n, defaults.min_upvotes, defaults.paused_reason,
                    to_db(defaults.last_digest_at), to_db(datetime.now(timezone.utc)), int(defaults.threads),
                    defaults.leaderboard_schedule, defaults.digest_days,
                ),
            )
            rows = await conn.execute_fetchall(
                f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE platform = ? AND workspace = ? AND channel = ?",
                (ref.platform, ref.workspace, ref.channel),
            )
        return _channel(rows[0])

    async def get_channel(self, ref: ChannelRef) -> Channel | None:
        """Return the channel for *ref*, or None if Paperboy has never served it."""
        row = await self._fetchone(
            f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE platform = ? AND workspace = ? AND channel = ?",
            (ref.platform, ref.workspace, ref.channel),
        )
        return _channel(row) if row else None

    async def get_channel_by_id(self, channel_id: int) -> Channel | None:
        """Return the channel with id *channel_id*, or None."""
        row = await self._fetchone(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id = ?", (channel_id,))
        return _channel(row) if row else None

    async def update_channel(self, channel_id: int, **changes: Any) -> Channel:
        """Change the given settings of channel *channel_id* and return it as it now is.

        Raises ValueError for a key that is not a setting and LookupError for an unknown channel.
        """
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update channel field(s) {sorted(unknown)}; allowed: {sorted(_UPDATABLE)}")
        # Column names come from _UPDATABLE only, never from the caller's text.
        assignments = ", ".join(f"{key} = ?" for key in changes)
        async with self._transaction() as conn:
            if changes:
                values = [_column_value(v) for v in changes.values()]
                await conn.execute(f"UPDATE channels SET {assignments} WHERE id = ?", (*values, channel_id))
            rows = await conn.execute_fetchall(
                f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id = ?", (channel_id,)
            )
        if not rows:
            raise LookupError(f"no channel with id {channel_id}")
        return _channel(rows[0])

    async def list_channels(self) -> list[Channel]:
        """Return every channel, in the order they were first seen."""
        rows = await self._fetchall(f"SELECT {_CHANNEL_COLUMNS} FROM channels ORDER BY id")
        return [_channel(r) for r in rows]

    async def scheduled_channels(self) -> list[Channel]:
        """Return the unpaused channels with something on a schedule (a digest, a leaderboard, daily picks), by id."""
        rows = await self._fetchall(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE {SCHEDULED} ORDER BY id")
        return [_channel(r) for r in rows]

    async def paused_channels(self) -> list[Channel]:
        """Return the channels delivery is paused for (``paused_reason`` set)."""
        rows = await self._fetchall(
            f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE paused_reason IS NOT NULL ORDER BY id"
        )
        return [_channel(r) for r in rows]

    async def add_topic(
        self, channel_id: int, query: str, added_by: str, *, at: datetime, added_by_id: str | None = None,
        notify: str | None = None, notify_name: str | None = None,
    ) -> Topic:
        """Subscribe channel *channel_id* to *query*; the same query again (any letter case) returns the existing topic.

        *notify* (a group's platform id) and *notify_name* are kept for the new topic only: an
        existing topic keeps its own.
        """
        async with self._transaction() as conn:
            await conn.execute(
                """
                INSERT INTO topics (channel_id, query, added_by, added_at, added_by_id, number, notify, notify_name)
                SELECT ?, ?, ?, ?, ?, coalesce(max(number), 0) + 1, ?, ? FROM topics WHERE channel_id = ?
                ON CONFLICT DO NOTHING
                """,
                (channel_id, query, added_by, to_db(at), added_by_id, notify, notify_name, channel_id),
            )
            rows = await conn.execute_fetchall(
                f"SELECT {_TOPIC_COLUMNS} FROM topics WHERE channel_id = ? AND query = ? COLLATE NOCASE",
                (channel_id, query),
            )
        return _topic(rows[0])

    async def list_topics(self, channel_id: int) -> list[Topic]:
        """Return channel *channel_id*'s topics by their number (oldest first)."""
        rows = await self._fetchall(
            f"SELECT {_TOPIC_COLUMNS} FROM topics WHERE channel_id = ? ORDER BY number, id", (channel_id,)
        )
        return [_topic(r) for r in rows]

    async def remove_topic(self, topic_id: int) -> None:
        """Unsubscribe: delete topic *topic_id* (deliveries it caused keep their rows, without the topic)."""
        async with self._transaction() as conn:
            # No foreign key sets the ledger's topic_id to NULL (migration 0012): its rows are found through
            # the channel's (deliveries_by_channel_state), so no index on topic_id slows every poll's inserts.
            await conn.execute("""UPDATE deliveries SET topic_id = NULL WHERE topic_id = ?1
                                  AND channel_id = (SELECT channel_id FROM topics WHERE id = ?1)""", (topic_id,))
            await conn.execute("DELETE FROM topics WHERE id = ?", (topic_id,))

    async def mark_baseline_taken(self, topic_ids: Sequence[int]) -> None:
        """Record that the papers listed when *topic_ids* were added are in the ledger as already seen."""
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE topics SET baseline_taken = 1 WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(topic_ids)),),
            )

    async def active_topics_signature(self) -> tuple[int, int, int]:
        """Return a cheap fingerprint of the active topics, which changes whenever they do."""
        row = await self._fetchone(
            """SELECT count(*) AS n, coalesce(sum(t.id), 0) AS s, coalesce(max(t.id), 0) AS m
               FROM topics t JOIN channels c ON c.id = t.channel_id
               WHERE t.baseline_taken AND c.paused_reason IS NULL"""
        )
        return (row["n"], row["s"], row["m"]) if row else (0, 0, 0)

    async def active_topics(self) -> list[tuple[int, int, str]]:
        """Return (channel id, topic id, query) of every topic past its baseline, in unpaused channels."""
        rows = await self._fetchall(
            """SELECT t.channel_id, t.id, t.query FROM topics t JOIN channels c ON c.id = t.channel_id
               WHERE t.baseline_taken AND c.paused_reason IS NULL ORDER BY t.id"""
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def topics_awaiting_baseline(self) -> dict[int, list[int]]:
        """Return, per unpaused channel id, the ids of its topics whose baseline is still to take."""
        rows = await self._fetchall(
            """SELECT t.channel_id, t.id FROM topics t JOIN channels c ON c.id = t.channel_id
               WHERE NOT t.baseline_taken AND c.paused_reason IS NULL ORDER BY t.id"""
        )
        waiting: dict[int, list[int]] = {}
        for channel_id, topic_id in rows:
            waiting.setdefault(channel_id, []).append(topic_id)
        return waiting

    async def get_channels(self, channel_ids: Sequence[int]) -> dict[int, Channel]:
        """Return the channels with *channel_ids*, by id."""
        rows = await self._fetchall(
            f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(channel_ids)),),
        )
        return {row["id"]: _channel(row) for row in rows}

