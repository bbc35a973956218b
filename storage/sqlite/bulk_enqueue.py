"""Queue a whole poll's matches, for every channel at once, in one transaction.

The poll finds thousands of channels' matches at a time: a statement per channel (or per
paper) costs more than everything else in the poll. This does what `enqueue_posts` and
`enqueue` do for one channel, with a handful of statements for all of them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.delivery.planning import Planned, flood_room, flood_since, plan_posts
from storage.sqlite.db import Queries, to_db
from storage.sqlite.outbox import _topic_mentions

CHUNK = 1000
"""Channels queued per statement: bounds the memory a poll of many thousands of channels takes at once."""
Matches = Mapping[int, Sequence[tuple[str, "str | None", "int | None"]]]
"""Channel id -> its (paper id, why, topic id) matches, in order."""


def ledger_rows(posts: Matches, queued: Matches) -> list[tuple[int, str, str, str | None, int | None]]:
    """The (channel, paper, state, why, topic) ledger rows to insert: each pair once, its first match kept."""
    rows: dict[tuple[int, str], tuple[int, str, str, str | None, int | None]] = {}
    for state, matches in (("pending", posts), ("queued", queued)):
        for channel_id, found in matches.items():
            for paper_id, why, topic_id in found:
                rows.setdefault((channel_id, paper_id), (channel_id, paper_id, state, why, topic_id))
    return list(rows.values())


def new_by_channel(rows: list[tuple], inserted: set[tuple[int, str]] | None) -> dict[int, dict[str, int | None]]:
    """Channel id -> {paper id: topic id} of the ledger *rows* that were *inserted* (None: all), in their order."""
    new: dict[int, dict[str, int | None]] = {}
    for channel_id, paper_id, _, _, topic_id in rows:
        if inserted is None or (channel_id, paper_id) in inserted:
            new.setdefault(channel_id, {})[paper_id] = topic_id
    return new


def chunks(posts: Matches, queued: Matches) -> list[tuple[Matches, Matches]]:
    """*posts* and *queued* in parts of at most `CHUNK` channels: what one part needs is freed before the next."""
    channels = [*posts, *queued]
    parts = []
    for start in range(0, len(channels), CHUNK):
        part = channels[start:start + CHUNK]
        parts.append(({c: posts[c] for c in part if c in posts}, {c: queued[c] for c in part if c in queued}))
    return parts


class BulkEnqueueQueries(Queries):
    """`enqueue_matches`: a poll's matches for every channel, queued with a few statements."""

    async def enqueue_matches(self, posts: Matches, queued: Matches, *, at: datetime,
                              max_per_hour: int) -> dict[int, list[str]]:
        """Queue *posts* (channels that post each match) and *queued* (channels waiting for their digest).

        Returns each channel's paper ids that were new, in order. For a channel of *posts* it
        is exactly `enqueue_posts`; for one of *queued*, `enqueue` with ``state="queued"`` for
        each match. All of it is one transaction, a few statements per thousand channels.
        """
        if not posts and not queued:
            return {}
        async with self._transaction() as conn:
            return await _Pipeline(conn, await _Context.read(conn, posts, at), at, max_per_hour).run(
                chunks(posts, queued))


@dataclass(slots=True)
class _Context:
    """What planning the posts needs besides the new papers, read once for every channel that posts."""

    recent: dict[int, int]
    """Each channel's single posts within the flood window, before this poll's."""
    threads: set[int]
    mentions: dict[int, str]

    @classmethod
    async def read(cls, conn: aiosqlite.Connection, posts: Matches, at: datetime) -> _Context:
        ids = json.dumps(list(posts))
        recent = dict(await conn.execute_fetchall(
            """SELECT channel_id, count(*) FROM outbox WHERE kind = 'paper' AND created_at > ?
                 AND channel_id IN (SELECT value FROM json_each(?)) GROUP BY channel_id""",
            (to_db(flood_since(at)), ids)))
        threads = {r[0] for r in await conn.execute_fetchall(
            "SELECT id FROM channels WHERE threads AND id IN (SELECT value FROM json_each(?))", (ids,))}
        topics = sorted({t for found in posts.values() for _, _, t in found if t is not None})
        return cls(recent, threads, await _topic_mentions(conn, topics))


