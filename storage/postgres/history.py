"""What `why` and `log` read: one paper's ledger row and posts in a channel, and a channel's latest posts."""

from __future__ import annotations

from bot.model.rows import Delivery, OutboxEntry
from storage.postgres.connection import Queries
from storage.postgres.ledger import _COLUMNS as _LEDGER_COLUMNS, _delivery
from storage.postgres.outbox import _COLUMNS as _OUTBOX_COLUMNS, _entry


class HistoryQueries(Queries):
    """Read-only look-ups into the ledger and the outbox of one channel."""

    async def ledger_row(self, channel_id: int, paper_id: str) -> Delivery | None:
        """Return the channel's ledger row for *paper_id*, or None when it never had one."""
        row = await self._fetchrow(
            f"SELECT {_LEDGER_COLUMNS} FROM deliveries WHERE channel_id = $1 AND paper_id = $2", channel_id, paper_id)
        return _delivery(row) if row else None

    async def paper_outbox(self, channel_id: int, paper_id: str) -> list[OutboxEntry]:
        """Return the channel's outbox entries that show *paper_id* (posts, digests, edits…), oldest first."""
        rows = await self._fetch(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE channel_id = $1 AND $2 = ANY(paper_ids) ORDER BY id",
            channel_id, paper_id)
        return [_entry(r) for r in rows]

    async def recent_outbox(self, channel_id: int, *, limit: int) -> list[OutboxEntry]:
        """Return the channel's *limit* latest outbox entries, newest first."""
        rows = await self._fetch(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE channel_id = $1 ORDER BY id DESC LIMIT $2", channel_id, limit)
        return [_entry(r) for r in rows]
