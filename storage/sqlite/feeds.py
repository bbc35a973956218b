"""Atom feeds' records (their URL's generation) and a channel's posts, newest first."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from bot.model.rows import FeedKey, PostedPaper
from storage.sqlite.db import Queries, from_db, to_db


def _key(row: sqlite3.Row) -> FeedKey:
    return FeedKey(id=row["id"], owner=row["owner"], generation=row["generation"])


class FeedQueries(Queries):
    """Find or make a feed's record, bump its generation (`feed reset`), read a channel's posts."""

    async def feed_key(self, owner: str, *, at: datetime) -> FeedKey:
        """Return *owner*'s feed record, made (generation 1) if it has none yet."""
        async with self._transaction() as conn:
            await conn.execute("INSERT OR IGNORE INTO feeds (owner, created_at) VALUES (?, ?)", (owner, to_db(at)))
            rows = await conn.execute_fetchall("SELECT id, owner, generation FROM feeds WHERE owner = ?", (owner,))
            return _key(rows[0])

    async def reset_feed_key(self, owner: str, *, at: datetime) -> FeedKey:
        """Bump *owner*'s feed generation (its old URL stops working); return the record."""
        async with self._transaction() as conn:
            await conn.execute(
                """INSERT INTO feeds (owner, created_at) VALUES (?, ?)
                   ON CONFLICT (owner) DO UPDATE SET generation = generation + 1""", (owner, to_db(at)))
            rows = await conn.execute_fetchall("SELECT id, owner, generation FROM feeds WHERE owner = ?", (owner,))
            return _key(rows[0])

    async def feed_key_by_id(self, feed_id: int) -> FeedKey | None:
        row = await self._fetchone("SELECT id, owner, generation FROM feeds WHERE id = ?", (feed_id,))
        return _key(row) if row else None

    async def posted_papers(self, channel_id: int, *, limit: int) -> list[PostedPaper]:
        """The papers sent to the channel, newest first (ties: paper id), with the matching topic's query."""
        rows = await self._fetchall(
            """SELECT d.paper_id, d.sent_at, d.why, t.query FROM deliveries d
               LEFT JOIN topics t ON t.id = d.topic_id
               WHERE d.channel_id = ? AND d.state = 'sent' AND d.sent_at IS NOT NULL
               ORDER BY d.sent_at DESC, d.paper_id LIMIT ?""", (channel_id, limit))
        return [PostedPaper(paper_id=r["paper_id"], sent_at=from_db(r["sent_at"]), why=r["why"], topic=r["query"])
                for r in rows]
