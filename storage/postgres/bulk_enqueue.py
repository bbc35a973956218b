"""Queue a whole poll's matches, for every channel at once, in one transaction (Postgres).

The poll asked the ledger beforehand which channels have each paper, so its rows are nearly always
all new: they are copied in (COPY: no conflict arbitration, rows written a page at a time, about
half the server's work of INSERT ... ON CONFLICT, and streamed: the server inserts while the rest
is made here) under a savepoint. A row already there (another process queued it meanwhile) undoes
the copy, and every part is then queued with ON CONFLICT DO NOTHING, as before: the same rows either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

import asyncpg

from bot.delivery.planning import Planned, flood_room, flood_since, plan_posts
from storage.sqlite.bulk_enqueue import Matches, chunks, ledger_rows, new_by_channel
from storage.postgres.connection import Queries
from storage.postgres.outbox import _topic_mentions

_LEDGER_COLUMNS = ["channel_id", "paper_id", "state", "why", "topic_id", "created_at"]
_OUTBOX_COLUMNS = ["channel_id", "kind", "tag", "paper_ids", "title", "target_ref", "mention", "state", "created_at"]


class BulkEnqueueQueries(Queries):
    """`enqueue_matches`: a poll's matches for every channel, queued with a few statements."""

    async def enqueue_matches(self, posts: Matches, queued: Matches, *, at: datetime,
                              max_per_hour: int) -> dict[int, list[str]]:
        """Queue *posts* (channels that post each match) and *queued* (channels waiting for their digest).

        Returns each channel's paper ids that were new, in order: `enqueue_posts` for each channel
        of *posts*, `enqueue` (``queued``) for each match of *queued*, all in one transaction.
        """
        new: dict[int, list[str]] = {}
        if not posts and not queued:
            return new
        async with self._transaction() as conn:
            # The channels' row locks, in id order (no deadlock between two pollers): two processes
            # queueing for one channel count its flood in turn, and nothing gets between a post and its thread.
            locked = await conn.fetch("SELECT id, threads FROM channels WHERE id = ANY($1::bigint[]) ORDER BY id "
                                      "FOR UPDATE", sorted(posts))
            plan = _Planner(await _rooms(conn, list(posts), at, max_per_hour), {r[0] for r in locked if r[1]},
                            await _topic_mentions(conn, sorted({t for found in posts.values()
                                                                for _, _, t in found if t is not None})))
            del locked
            parts = chunks(posts, queued)
            try:
                async with conn.transaction():  # a savepoint
                    return await _copy_in(conn, parts, plan, at)
            except asyncpg.UniqueViolationError:
                pass  # a row is there already: the copy is undone, and every part queued row by row
            for part_posts, part_queued in parts:
                rows = ledger_rows(part_posts, part_queued)
                part_new = new_by_channel(rows, await _insert_ledger(conn, rows, at))
                if entries := plan(part_posts, part_new):
                    await _insert_entries(conn, entries, at)
                new.update((c, list(papers)) for c, papers in part_new.items())
        return new


class _Planner:
    """Plans the posts of a part's new papers from what was read once for every channel that posts."""

    def __init__(self, rooms: dict[int, int], threads: set[int], mentions: dict[int, str]) -> None:
        self.rooms, self.threads, self.mentions = rooms, threads, mentions

    def __call__(self, part_posts: Matches, new: Mapping[int, Mapping[str, int | None]]) -> list[Planned]:
        entries: list[Planned] = []
        for c, papers in new.items():
            if c in part_posts:
                entries += plan_posts(c, papers, room=self.rooms[c], threads=c in self.threads,
                                      mentions=self.mentions)
        return entries


async def _copy_in(conn: asyncpg.Connection, parts: list[tuple[Matches, Matches]], plan: _Planner,
                   at: datetime) -> dict[int, list[str]]:
    """Copy every part's ledger rows in, then the posts planned as if every row were new; return the new papers.

    Each part's rows are made, and its posts planned, while the server takes the rows sent before
    (a copy streams: the server inserts one chunk while the next is made here); then the posts
    stream in the same way, in their order (ids follow it, so a post's thread comes right after it).
    """
    new: dict[int, list[str]] = {}
    entries: list[Planned] = []

    def ledger() -> Iterator[tuple]:
        for part_posts, part_queued in parts:
            rows = ledger_rows(part_posts, part_queued)
            part_new = new_by_channel(rows, None)  # all new, or the copy fails
            entries.extend(plan(part_posts, part_new))
            new.update((c, list(papers)) for c, papers in part_new.items())
            yield from ((*r, at) for r in rows)

    await conn.copy_records_to_table("deliveries", records=ledger(), columns=_LEDGER_COLUMNS)
    if entries:
        await conn.copy_records_to_table("outbox", records=((*e, "pending", at) for e in entries),
                                         columns=_OUTBOX_COLUMNS)
    return new


async def _insert_ledger(conn: asyncpg.Connection, rows: list[tuple], at: datetime) -> set[tuple[int, str]]:
    """Insert the ledger *rows*; return the (channel, paper) of those that were new."""
    if not rows:
        return set()
    inserted = await conn.fetch(
        """INSERT INTO deliveries (channel_id, paper_id, state, why, topic_id, created_at)
           SELECT m.channel_id, m.paper_id, m.state, m.why, m.topic_id, $6
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[])
                AS m (channel_id, paper_id, state, why, topic_id)
           ON CONFLICT (channel_id, paper_id) DO NOTHING RETURNING channel_id, paper_id""",
        *(list(c) for c in zip(*rows)), at)
    return {(r[0], r[1]) for r in inserted}


async def _rooms(conn: asyncpg.Connection, channels: list[int], at: datetime, max_per_hour: int) -> dict[int, int]:
    """How many single posts each of *channels* may get now: its flood limit, counted in one read."""
    recent = {r[0]: r[1] for r in await conn.fetch(
        """SELECT channel_id, count(*) FROM outbox WHERE kind = 'paper' AND created_at > $1
             AND channel_id = ANY($2::bigint[]) GROUP BY channel_id""", flood_since(at), channels)}
    return {c: flood_room(max_per_hour, recent.get(c, 0)) for c in channels}


async def _insert_entries(conn: asyncpg.Connection, entries: list[Planned], at: datetime) -> None:
    """Insert the outbox *entries* in their order (ids follow it: a post's thread comes right after it)."""
    columns = list(zip(*entries))
    await conn.execute(
        """INSERT INTO outbox (channel_id, kind, tag, paper_ids, title, target_ref, state, created_at, mention)
           SELECT e.channel_id, e.kind, e.tag, string_to_array(e.paper_ids, ' '),
                  e.title, e.target_ref, 'pending', $8, e.mention
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                WITH ORDINALITY AS e (channel_id, kind, tag, paper_ids, title, target_ref, mention, n)
           ORDER BY e.n
           ON CONFLICT (channel_id, tag) DO NOTHING""",
        # Paper ids (2403.12345, hep-th/9901001) have no spaces: one string each, split by the server.
        list(columns[0]), list(columns[1]), list(columns[2]), [" ".join(p) for p in columns[3]],
        list(columns[4]), list(columns[5]), list(columns[6]), at)
