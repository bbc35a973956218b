"""Channels Paperboy serves, their settings, and the topics they subscribe to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import asyncpg

from bot.model.channels import ChannelRef
from bot.model.rows import Channel, Topic
from storage.sqlite.channels import SCHEDULED
from storage.postgres.connection import Queries

_CHANNEL_COLUMNS = (
    "id, platform, workspace, channel, realtime, digest_time, timezone, top_n, min_upvotes, "
    "paused_reason, last_digest_at, created_at, threads, leaderboard_schedule, digest_days, "
    "digest_rank, picks, last_picks_at"
)
_TOPIC_COLUMNS = "id, channel_id, query, added_by, added_at, baseline_taken, added_by_id, number, notify, notify_name"
_UPDATABLE = frozenset(
    {"realtime", "digest_time", "timezone", "top_n", "min_upvotes", "paused_reason", "last_digest_at", "threads",
     "leaderboard_schedule", "digest_days", "digest_rank", "picks", "last_picks_at"}
)
_ACTIVE = "FROM topics t JOIN channels c ON c.id = t.channel_id WHERE c.paused_reason IS NULL"


def _channel(row: asyncpg.Record) -> Channel:
    return Channel(
        id=row["id"],
        ref=ChannelRef(platform=row["platform"], workspace=row["workspace"], channel=row["channel"]),
        realtime=row["realtime"], digest_time=row["digest_time"], timezone=row["timezone"],
        top_n=row["top_n"], min_upvotes=row["min_upvotes"], paused_reason=row["paused_reason"],
        last_digest_at=row["last_digest_at"], created_at=row["created_at"], threads=row["threads"],
        leaderboard_schedule=row["leaderboard_schedule"], digest_days=row["digest_days"],
        digest_rank=row["digest_rank"], picks=row["picks"], last_picks_at=row["last_picks_at"],
    )


def _topic(row: asyncpg.Record) -> Topic:
    return Topic(
        id=row["id"], channel_id=row["channel_id"], query=row["query"], added_by=row["added_by"],
        added_at=row["added_at"], baseline_taken=row["baseline_taken"], added_by_id=row["added_by_id"],
        number=row["number"], notify=row["notify"], notify_name=row["notify_name"],
    )


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {value!r}")
    return value


class ChannelQueries(Queries):
    """Create, read and change channels and their topics."""

    async def ensure_channel(self, ref: ChannelRef) -> Channel:
        """Return the channel for *ref*, creating it with `Channel`'s default settings the first time."""
        d = Channel(id=0, ref=ref)
        async with self._transaction() as conn:
            await conn.execute(
                """INSERT INTO channels (platform, workspace, channel, realtime, digest_time, timezone,
                                         top_n, min_upvotes, paused_reason, last_digest_at, created_at, threads,
                                         leaderboard_schedule, digest_days)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                   ON CONFLICT (platform, workspace, channel) DO NOTHING""",
                ref.platform, ref.workspace, ref.channel, d.realtime, d.digest_time, d.timezone, d.top_n,
                d.min_upvotes, d.paused_reason, d.last_digest_at, datetime.now(timezone.utc), d.threads,
                d.leaderboard_schedule, d.digest_days,
            )
            row = await conn.fetchrow(
                f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE platform = $1 AND workspace = $2 AND channel = $3",
                ref.platform, ref.workspace, ref.channel,
            )
        return _channel(row)

    async def get_channel(self, ref: ChannelRef) -> Channel | None:
        row = await self._fetchrow(
            f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE platform = $1 AND workspace = $2 AND channel = $3",
            ref.platform, ref.workspace, ref.channel,
        )
        return _channel(row) if row else None

    async def get_channel_by_id(self, channel_id: int) -> Channel | None:
        row = await self._fetchrow(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id = $1", channel_id)
        return _channel(row) if row else None

    async def get_channels(self, channel_ids: Sequence[int]) -> dict[int, Channel]:
        rows = await self._fetch(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id = ANY($1::bigint[])",
                                 list(channel_ids))
        return {row["id"]: _channel(row) for row in rows}

    async def update_channel(self, channel_id: int, **changes: Any) -> Channel:
        """Change the given settings of channel *channel_id* and return it as it now is.

        Raises ValueError for a key that is not a setting and LookupError for an unknown channel.
        """
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update channel field(s) {sorted(unknown)}; allowed: {sorted(_UPDATABLE)}")
        values = [_aware(v) for v in changes.values()]
        # Column names come from _UPDATABLE only, never from the caller's text.
        assignments = ", ".join(f"{key} = ${i}" for i, key in enumerate(changes, start=2))
        async with self._transaction() as conn:
            if changes:
                await conn.execute(f"UPDATE channels SET {assignments} WHERE id = $1", channel_id, *values)
            row = await conn.fetchrow(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE id = $1", channel_id)
        if row is None:
            raise LookupError(f"no channel with id {channel_id}")
        return _channel(row)

    async def list_channels(self) -> list[Channel]:
        return [_channel(r) for r in await self._fetch(f"SELECT {_CHANNEL_COLUMNS} FROM channels ORDER BY id")]

    async def scheduled_channels(self) -> list[Channel]:
        return [_channel(r) for r in await self._fetch(
            f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE {SCHEDULED} ORDER BY id")]

    async def paused_channels(self) -> list[Channel]:
        rows = await self._fetch(
            f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE paused_reason IS NOT NULL ORDER BY id")
        return [_channel(r) for r in rows]

    async def add_topic(self, channel_id: int, query: str, added_by: str, *, at: datetime,
                        added_by_id: str | None = None, notify: str | None = None,
                        notify_name: str | None = None) -> Topic:
        """Subscribe channel *channel_id* to *query*; the same query again (any letter case) returns the existing topic.

        *notify* (a group's platform id) and *notify_name* are kept for the new topic only: an
        existing topic keeps its own.
        """
        _aware(at)
        async with self._transaction() as conn:
            # The channel's row lock makes concurrent adds to one channel take numbers in turn.
            await conn.execute("SELECT 1 FROM channels WHERE id = $1 FOR UPDATE", channel_id)
            await conn.execute(
                """INSERT INTO topics (channel_id, query, added_by, added_at, added_by_id, number, notify, notify_name)
                   SELECT $1, $2, $3, $4, $5, coalesce(max(number), 0) + 1, $6, $7 FROM topics WHERE channel_id = $1
                   ON CONFLICT DO NOTHING""",
                channel_id, query, added_by, at, added_by_id, notify, notify_name,
            )
            row = await conn.fetchrow(
                f"SELECT {_TOPIC_COLUMNS} FROM topics WHERE channel_id = $1 AND lower(query) = lower($2)",
                channel_id, query,
            )
        return _topic(row)

    async def list_topics(self, channel_id: int) -> list[Topic]:
        rows = await self._fetch(
            f"SELECT {_TOPIC_COLUMNS} FROM topics WHERE channel_id = $1 ORDER BY number, id", channel_id)
        return [_topic(r) for r in rows]

    async def remove_topic(self, topic_id: int) -> None:
        async with self._transaction() as conn:
            # The ledger keeps its rows, without the topic (no foreign key: see migration 0009); they are
            # found through the channel's rows (deliveries_by_channel_state), so no index on topic_id is kept.
            await conn.execute("""UPDATE deliveries SET topic_id = NULL WHERE topic_id = $1
                                  AND channel_id = (SELECT channel_id FROM topics WHERE id = $1)""", topic_id)
            await conn.execute("DELETE FROM topics WHERE id = $1", topic_id)

    async def mark_baseline_taken(self, topic_ids: Sequence[int]) -> None:
        async with self._transaction() as conn:
            await conn.execute("UPDATE topics SET baseline_taken = true WHERE id = ANY($1::bigint[])",
                               list(topic_ids))

    async def active_topics_signature(self) -> tuple[int, int, int]:
        """Return a cheap fingerprint of the active topics, which changes whenever they do."""
        row = await self._fetchrow(
            f"SELECT count(*) AS n, coalesce(sum(t.id), 0) AS s, coalesce(max(t.id), 0) AS m "
            f"{_ACTIVE} AND t.baseline_taken")
        return (int(row["n"]), int(row["s"]), int(row["m"])) if row else (0, 0, 0)

    async def active_topics(self) -> list[tuple[int, int, str]]:
        rows = await self._fetch(f"SELECT t.channel_id, t.id, t.query {_ACTIVE} AND t.baseline_taken ORDER BY t.id")
        return [(r[0], r[1], r[2]) for r in rows]

    async def topics_awaiting_baseline(self) -> dict[int, list[int]]:
        rows = await self._fetch(f"SELECT t.channel_id, t.id {_ACTIVE} AND NOT t.baseline_taken ORDER BY t.id")
        waiting: dict[int, list[int]] = {}
        for channel_id, topic_id in rows:
            waiting.setdefault(channel_id, []).append(topic_id)
        return waiting
