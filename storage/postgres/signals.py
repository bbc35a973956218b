"""👎 per channel, and the signals a channel's (or a person's) interest model learns from; `forget me`."""

from __future__ import annotations

from datetime import datetime

from bot.rows import PaperSignals, Reader
from storage.postgres.connection import Queries, affected

# Positives: 👍 and saves made in the channel; negatives: 👎 there. Same person twice counts twice.
_CHANNEL_SIGNALS = """
    SELECT paper_id, sum(pos)::int AS positive, sum(neg)::int AS negative FROM (
        SELECT paper_id, 1 AS pos, 0 AS neg FROM votes WHERE channel_id = $1
        UNION ALL SELECT paper_id, 1, 0 FROM saves WHERE channel_id = $1
        UNION ALL SELECT paper_id, 0, 1 FROM downvotes WHERE channel_id = $1) signals
    GROUP BY paper_id ORDER BY paper_id
"""
# A person in a direct message: their whole reading list, and their own 👍/👎 in that channel.
_READER_SIGNALS = """
    SELECT paper_id, sum(pos)::int AS positive, sum(neg)::int AS negative FROM (
        SELECT paper_id, 1 AS pos, 0 AS neg FROM saves WHERE platform = $1 AND workspace = $2 AND user_id = $3
        UNION ALL SELECT paper_id, 1, 0 FROM votes WHERE channel_id = $4 AND user_id = $3
        UNION ALL SELECT paper_id, 0, 1 FROM downvotes WHERE channel_id = $4 AND user_id = $3) signals
    GROUP BY paper_id ORDER BY paper_id
"""
_IN_WORKSPACE = "user_id = $3 AND channel_id IN (SELECT id FROM channels WHERE platform = $1 AND workspace = $2)"


class SignalQueries(Queries):
    """Toggle 👎, read a channel's or a person's signals, and forget a person's."""

    async def toggle_downvote(self, channel_id: int, paper_id: str, user_id: str, *, at: datetime) -> bool:
        """Add *user_id*'s 👎 to *paper_id* in the channel, or take it back if there; return whether it is there now."""
        async with self._transaction() as conn:
            removed = await conn.execute(
                "DELETE FROM downvotes WHERE channel_id = $1 AND paper_id = $2 AND user_id = $3",
                channel_id, paper_id, user_id)
            if affected(removed):
                return False
            await conn.execute(
                """INSERT INTO downvotes (channel_id, paper_id, user_id, voted_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT DO NOTHING""", channel_id, paper_id, user_id, at)
            return True

    async def channel_signals(self, channel_id: int) -> list[PaperSignals]:
        """Every paper signalled in the channel: 👍 and saves made there as positive, 👎 there as negative."""
        rows = await self._fetch(_CHANNEL_SIGNALS, channel_id)
        return [PaperSignals(r["paper_id"], r["positive"], r["negative"]) for r in rows]

    async def reader_signals(self, reader: Reader, channel_id: int | None) -> list[PaperSignals]:
        """A person's signals for their direct message *channel_id*: all their saves, their own 👍/👎 there."""
        rows = await self._fetch(_READER_SIGNALS, reader.platform, reader.workspace, reader.user_id, channel_id)
        return [PaperSignals(r["paper_id"], r["positive"], r["negative"]) for r in rows]

    async def forget_reader(self, reader: Reader) -> tuple[int, int, int]:
        """Remove the person's 👍, 👎 and saves in their workspace or server; return how many of each."""
        who = (reader.platform, reader.workspace, reader.user_id)
        async with self._transaction() as conn:
            votes = await conn.execute(f"DELETE FROM votes WHERE {_IN_WORKSPACE}", *who)
            downvotes = await conn.execute(f"DELETE FROM downvotes WHERE {_IN_WORKSPACE}", *who)
            saves = await conn.execute(
                "DELETE FROM saves WHERE platform = $1 AND workspace = $2 AND user_id = $3", *who)
        return affected(votes), affected(downvotes), affected(saves)
