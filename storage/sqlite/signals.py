"""👎 per channel, the signals a channel's (or a person's) interest model learns from, `forget me`, and picks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.model.paper import Paper
from bot.model.rows import PaperSignals, Reader
from storage.sqlite.db import Queries, to_db
from storage.sqlite.outbox import _INSERT

# Positives: 👍 and saves made in the channel; negatives: 👎 there. Same person twice counts twice.
_CHANNEL_SIGNALS = """
    SELECT paper_id, sum(pos) AS positive, sum(neg) AS negative FROM (
        SELECT paper_id, 1 AS pos, 0 AS neg FROM votes WHERE channel_id = :channel
        UNION ALL SELECT paper_id, 1, 0 FROM saves WHERE channel_id = :channel
        UNION ALL SELECT paper_id, 0, 1 FROM downvotes WHERE channel_id = :channel)
    GROUP BY paper_id ORDER BY paper_id
"""
# A person in a direct message: their whole reading list, and their own 👍/👎 in that channel.
_READER_SIGNALS = """
    SELECT paper_id, sum(pos) AS positive, sum(neg) AS negative FROM (
        SELECT paper_id, 1 AS pos, 0 AS neg FROM saves
            WHERE platform = :platform AND workspace = :workspace AND user_id = :user
        UNION ALL SELECT paper_id, 1, 0 FROM votes WHERE channel_id = :channel AND user_id = :user
        UNION ALL SELECT paper_id, 0, 1 FROM downvotes WHERE channel_id = :channel AND user_id = :user)
    GROUP BY paper_id ORDER BY paper_id
"""
_IN_WORKSPACE = "user_id = :user AND channel_id IN (SELECT id FROM channels WHERE platform = :platform AND " \
                "workspace = :workspace)"


class SignalQueries(Queries):
    """Toggle 👎, read a channel's or a person's signals, and forget a person's."""

    async def toggle_downvote(self, channel_id: int, paper_id: str, user_id: str, *, at: datetime) -> bool:
        """Add *user_id*'s 👎 to *paper_id* in the channel, or take it back if there; return whether it is there now."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM downvotes WHERE channel_id = ? AND paper_id = ? AND user_id = ?",
                (channel_id, paper_id, user_id))
            if cursor.rowcount:
                return False
            await conn.execute(
                "INSERT INTO downvotes (channel_id, paper_id, user_id, voted_at) VALUES (?, ?, ?, ?)",
                (channel_id, paper_id, user_id, to_db(at)))
            return True

    async def channel_signals(self, channel_id: int) -> list[PaperSignals]:
        """Every paper signalled in the channel: 👍 and saves made there as positive, 👎 there as negative."""
        rows = await self._fetchall(_CHANNEL_SIGNALS, {"channel": channel_id})
        return [PaperSignals(r["paper_id"], r["positive"], r["negative"]) for r in rows]

    async def reader_signals(self, reader: Reader, channel_id: int | None) -> list[PaperSignals]:
        """A person's signals for their direct message *channel_id*: all their saves, their own 👍/👎 there."""
        rows = await self._fetchall(_READER_SIGNALS, {"platform": reader.platform, "workspace": reader.workspace,
                                                      "user": reader.user_id, "channel": channel_id})
        return [PaperSignals(r["paper_id"], r["positive"], r["negative"]) for r in rows]

    async def forget_reader(self, reader: Reader) -> tuple[int, int, int]:
        """Remove the person's 👍, 👎 and saves in their workspace or server; return how many of each."""
        names = {"platform": reader.platform, "workspace": reader.workspace, "user": reader.user_id}
        async with self._transaction() as conn:
            votes = await conn.execute(f"DELETE FROM votes WHERE {_IN_WORKSPACE}", names)
            downvotes = await conn.execute(f"DELETE FROM downvotes WHERE {_IN_WORKSPACE}", names)
            saves = await conn.execute(
                "DELETE FROM saves WHERE platform = :platform AND workspace = :workspace AND user_id = :user", names)
            return votes.rowcount, downvotes.rowcount, saves.rowcount

    async def recent_papers(self, since: datetime, *, limit: int = 2000) -> list[Paper]:
        """Cached papers published (submitted to arXiv) at or after *since*, newest first, at most *limit*."""
        rows = await self._fetchall(
            "SELECT data FROM papers WHERE published_at >= ? ORDER BY published_at DESC, id LIMIT ?",
            (to_db(since), limit), slow=True)
        return [Paper.model_validate_json(r["data"]) for r in rows]

    async def enqueue_picks(self, channel_id: int, *, tag: str, title: str,
                            picks: Sequence[tuple[str, str | None]], at: datetime) -> bool:
        """Queue one list post of (paper id, why) *picks* with ledger rows, and stamp the channel's last picks.

        False (nothing queued) when *tag* was queued already, or every pick has a ledger row by now.
        One transaction: after a crash either all of it is there, or none of it.
        """
        async with self._transaction() as conn:
            cursor = await conn.execute(_INSERT, (channel_id, "digest", tag, "[]", title, None, to_db(at), None))
            if cursor.rowcount != 1:
                return False
            entry_id = cursor.lastrowid
            fresh = []
            for paper_id, why in picks:
                added = await conn.execute(
                    """INSERT OR IGNORE INTO deliveries (channel_id, paper_id, state, why, topic_id, created_at)
                       VALUES (?, ?, 'pending', ?, NULL, ?)""", (channel_id, paper_id, why, to_db(at)))
                if added.rowcount == 1:
                    fresh.append(paper_id)
            await conn.execute("UPDATE channels SET last_picks_at = ? WHERE id = ?", (to_db(at), channel_id))
            if not fresh:
                await conn.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))
                return False
            await conn.execute("UPDATE outbox SET paper_ids = ? WHERE id = ?", (json.dumps(fresh), entry_id))
            return True
