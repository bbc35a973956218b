"""The delivery ledger: one row per (channel, paper), from first sight to sent or skipped."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime

from storage.sqlite.db import Queries, from_db, to_db
from bot.model.rows import Delivery

_COLUMN_NAMES = (
    "id", "channel_id", "paper_id", "state", "why", "topic_id", "attempts", "next_attempt_at",
    "last_error", "message_ref", "created_at", "sent_at",
)
_COLUMNS = ", ".join(_COLUMN_NAMES)
_ENQUEUE_STATES = frozenset({"queued"})


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        id=row["id"],
        channel_id=row["channel_id"],
        paper_id=row["paper_id"],
        state=row["state"],
        why=row["why"],
        topic_id=row["topic_id"],
        attempts=row["attempts"],
        next_attempt_at=from_db(row["next_attempt_at"]),
        last_error=row["last_error"],
        message_ref=row["message_ref"],
        created_at=from_db(row["created_at"]),
        sent_at=from_db(row["sent_at"]),
    )


class DeliveryQueries(Queries):
    """Record which papers a channel has seen, queue new ones, and track each post's fate."""

    async def record_baseline(self, channel_id: int, paper_ids: Iterable[str], *, at: datetime) -> int:
        """Mark *paper_ids* as already seen by channel *channel_id* (never posted); return how many rows were new."""
        created = to_db(at)
        rows = [(channel_id, paper_id, created) for paper_id in dict.fromkeys(paper_ids)]
        if not rows:
            return 0
        async with self._transaction() as conn:
            cursor = await conn.executemany(
                "INSERT OR IGNORE INTO deliveries (channel_id, paper_id, state, created_at) VALUES (?, ?, 'baseline', ?)",
                rows,
            )
            return cursor.rowcount

    async def ledger_paper_ids(self, channel_id: int) -> set[str]:
        """Return every paper id channel *channel_id* has a ledger row for, whatever its state."""
        rows = await self._fetchall("SELECT paper_id FROM deliveries WHERE channel_id = ?", (channel_id,))
        return {r["paper_id"] for r in rows}

    async def channels_having(self, paper_id: str, channel_ids: Sequence[int]) -> set[int]:
        """Return which of *channel_ids* already have a ledger row for *paper_id*."""
        if not channel_ids:
            return set()
        # CROSS JOIN keeps the list outside: each channel is one probe of the (paper, channel) index, where
        # the planner, not knowing the list's length, would rather read every channel that has the paper.
        rows = await self._fetchall(
            """SELECT d.channel_id FROM json_each(?) AS c
               CROSS JOIN deliveries d ON d.paper_id = ? AND d.channel_id = c.value""",
            (json.dumps(list(channel_ids)), paper_id),
        )
        return {r[0] for r in rows}

    async def enqueue(
        self,
        channel_id: int,
        paper_id: str,
        *,
        state: str,
        why: str | None,
        topic_id: int | None,
        at: datetime,
    ) -> bool:
        """Add a ``queued`` (waiting for the digest) row; return False if the paper already has a row.

        Posts to send at once go through `enqueue_posts`, which queues their message too.
        """
        if state not in _ENQUEUE_STATES:
            raise ValueError(f"enqueue state must be one of {sorted(_ENQUEUE_STATES)}, not {state!r}")
        async with self._transaction() as conn:
            cursor = await conn.execute(
                """
                INSERT OR IGNORE INTO deliveries (channel_id, paper_id, state, why, topic_id, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                (channel_id, paper_id, state, why, topic_id, to_db(at)),
            )
            return cursor.rowcount == 1

    async def queued_deliveries(self, channel_id: int) -> list[Delivery]:
        """Return channel *channel_id*'s rows waiting for its digest, oldest first."""
        rows = await self._fetchall(
            f"SELECT {_COLUMNS} FROM deliveries WHERE channel_id = ? AND state = 'queued' ORDER BY created_at, id",
            (channel_id,),
        )
        return [_delivery(r) for r in rows]

    async def delivery_counts(self, channel_id: int) -> dict[str, int]:
        """Return how many of channel *channel_id*'s ledger rows are in each state (states with none left out)."""
        rows = await self._fetchall(
            "SELECT state, count(*) AS n FROM deliveries WHERE channel_id = ? GROUP BY state", (channel_id,)
        )
        return {r["state"]: r["n"] for r in rows}
