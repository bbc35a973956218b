"""What `why` and `log` read: one paper's ledger row and posts in a channel, and a channel's latest posts."""

from __future__ import annotations

from storage.sqlite.db import Queries
from storage.sqlite.deliveries import _COLUMNS as _LEDGER_COLUMNS, _delivery
from storage.sqlite.outbox import _COLUMNS as _OUTBOX_COLUMNS, _entry
from bot.model.rows import Delivery, OutboxEntry


class HistoryQueries(Queries):
    """Read-only look-ups into the ledger and the outbox of one channel."""

    async def ledger_row(self, channel_id: int, paper_id: str) -> Delivery | None:
        """Return the channel's ledger row for *paper_id*, or None when it never had one."""
        row = await self._fetchone(f"SELECT {_LEDGER_COLUMNS} FROM deliveries WHERE channel_id = ? AND paper_id = ?",
                                   (channel_id, paper_id))
        return _delivery(row) if row else None

    async def paper_outbox(self, channel_id: int, paper_id: str) -> list[OutboxEntry]:
        """Return the channel's outbox entries that show *paper_id* (posts, digests, edits…), oldest first."""
        rows = await self._fetchall(
            f"""SELECT {_OUTBOX_COLUMNS} FROM outbox
                WHERE channel_id = ? AND EXISTS (SELECT 1 FROM json_each(outbox.paper_ids) WHERE value = ?)
                ORDER BY id""", (channel_id, paper_id))
        return [_entry(r) for r in rows]

    async def recent_outbox(self, channel_id: int, *, limit: int) -> list[OutboxEntry]:
        """Return the channel's *limit* latest outbox entries, newest first."""
        rows = await self._fetchall(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE channel_id = ? ORDER BY id DESC LIMIT ?", (channel_id, limit))
        return [_entry(r) for r in rows]
