"""The outbox: messages owed to channels, each moving pending -> sending -> sent (or dead)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import asyncpg

from bot.delivery.planning import (REFRESHED_KINDS, flood_room, flood_since, plan_posts, refresh_plan, single_topics,
                          thread_tag)
from bot.model.rows import OutboxEntry, PostedCard, Settlement
from bot.ports.store import OUTBOX_STATES
from storage.postgres.connection import Queries, affected

_COLUMNS = ("id, channel_id, kind, tag, paper_ids, state, title, target_ref, attempts, next_attempt_at, "
            "last_error, message_ref, created_at, sent_at, mention, claimed_at")
_COLUMNS_OF_O = ", ".join(f"o.{c.strip()}" for c in _COLUMNS.split(","))
_INSERT = """
    INSERT INTO outbox (channel_id, kind, tag, paper_ids, title, target_ref, state, created_at, mention)
    VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8) ON CONFLICT (channel_id, tag) DO NOTHING
"""
CHANNEL_LEASE = 10.0
"""Seconds a store keeps a channel after its last claim there: longer than any wait between two
sends to one channel (Slack's second, Discord's five-in-five), so its next post stays its own."""
_COUNTS = """SELECT (SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')) AS unsettled,
                     (SELECT count(*) FROM outbox WHERE state = 'sending') AS sending,
                     (SELECT count(*) FROM outbox WHERE state = 'dead') AS dead"""
"""One statement, so one snapshot: pending is the unsettled rows less the sending ones."""
_DUE = "o.state = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= $1) AND c.paused_reason IS NULL"


def _entry(row: asyncpg.Record) -> OutboxEntry:
    values = dict(row)
    values["paper_ids"] = tuple(values["paper_ids"])
    return OutboxEntry(**values)


class OutboxQueries(Queries):
    """Queue posts atomically with the ledger, hand them to one sender, and record each attempt's outcome."""

    channel_lease: float = CHANNEL_LEASE
    owner: str = ""
    """Who claims entries: ``host:pid:key``, *key* naming this store's presence lock (see the store)."""

    async def enqueue_posts(self, channel_id: int, matches: Sequence[tuple[str, str | None, int | None]], *,
                            at: datetime, max_per_hour: int) -> list[str]:
        """Hand new (paper id, why, topic id) matches to the outbox; return the paper ids that were new.

        The posts are what `bot.delivery.planning.plan_posts` plans from the facts read under the channel's
        lock (single posts of the last hour, ``threads``, the topics' ``notify`` groups), stored in
        its order. All of it is one transaction.
        """
        first = {paper_id: (why, topic_id) for paper_id, why, topic_id in reversed(matches)}
        order = list(dict.fromkeys(m[0] for m in matches))
        if not order:
            return []
        async with self._transaction() as conn:
            # The channel's row lock: two processes enqueueing for one channel count the flood in turn.
            threads = await _lock_channel(conn, channel_id)
            inserted = await conn.fetch(
                """INSERT INTO deliveries (channel_id, paper_id, state, why, topic_id, created_at)
                   SELECT $1, m.paper_id, 'pending', m.why, m.topic_id, $5
                   FROM unnest($2::text[], $3::text[], $4::bigint[]) AS m (paper_id, why, topic_id)
                   ON CONFLICT (channel_id, paper_id) DO NOTHING RETURNING paper_id""",
                channel_id, order, [first[p][0] for p in order], [first[p][1] for p in order], at)
            fresh = {r[0] for r in inserted}
            new = [p for p in order if p in fresh]
            if new:
                topics = {p: first[p][1] for p in new}
                await self._queue_posts(conn, channel_id, topics, at=at, max_per_hour=max_per_hour, threads=threads)
        return new

    async def _queue_posts(self, conn: asyncpg.Connection, channel_id: int, new: dict[str, int | None], *,
                           at: datetime, max_per_hour: int, threads: bool) -> None:
        """Queue the posts `bot.delivery.planning` plans for *new* (paper id -> topic id, in order)."""
        recent = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE channel_id = $1 AND kind = 'paper' AND created_at > $2",
            channel_id, flood_since(at))
        room = flood_room(max_per_hour, recent)
        mentions = await _topic_mentions(conn, single_topics(new, room))
        planned = plan_posts(channel_id, new, room=room, threads=threads, mentions=mentions)
        # In order: the next id is the thread's, and the channel's lock keeps every other insert out from between.
        await conn.executemany(_INSERT, [(*e[:3], list(e.paper_ids), e.title, e.target_ref, at, e.mention)
                                         for e in planned])

    async def enqueue_post(self, channel_id: int, *, kind: str, tag: str, paper_ids: Sequence[str],
                           title: str | None = None, at: datetime) -> bool:
        """Queue one message of *kind* (``leaderboard``) showing *paper_ids*; False when *tag* is there already."""
        async with self._transaction() as conn:
            await _lock_channel(conn, channel_id)
            status = await conn.execute(_INSERT, channel_id, kind, tag, list(paper_ids), title, None, at, None)
        return affected(status) == 1

    async def enqueue_refresh(self, channel_id: int, *, target_ref: str, at: datetime) -> bool:
        """Queue an edit of the sent post *target_ref* showing its papers again, with its paper ids and title.

        False when the channel has no such post (`REFRESHED_KINDS`), or an edit of it is pending
        already. The channel's row lock makes two processes refreshing one post take turns, so
        the second finds the first's edit pending and the tags (counting the post's edits so
        far) never collide.
        """
        async with self._transaction() as conn:
            await _lock_channel(conn, channel_id)
            post = await conn.fetchrow(
                """SELECT paper_ids, title, mention FROM outbox
                   WHERE channel_id = $1 AND message_ref = $2 AND state = 'sent' AND kind = ANY($3::text[])
                   ORDER BY id LIMIT 1""",
                channel_id, target_ref, list(REFRESHED_KINDS))
            if post is None:
                return False
            edits = await conn.fetchrow(
                """SELECT count(*) AS queued, count(*) FILTER (WHERE state = 'pending') AS pending FROM outbox
                   WHERE channel_id = $1 AND kind = 'update' AND target_ref = $2""",
                channel_id, target_ref)
            tag = refresh_plan(target_ref, queued=edits["queued"], pending=edits["pending"])
            if tag is None:
                return False
            status = await conn.execute(_INSERT, channel_id, "update", tag, post["paper_ids"], post["title"],
                                        target_ref, at, post["mention"])
        return affected(status) == 1

    async def enqueue_digest(self, channel_id: int, *, tag: str, title: str, top: Sequence[str],
                             skipped: Sequence[str], at: datetime) -> bool:
        """Queue a digest of *top*, mark *skipped* as left out, stamp the channel's last digest; False if *tag* was queued."""
        async with self._transaction() as conn:
            await _lock_channel(conn, channel_id)
            status = await conn.execute(_INSERT, channel_id, "digest", tag, list(top), title, None, at, None)
            if affected(status) != 1:
                return False
            for state, ids in (("pending", top), ("skipped", skipped)):
                await conn.execute(
                    """UPDATE deliveries SET state = $3
                       WHERE channel_id = $1 AND state = 'queued' AND paper_id = ANY($2::text[])""",
                    channel_id, list(ids), state)
            await conn.execute("UPDATE channels SET last_digest_at = $2 WHERE id = $1", channel_id, at)
        return True

    async def enqueue_update(self, channel_id: int, paper_id: str, *, target_ref: str, tag: str,
                             at: datetime) -> bool:
        async with self._transaction() as conn:
            await _lock_channel(conn, channel_id)
            # The edit keeps the post's one mention in its text (it pings nobody again: edits never do).
            mention = await conn.fetchval(
                "SELECT mention FROM outbox WHERE channel_id = $1 AND message_ref = $2 AND kind = 'paper' LIMIT 1",
                channel_id, target_ref)
            status = await conn.execute(_INSERT, channel_id, "update", tag, [paper_id], None, target_ref, at, mention)
        return affected(status) == 1

    async def due_outbox(self, *, now: datetime, channel_id: int | None = None, limit: int = 5000,
                         platforms: Sequence[str] | None = None,
                         per_channel: int | None = None) -> list[OutboxEntry]:
        """Return pending entries that are due, for channels that are not paused; oldest first.

        An entry waits while an older one of its channel waits (for its retry time, or to be
        settled after a crash), so a channel's posts never overtake each other. *platforms*
        keeps to those platforms' channels; *per_channel* returns at most that many of each channel.
        """
        rows = await self._fetch(
            f"""SELECT {_COLUMNS} FROM (
                    SELECT {_COLUMNS_OF_O}, row_number() OVER (PARTITION BY o.channel_id ORDER BY o.id) AS nth
                    FROM outbox o JOIN channels c ON c.id = o.channel_id
                    WHERE {_DUE} AND ($2::bigint IS NULL OR o.channel_id = $2)
                      AND ($4::text[] IS NULL OR c.platform = ANY($4::text[]))
                      AND NOT EXISTS (
                          SELECT 1 FROM outbox e WHERE e.channel_id = o.channel_id AND e.id < o.id
                            AND (e.state = 'sending' OR (e.state = 'pending' AND e.next_attempt_at > $1)))) AS due
                WHERE $5::int IS NULL OR nth <= $5 ORDER BY id LIMIT $3""",
            now, channel_id, limit, None if platforms is None else list(platforms), per_channel)
        return [_entry(r) for r in rows]

    async def outbox_in_state(self, state: str, *, channel_id: int | None = None) -> list[OutboxEntry]:
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM outbox WHERE state = $1 AND ($2::bigint IS NULL OR channel_id = $2) ORDER BY id",
            state, channel_id)
        return [_entry(r) for r in rows]

    async def outbox_entry(self, entry_id: int) -> OutboxEntry | None:
        rows = await self._fetch(f"SELECT {_COLUMNS} FROM outbox WHERE id = $1", entry_id)
        return _entry(rows[0]) if rows else None

    async def next_outbox_retry(self, *, now: datetime) -> datetime | None:
        return await self._fetchval(
            """SELECT min(o.next_attempt_at) FROM outbox o JOIN channels c ON c.id = o.channel_id
               WHERE o.state = 'pending' AND o.next_attempt_at > $1 AND c.paused_reason IS NULL""", now)

    async def claim_outbox(self, entry_id: int) -> bool:
        """Move *entry_id* from pending to sending for this store; False when another sender has it."""
        return entry_id in await self.claim_outbox_many([entry_id])

    async def claim_outbox_many(self, entry_ids: Sequence[int]) -> set[int]:
        """Claim each of *entry_ids* that is pending and its channel's oldest unsettled entry; return those.

        A channel is delivered by one store at a time: each claim takes or renews the channel's
        lease (`channel_lease` seconds), and a channel another store holds is left to it. SKIP
        LOCKED: a claim racing another process's claim (or its retry write) loses at once
        rather than waiting. The oldest-unsettled rule is checked against committed rows: an
        older entry can only leave pending or sending for good (sent, dead), so a newer one is
        never claimed while an older one may still go out.
        """
        if not entry_ids:
            return set()
        async with self._transaction() as conn:
            rows = await conn.fetch(
                """WITH wanted AS (
                       SELECT id, channel_id FROM outbox WHERE id = ANY($1::bigint[]) AND state = 'pending'
                       FOR UPDATE SKIP LOCKED),
                   ours AS (  -- the channels this store may send to: their lease is free, run out, or ours
                       INSERT INTO channel_senders (channel_id, owner, until)
                       SELECT DISTINCT channel_id, $2, now() + make_interval(secs => $3) FROM wanted
                       ON CONFLICT (channel_id) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
                           WHERE channel_senders.owner = EXCLUDED.owner OR channel_senders.until < now()
                       RETURNING channel_id)
                   UPDATE outbox o SET state = 'sending', claimed_by = $2, claimed_at = now()
                   FROM wanted w
                   WHERE o.id = w.id AND w.channel_id IN (SELECT channel_id FROM ours)
                     AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.channel_id = o.channel_id AND e.id < o.id
                                       AND e.state IN ('pending', 'sending'))
                   RETURNING o.id""", list(entry_ids), self.owner, self.channel_lease)
        return {r[0] for r in rows}

    async def release_channels(self) -> None:
        """Let go of the channels this store was delivering (on a clean stop), so others need not wait."""
        await self._execute("DELETE FROM channel_senders WHERE owner = $1", self.owner)

    async def mark_outbox_sent(self, entry_id: int, *, message_ref: str | None, at: datetime,
                               posted_states: Mapping[str, str] | None = None) -> None:
        """Record *entry_id* as sent, and its papers' ledger rows with it (with what a single post showed).

        A single post's ``thread`` entry gets *message_ref* as its target: the post its thread opens on.
        """
        await self.mark_outbox_sent_many([Settlement(entry_id, message_ref, at, posted_states)])

    async def mark_outbox_sent_many(self, settlements: Sequence[Settlement]) -> None:
        """Record every one of *settlements* as sent, with its ledger rows, in one transaction."""
        if not settlements:
            return
        async with self._transaction() as conn:
            rows = await conn.fetch(
                """UPDATE outbox o SET state = 'sent', message_ref = s.ref, sent_at = s.at, next_attempt_at = NULL,
                       last_error = NULL
                   FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS s (id, ref, at)
                   WHERE o.id = s.id RETURNING o.id, o.channel_id, o.kind, o.paper_ids""",
                [s.entry_id for s in settlements], [s.message_ref for s in settlements],
                [s.at for s in settlements])
            by_id = {s.entry_id: s for s in settlements}
            channels, papers, ats, kinds, refs, posted = [], [], [], [], [], []
            for row in rows:
                settled = by_id[row["id"]]
                states = dict(settled.posted_states or {})
                for paper_id in row["paper_ids"]:
                    channels.append(row["channel_id"])
                    papers.append(paper_id)
                    ats.append(settled.at)
                    kinds.append(row["kind"] == "paper")
                    refs.append(settled.message_ref)
                    posted.append(states.get(paper_id))
            await conn.execute(
                """UPDATE deliveries d SET state = 'sent', sent_at = coalesce(d.sent_at, s.at),
                       message_ref = CASE WHEN s.single THEN s.ref ELSE d.message_ref END,
                       posted_state = coalesce(s.posted, d.posted_state)
                   FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::bool[], $5::text[], $6::text[])
                        AS s (channel_id, paper_id, at, single, ref, posted)
                   WHERE d.channel_id = s.channel_id AND d.paper_id = s.paper_id""",
                # an edit keeps the ledger pointing at the original message
                channels, papers, ats, kinds, refs, posted)
            threads = [(row["channel_id"], thread_tag(row["paper_ids"][0]), by_id[row["id"]].message_ref)
                       for row in rows if row["kind"] == "paper" and by_id[row["id"]].message_ref is not None]
            if threads:
                await conn.execute(
                    """UPDATE outbox o SET target_ref = t.ref
                       FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t (channel_id, tag, ref)
                       WHERE o.channel_id = t.channel_id AND o.tag = t.tag AND o.kind = 'thread'
                         AND o.target_ref IS NULL""",
                    *(list(column) for column in zip(*threads)))

    async def mark_outbox_retry(self, entry_id: int, *, error: str, retry_at: datetime,
                                count_attempt: bool = True) -> None:
        await self._execute(
            """UPDATE outbox SET state = 'pending', last_error = $2, next_attempt_at = $3,
               attempts = attempts + $4 WHERE id = $1""", entry_id, error, retry_at, 1 if count_attempt else 0)

    async def release_outbox(self, entry_id: int) -> None:
        await self._execute("UPDATE outbox SET state = 'pending', next_attempt_at = NULL WHERE id = $1", entry_id)

    async def mark_outbox_dead(self, entry_id: int, *, error: str) -> None:
        await self._execute("UPDATE outbox SET state = 'dead', last_error = $2, attempts = attempts + 1 WHERE id = $1",
                            entry_id, error)

    async def posted_cards(self, paper_ids: Sequence[str]) -> list[PostedCard]:
        rows = await self._fetch(
            """SELECT channel_id, paper_id, message_ref, posted_state FROM deliveries
               WHERE state = 'sent' AND message_ref IS NOT NULL AND posted_state IS NOT NULL
                 AND paper_id = ANY($1::text[]) ORDER BY id""", list(paper_ids))
        return [PostedCard(r["channel_id"], r["paper_id"], r["message_ref"], r["posted_state"]) for r in rows]

    async def outbox_unconfirmed(self) -> tuple[int, datetime | None]:
        row = await self._fetchrow("SELECT count(*) AS n, min(claimed_at) AS since FROM outbox WHERE state = 'sending'")
        return (row["n"], row["since"]) if row else (0, None)

    async def outbox_counts(self, channel_id: int | None = None, *,
                            states: Collection[str] = OUTBOX_STATES) -> dict[str, int]:
        if channel_id is not None:  # a channel's rows, through its (channel_id, tag) index
            rows = await self._fetch("SELECT state, count(*) AS n FROM outbox WHERE channel_id = $1 "
                                     "AND state = ANY($2::text[]) GROUP BY state", channel_id, list(states))
            return {r["state"]: r["n"] for r in rows}
        # Counting by state reads the whole table (sent rows are nearly all of it). The other states are
        # counted from the partial indexes that hold only them, without the table: outbox_unsettled
        # (pending and sending) and outbox_exceptions (sending, dead). Sent rows, when asked for, are
        # what the rest leaves of a count of every row, which reads the smallest index, not the rows.
        row = await self._fetchrow(_COUNTS + (", (SELECT count(*) FROM outbox) AS total" if "sent" in states else ""))
        assert row is not None
        counts = {"pending": row["unsettled"] - row["sending"], "sending": row["sending"], "dead": row["dead"]}
        if "sent" in states:
            counts["sent"] = row["total"] - row["unsettled"] - row["dead"]
        return {state: n for state, n in counts.items() if n and state in states}


async def _lock_channel(conn: asyncpg.Connection, channel_id: int) -> bool:
    """Take the channel's row lock until the transaction ends; return its ``threads`` setting.

    Every insert into a channel's outbox takes it first, so no other process's entry gets an
    id between a post and its thread, and checks before an insert (flood limit, a pending
    edit) see every earlier insert of the channel.
    """
    return bool(await conn.fetchval("SELECT threads FROM channels WHERE id = $1 FOR UPDATE", channel_id))


async def _topic_mentions(conn: asyncpg.Connection, topic_ids: Sequence[int | None]) -> dict[int, str]:
    """Return the ``notify`` group of each of *topic_ids* that has one."""
    wanted = [t for t in topic_ids if t is not None]
    if not wanted:
        return {}
    rows = await conn.fetch("SELECT id, notify FROM topics WHERE notify IS NOT NULL AND id = ANY($1::bigint[])",
                            wanted)
    return {row[0]: row[1] for row in rows}
