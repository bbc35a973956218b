"""The delivery ledger: one row per (channel, paper), from first sight to sent or skipped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import asyncpg

from bot.model.rows import Delivery
from storage.postgres.connection import Queries, affected

_COLUMNS = ("id, channel_id, paper_id, state, why, topic_id, attempts, next_attempt_at, last_error, "
            "message_ref, created_at, sent_at")
_ENQUEUE_STATES = frozenset({"queued"})


def _delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(**dict(row))


class LedgerQueries(Queries):
    """Record which papers a channel has seen, queue new ones for the digest, and count them."""

    async def record_baseline(self, channel_id: int, paper_ids: Iterable[str], *, at: datetime) -> int:
        """Mark *paper_ids* as already seen by channel *channel_id* (never posted); return how many rows were new."""
        ids = list(dict.fromkeys(paper_ids))
        if not ids:
            return 0
        async with self._transaction() as conn:
            status = await conn.execute(
                """INSERT INTO deliveries (channel_id, paper_id, state, created_at)
                   SELECT $1, paper_id, 'baseline', $3 FROM unnest($2::text[]) AS paper_id
                   ON CONFLICT (channel_id, paper_id) DO NOTHING""", channel_id, ids, at)
        return affected(status)

    async def ledger_paper_ids(self, channel_id: int) -> set[str]:
        rows = await self._fetch("SELECT paper_id FROM deliveries WHERE channel_id = $1", channel_id)
        return {r[0] for r in rows}

    async def channels_having(self, paper_id: str, channel_ids: Sequence[int]) -> set[int]:
        if not channel_ids:
            return set()
        rows = await self._fetch(
            "SELECT channel_id FROM deliveries WHERE paper_id = $1 AND channel_id = ANY($2::bigint[])",
            paper_id, list(channel_ids))
        return {r[0] for r in rows}

    async def enqueue(self, channel_id: int, paper_id: str, *, state: str, why: str | None,
                      topic_id: int | None, at: datetime) -> bool:
        """Add a ``queued`` (waiting for the digest) row; return False if the paper already has a row."""
        if state not in _ENQUEUE_STATES:
            raise ValueError(f"enqueue state must be one of {sorted(_ENQUEUE_STATES)}, not {state!r}")
        async with self._transaction() as conn:
            status = await conn.execute(
                """INSERT INTO deliveries (channel_id, paper_id, state, why, topic_id, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel_id, paper_id) DO NOTHING""",
                channel_id, paper_id, state, why, topic_id, at)
        return affected(status) == 1

    async def queued_deliveries(self, channel_id: int) -> list[Delivery]:
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM deliveries WHERE channel_id = $1 AND state = 'queued' ORDER BY created_at, id",
            channel_id)
        return [_delivery(r) for r in rows]

    async def delivery_counts(self, channel_id: int) -> dict[str, int]:
        rows = await self._fetch(
            "SELECT state, count(*) AS n FROM deliveries WHERE channel_id = $1 GROUP BY state", channel_id)
        return {r["state"]: r["n"] for r in rows}

    async def ledger_whys_many(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str | None]:
        """Return why each (channel id, paper id) of *pairs* matched, in one read."""
        rows = await self._fetch(
            """SELECT d.channel_id, d.paper_id, d.why FROM deliveries d
               JOIN unnest($1::bigint[], $2::text[]) AS p (channel_id, paper_id)
                 ON d.channel_id = p.channel_id AND d.paper_id = p.paper_id""",
            [c for c, _ in pairs], [p for _, p in pairs])
        return {(r["channel_id"], r["paper_id"]): r["why"] for r in rows}
