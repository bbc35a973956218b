"""👎 per channel, the signals a channel's (or a person's) interest model learns from, `forget me`, and picks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.model.paper import Paper
from bot.model.rows import PaperSignals, Reader
from storage.postgres.connection import Queries, affected
from storage.postgres.outbox import _INSERT

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

    async def recent_papers(self, since: datetime, *, limit: int = 2000) -> list[Paper]:
        """Cached papers published (submitted to arXiv) at or after *since*, newest first, at most *limit*."""
        rows = await self._fetch(
            "SELECT data::text AS data FROM papers WHERE published_at >= $1 ORDER BY published_at DESC, id LIMIT $2",
            since, limit)
        return [Paper.model_validate_json(r["data"]) for r in rows]

    async def enqueue_picks(self, channel_id: int, *, tag: str, title: str,
                            picks: Sequence[tuple[str, str | None]], at: datetime) -> bool:
        """Queue one list post of (paper id, why) *picks* with ledger rows, and stamp the channel's last picks.

        False (nothing queued) when *tag* was queued already, or every pick has a ledger row by now.
        One transaction: after a crash either all of it is there, or none of it.
        """
        async with self._transaction() as conn:
            entry_id = await conn.fetchval(_INSERT + " RETURNING id", channel_id, "digest", tag, [], title, None,
                                           at, None)
            if entry_id is None:
                return False
            fresh = await conn.fetch(
                """INSERT INTO deliveries (channel_id, paper_id, state, why, topic_id, created_at)
                   SELECT $1, m.paper_id, 'pending', m.why, NULL, $4
                   FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS m (paper_id, why, n)
                   ORDER BY m.n
                   ON CONFLICT (channel_id, paper_id) DO NOTHING RETURNING paper_id""",
                channel_id, [p for p, _ in picks], [w for _, w in picks], at)
            await conn.execute("UPDATE channels SET last_picks_at = $2 WHERE id = $1", channel_id, at)
            order = {p: i for i, (p, _) in enumerate(picks)}
            ids = sorted((r["paper_id"] for r in fresh), key=order.__getitem__)
            if not ids:
                await conn.execute("DELETE FROM outbox WHERE id = $1", entry_id)
                return False
            await conn.execute("UPDATE outbox SET paper_ids = $2 WHERE id = $1", entry_id, ids)
            return True