class _Pipeline:
    """The parts' statements on the database's thread, each part planned here while the next one is inserted.

    A part's posts depend on which of its ledger rows were new, so its outbox rows follow its ledger
    insert; the next part's ledger insert is sent first, so the two threads work at once.
    """

    def __init__(self, conn: aiosqlite.Connection, context: _Context, at: datetime, max_per_hour: int) -> None:
        self.conn, self.context, self.max_per_hour = conn, context, max_per_hour
        self.created = to_db(at)
        self.sent: list[asyncio.Future] = []

    async def run(self, parts: list[tuple[Matches, Matches]]) -> dict[int, list[str]]:
        new: dict[int, list[str]] = {}
        try:
            inserting = None
            for part in [*parts, None]:
                following = self._insert_ledger(part) if part is not None else None
                if inserting is not None:
                    new.update(await self._queue_posts(*inserting))
                inserting = following
            await asyncio.gather(*self.sent)
        finally:
            await asyncio.gather(*self.sent, return_exceptions=True)  # nothing outlives the transaction
        return new

    def _insert_ledger(self, part: tuple[Matches, Matches]):
        rows = ledger_rows(*part)
        return (self._send(self._inserted(rows)) if rows else None), rows, part[0]

    async def _inserted(self, rows: list[tuple]) -> set[tuple[int, str]] | None:
        """Insert the ledger *rows*; return the (channel, paper) pairs that were new, or None if all were.

        The poll asked the ledger which channels have each paper already, so nearly always all are:
        the rows' count says so, and nothing comes back. Else the new rows are the last ids given,
        one more than the largest each, in a row (SQLite's rowids, the ledger's lock held).
        """
        async with self.conn.execute(
            """INSERT OR IGNORE INTO deliveries (channel_id, paper_id, state, why, topic_id, created_at)
               SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, ?
               FROM json_each(?) ORDER BY key""",
            (self.created, _compact(rows)),
        ) as cursor:
            count, last = cursor.rowcount, cursor.lastrowid
        if count == len(rows):
            return None
        found = await self.conn.execute_fetchall(
            "SELECT channel_id, paper_id FROM deliveries WHERE id > ? AND id <= ?", (last - count, last)
        ) if count else []
        return {(r[0], r[1]) for r in found}

    async def _queue_posts(self, inserting, rows, posts: Matches) -> dict[int, list[str]]:
        if inserting is None:
            return {}
        new = new_by_channel(rows, await inserting)
        entries: list[Planned] = []
        for c in new:
            if c in posts:  # rows in order: ids follow it, so a post's thread comes right after it
                entries += plan_posts(c, new[c], room=flood_room(self.max_per_hour, self.context.recent.get(c, 0)),
                                      threads=c in self.context.threads, mentions=self.context.mentions)
        if entries:
            self._send(self.conn.execute(
                """INSERT OR IGNORE INTO outbox (channel_id, kind, tag, paper_ids, title, target_ref, state,
                                                 created_at, mention)
                   SELECT value ->> 0, value ->> 1, value ->> 2, value -> 3, value ->> 4, value ->> 5, 'pending',
                          ?, value ->> 6
                   FROM json_each(?) ORDER BY key""",
                (self.created, _compact(entries))))
        return {channel_id: list(papers) for channel_id, papers in new.items()}

    def _send(self, statement) -> asyncio.Future:
        sent = asyncio.ensure_future(statement)
        self.sent.append(sent)
        return sent


def _compact(rows: list) -> str:
    """*rows* as the JSON array the insert reads, without the spaces (a tenth of tens of thousands of rows)."""
    return json.dumps(rows, separators=(",", ":"))
