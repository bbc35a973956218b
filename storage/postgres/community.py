"""Reading lists (each person's saved papers) and 👍 votes per channel, and a channel's leaderboard."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.model.rows import RankedPaper, Reader, SavedPaper
from storage.postgres.connection import Queries, affected

VOTE_CLASS = 0x7062766f  # "pbvo": first key of the lock a toggle of one paper's votes in a channel takes

# A paper is the channel's from when it first came there: posted, or 👍 or saved from there.
_LEADERBOARD = """
    SELECT paper_id, votes, saves FROM (
        SELECT c.paper_id,
               (SELECT count(*) FROM votes v WHERE v.channel_id = $1 AND v.paper_id = c.paper_id) AS votes,
               (SELECT count(*) FROM saves s WHERE s.channel_id = $1 AND s.paper_id = c.paper_id) AS saves
        FROM (SELECT paper_id, min(at) AS arrived FROM (
                  SELECT paper_id, sent_at AS at FROM deliveries WHERE channel_id = $1 AND state = 'sent'
                  UNION ALL SELECT paper_id, voted_at FROM votes WHERE channel_id = $1
                  UNION ALL SELECT paper_id, saved_at FROM saves WHERE channel_id = $1) came
              GROUP BY paper_id) c
        WHERE c.arrived >= $2) ranked
    WHERE votes > 0 OR saves > 0
    ORDER BY votes DESC, saves DESC, paper_id
    LIMIT $3
"""


class CommunityQueries(Queries):
    """Save and unsave papers on a `Reader`'s list, toggle and count votes, rank a channel's papers."""

    async def save_paper(self, reader: Reader, paper_id: str, *, channel_id: int | None, at: datetime) -> bool:
        """Put *paper_id* on *reader*'s list; False when it was there already (its first save is kept)."""
        status = await self._execute(
            """INSERT INTO saves (platform, workspace, user_id, paper_id, channel_id, saved_at)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
            reader.platform, reader.workspace, reader.user_id, paper_id, channel_id, at)
        return affected(status) == 1

    async def unsave_paper(self, reader: Reader, paper_id: str) -> bool:
        """Take *paper_id* off *reader*'s list; False when it was not on it."""
        status = await self._execute(
            "DELETE FROM saves WHERE platform = $1 AND workspace = $2 AND user_id = $3 AND paper_id = $4",
            reader.platform, reader.workspace, reader.user_id, paper_id)
        return affected(status) == 1

    async def saved_papers(self, reader: Reader, *, limit: int, offset: int = 0) -> list[SavedPaper]:
        """Return *reader*'s list, newest first (ties: paper id), *limit* from *offset*."""
        rows = await self._fetch(
            """SELECT paper_id, saved_at, channel_id FROM saves
               WHERE platform = $1 AND workspace = $2 AND user_id = $3
               ORDER BY saved_at DESC, paper_id LIMIT $4 OFFSET $5""",
            reader.platform, reader.workspace, reader.user_id, limit, offset)
        return [SavedPaper(paper_id=r["paper_id"], saved_at=r["saved_at"], channel_id=r["channel_id"]) for r in rows]

    async def saved_count(self, reader: Reader) -> int:
        return await self._fetchval(
            "SELECT count(*) FROM saves WHERE platform = $1 AND workspace = $2 AND user_id = $3",
            reader.platform, reader.workspace, reader.user_id)

    async def toggle_vote(self, channel_id: int, paper_id: str, user_id: str, *, at: datetime) -> tuple[bool, int]:
        """Add *user_id*'s 👍 to *paper_id* in the channel, or take it back if there; return (voted now, count).

        One transaction, holding a lock on this paper's votes in the channel until it commits, so
        toggles from any number of processes take turns and each count returned is exact.
        """
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2::bigint::text || ':' || $3))",
                               VOTE_CLASS, channel_id, paper_id)
            inserted = await conn.fetchval(
                """INSERT INTO votes (channel_id, paper_id, user_id, voted_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT DO NOTHING RETURNING true""",
                channel_id, paper_id, user_id, at)
            voted = bool(inserted)
            if not voted:
                await conn.execute("DELETE FROM votes WHERE channel_id = $1 AND paper_id = $2 AND user_id = $3",
                                   channel_id, paper_id, user_id)
            count = await conn.fetchval("SELECT count(*) FROM votes WHERE channel_id = $1 AND paper_id = $2",
                                        channel_id, paper_id)
        return voted, count

    async def vote_counts(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        """Return the 👍 count of each of *paper_ids* in the channel (papers without votes are left out)."""
        if not paper_ids:
            return {}
        rows = await self._fetch(
            """SELECT paper_id, count(*) AS n FROM votes WHERE channel_id = $1 AND paper_id = ANY($2::text[])
               GROUP BY paper_id""",
            channel_id, list(paper_ids))
        return {r["paper_id"]: r["n"] for r in rows}

    async def vote_counts_many(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
        """`vote_counts` for many (channel id, paper id) pairs at once, in one read (pairs without votes left out)."""
        if not pairs:
            return {}
        rows = await self._fetch(
            """SELECT v.channel_id, v.paper_id, count(*) AS n FROM votes v
               JOIN (SELECT DISTINCT * FROM unnest($1::bigint[], $2::text[]) AS p (channel_id, paper_id)) AS p
                 ON v.channel_id = p.channel_id AND v.paper_id = p.paper_id
               GROUP BY v.channel_id, v.paper_id""",
            [c for c, _ in pairs], [p for _, p in pairs])
        return {(r["channel_id"], r["paper_id"]): r["n"] for r in rows}

    async def leaderboard(self, channel_id: int, *, since: datetime, limit: int) -> list[RankedPaper]:
        """The channel's papers that came there (posted, 👍, saved) since *since*, by 👍, then saves, then id."""
        rows = await self._fetch(_LEADERBOARD, channel_id, since, limit)
        return [RankedPaper(paper_id=r["paper_id"], votes=r["votes"], saves=r["saves"]) for r in rows]
