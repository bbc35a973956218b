"""Reading lists (each person's saved papers) and 👍 votes per channel, and a channel's leaderboard."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.model.rows import RankedPaper, Reader, SavedPaper
from storage.sqlite.db import Queries, from_db, to_db

# A paper is the channel's from when it first came there: posted, or 👍 or saved from there.
_LEADERBOARD = """
    SELECT paper_id, votes, saves FROM (
        SELECT c.paper_id,
               (SELECT count(*) FROM votes v WHERE v.channel_id = ?1 AND v.paper_id = c.paper_id) AS votes,
               (SELECT count(*) FROM saves s WHERE s.channel_id = ?1 AND s.paper_id = c.paper_id) AS saves
        FROM (SELECT paper_id, min(at) AS arrived FROM (
                  SELECT paper_id, sent_at AS at FROM deliveries WHERE channel_id = ?1 AND state = 'sent'
                  UNION ALL SELECT paper_id, voted_at FROM votes WHERE channel_id = ?1
                  UNION ALL SELECT paper_id, saved_at FROM saves WHERE channel_id = ?1) came
              GROUP BY paper_id) c
        WHERE c.arrived >= ?2)
    WHERE votes > 0 OR saves > 0
    ORDER BY votes DESC, saves DESC, paper_id
    LIMIT ?3
"""


class CommunityQueries(Queries):
    """Save and unsave papers on a `Reader`'s list, toggle and count votes, rank a channel's papers."""

    async def save_paper(self, reader: Reader, paper_id: str, *, channel_id: int | None, at: datetime) -> bool:
        """Put *paper_id* on *reader*'s list; False when it was there already (its first save is kept)."""
        saved_at = to_db(at)
        async with self._transaction() as conn:
            cursor = await conn.execute(
                """INSERT OR IGNORE INTO saves (platform, workspace, user_id, paper_id, channel_id, saved_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (reader.platform, reader.workspace, reader.user_id, paper_id, channel_id, saved_at),
            )
            return cursor.rowcount == 1

    async def unsave_paper(self, reader: Reader, paper_id: str) -> bool:
        """Take *paper_id* off *reader*'s list; False when it was not on it."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM saves WHERE platform = ? AND workspace = ? AND user_id = ? AND paper_id = ?",
                (reader.platform, reader.workspace, reader.user_id, paper_id),
            )
            return cursor.rowcount == 1

    async def saved_papers(self, reader: Reader, *, limit: int, offset: int = 0) -> list[SavedPaper]:
        """Return *reader*'s list, newest first (ties: paper id), *limit* from *offset*."""
        rows = await self._fetchall(
            """SELECT paper_id, saved_at, channel_id FROM saves
               WHERE platform = ? AND workspace = ? AND user_id = ?
               ORDER BY saved_at DESC, paper_id LIMIT ? OFFSET ?""",
            (reader.platform, reader.workspace, reader.user_id, limit, offset),
        )
        return [SavedPaper(paper_id=r["paper_id"], saved_at=from_db(r["saved_at"]), channel_id=r["channel_id"])
                for r in rows]

    async def saved_count(self, reader: Reader) -> int:
        row = await self._fetchone(
            "SELECT count(*) AS n FROM saves WHERE platform = ? AND workspace = ? AND user_id = ?",
            (reader.platform, reader.workspace, reader.user_id),
        )
        return row["n"] if row else 0

    async def toggle_vote(self, channel_id: int, paper_id: str, user_id: str, *, at: datetime) -> tuple[bool, int]:
        """Add *user_id*'s 👍 to *paper_id* in the channel, or take it back if there; return (voted now, count)."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM votes WHERE channel_id = ? AND paper_id = ? AND user_id = ?",
                (channel_id, paper_id, user_id),
            )
            voted = cursor.rowcount == 0
            if voted:
                await conn.execute(
                    "INSERT INTO votes (channel_id, paper_id, user_id, voted_at) VALUES (?, ?, ?, ?)",
                    (channel_id, paper_id, user_id, to_db(at)),
                )
            rows = await conn.execute_fetchall(
                "SELECT count(*) FROM votes WHERE channel_id = ? AND paper_id = ?", (channel_id, paper_id))
            return voted, rows[0][0]

    async def vote_counts(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        """Return the 👍 count of each of *paper_ids* in the channel (papers without votes are left out)."""
        if not paper_ids:
            return {}
        rows = await self._fetchall(
            """SELECT paper_id, count(*) AS n FROM votes
               WHERE channel_id = ? AND paper_id IN (SELECT value FROM json_each(?))
               GROUP BY paper_id""",
            (channel_id, json.dumps(list(paper_ids))),
        )
        return {r["paper_id"]: r["n"] for r in rows}

    async def vote_counts_many(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
        """`vote_counts` for many (channel id, paper id) pairs at once, in one read (pairs without votes left out)."""
        if not pairs:
            return {}
        rows = await self._fetchall(
            """SELECT v.channel_id, v.paper_id, count(*) AS n FROM votes v
               JOIN (SELECT DISTINCT json_extract(value, '$[0]') AS channel_id, json_extract(value, '$[1]') AS paper_id
                     FROM json_each(?)) AS p ON v.channel_id = p.channel_id AND v.paper_id = p.paper_id
               GROUP BY v.channel_id, v.paper_id""",
            (json.dumps([list(pair) for pair in pairs]),),
        )
        return {(r["channel_id"], r["paper_id"]): r["n"] for r in rows}

    async def leaderboard(self, channel_id: int, *, since: datetime, limit: int) -> list[RankedPaper]:
        """The channel's papers that came there (posted, 👍, saved) since *since*, by 👍, then saves, then id."""
        rows = await self._fetchall(_LEADERBOARD, (channel_id, to_db(since), limit))
        return [RankedPaper(paper_id=r["paper_id"], votes=r["votes"], saves=r["saves"]) for r in rows]
