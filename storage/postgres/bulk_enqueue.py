"""Queue a whole poll's matches, for every channel at once, in one transaction (Postgres)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import asyncpg

from bot.delivery.planning import Planned, flood_room, flood_since, plan_posts
from storage.sqlite.bulk_enqueue import Matches, chunks, ledger_rows, new_by_channel
from storage.postgres.connection import Queries
from storage.postgres.outbox import _topic_mentions


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
            threads = {r[0] for r in locked if r[1]}
            del locked
            rooms = await _rooms(conn, list(posts), at, max_per_hour)
            topics = sorted({t for found in posts.values() for _, _, t in found if t is not None})
            mentions = await _topic_mentions(conn, topics)
            parts = chunks(posts, queued)
            following = ledger_rows(*parts[0])
            for n, (part_posts, _) in enumerate(parts):
                rows = following
                # The server inserts this part's ledger rows while the next part's are made here.
                inserting = asyncio.ensure_future(_insert_ledger(conn, rows, at))
                await asyncio.sleep(0)  # let it go out first
                following = ledger_rows(*parts[n + 1]) if n + 1 < len(parts) else []
                part_new = new_by_channel(rows, await inserting)
                entries: list[Planned] = []
                for c in part_new:
                    if c in part_posts:
                        entries += plan_posts(c, part_new[c], room=rooms[c], threads=c in threads, mentions=mentions)
                if entries:
                    await _insert_entries(conn, entries, at)
                new.update((c, list(papers)) for c, papers in part_new.items())
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
