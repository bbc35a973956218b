"""The outbox: messages owed to channels, each moving pending -> sending -> sent (or dead)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping, Sequence
import os
import socket
from datetime import datetime, timezone

import aiosqlite

from storage.sqlite.db import Queries, from_db, to_db
from bot.delivery.planning import (REFRESHED_KINDS, flood_room, flood_since, plan_posts, refresh_plan, single_topics,
                          thread_tag)
from bot.model.rows import OutboxEntry, PostedCard, Settlement
from bot.ports.store import OUTBOX_STATES

OWNER = f"{socket.gethostname()}:{os.getpid()}"
"""Who claimed an entry, kept for the people reading the database after a crash."""

_COLUMNS = ("id, channel_id, kind, tag, paper_ids, state, title, target_ref, attempts, next_attempt_at, "
            "last_error, message_ref, created_at, sent_at, mention, claimed_at")
_COLUMNS_OF_O = ", ".join(f"o.{c.strip()}" for c in _COLUMNS.split(","))
# NOT INDEXED: the entries are found by their ids. Without it SQLite, which keeps no statistics, reads
# them through `outbox_by_state`: every pending entry, thousands in a burst, for each claim.
_CLAIM = """
    UPDATE outbox NOT INDEXED SET state = 'sending', claimed_by = ?, claimed_at = ?
    WHERE id IN (SELECT value FROM json_each(?)) AND state = 'pending'
      AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.channel_id = outbox.channel_id AND e.id < outbox.id
                        AND e.state IN ('pending', 'sending'))
    RETURNING id
"""
_INSERT = """
    INSERT OR IGNORE INTO outbox (channel_id, kind, tag, paper_ids, title, target_ref, state, created_at, mention)
    VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)
"""


def _entry(row: sqlite3.Row) -> OutboxEntry:
    # By position, in `_COLUMNS`' order (the fields' own): a round reads thousands, and by name costs twice as much.
    (entry_id, channel_id, kind, tag, paper_ids, state, title, target_ref, attempts, next_attempt_at, last_error,
     message_ref, created_at, sent_at, mention, claimed_at) = row[:16]
    return OutboxEntry(
        entry_id, channel_id, kind, tag, tuple(json.loads(paper_ids)), state, title, target_ref, attempts,
        from_db(next_attempt_at), last_error, message_ref, from_db(created_at), from_db(sent_at), mention,
        from_db(claimed_at),
    )


class OutboxQueries(Queries):
    """Queue posts atomically with the ledger, and record each attempt's outcome."""

    async def enqueue_posts(
        self,
        channel_id: int,
        matches: Sequence[tuple[str, str | None, int | None]],
        *,
        at: datetime,
        max_per_hour: int,
    ) -> list[str]:
        """Hand new (paper id, why, topic id) matches to the outbox; return the paper ids that were new.

        Papers the channel already has a ledger row for are ignored. The posts are what
        `bot.delivery.planning.plan_posts` plans from the facts read here (single posts of the last hour,
        ``threads``, the topics' ``notify`` groups), stored in its order. All of it is one transaction.
        """
        created = to_db(at)
        async with self._transaction() as conn:
            new: dict[str, int | None] = {}  # paper id -> the topic its ledger row names
            for paper_id, why, topic_id in matches:
                cursor = await conn.execute(
                    """INSERT OR IGNORE INTO deliveries (channel_id, paper_id, state, why, topic_id, created_at)
                       VALUES (?, ?, 'pending', ?, ?, ?)""",
                    (channel_id, paper_id, why, topic_id, created),
                )
                if cursor.rowcount == 1:
                    new[paper_id] = topic_id
            if not new:
                return []
            rows = await conn.execute_fetchall(
                "SELECT count(*) FROM outbox WHERE channel_id = ? AND kind = 'paper' AND created_at > ?",
                (channel_id, to_db(flood_since(at))))
            room = flood_room(max_per_hour, rows[0][0])
            mentions = await _topic_mentions(conn, single_topics(new, room))
            threads = await _threads_on(conn, channel_id)
            planned = plan_posts(channel_id, new, room=room, threads=threads, mentions=mentions)
            # In order: the next id is the thread's, so nothing of this channel goes out between a post and it.
            await conn.executemany(_INSERT, [(*e[:3], json.dumps(e.paper_ids), e.title, e.target_ref, created,
                                              e.mention) for e in planned])
            return list(new)

    async def enqueue_post(self, channel_id: int, *, kind: str, tag: str, paper_ids: Sequence[str],
                           title: str | None = None, at: datetime) -> bool:
        """Queue one message of *kind* (``leaderboard``) showing *paper_ids*; False when *tag* is there already."""
        async with self._transaction() as conn:
            cursor = await conn.execute(_INSERT, (channel_id, kind, tag, json.dumps(list(paper_ids)), title, None,
                                                  to_db(at), None))
            return cursor.rowcount == 1

    async def enqueue_refresh(self, channel_id: int, *, target_ref: str, at: datetime) -> bool:
        """Queue an edit of the sent post *target_ref* showing its papers again, with its paper ids and title.

        False when the channel has no such post (`REFRESHED_KINDS`), or an edit of it is pending
        already: that one shows the counts as they are when it is sent. The tag counts the
        edits queued of the post so far, so each has its own.
        """
        async with self._transaction() as conn:
            rows = await conn.execute_fetchall(
                f"""SELECT paper_ids, title, mention FROM outbox
                    WHERE channel_id = ? AND message_ref = ? AND state = 'sent'
                      AND kind IN ({', '.join('?' for _ in REFRESHED_KINDS)})
                    ORDER BY id LIMIT 1""",
                (channel_id, target_ref, *REFRESHED_KINDS))
            if not rows:
                return False
            paper_ids, title, mention = rows[0]  # an edit keeps the post's one mention in its text
            edits = await conn.execute_fetchall(
                """SELECT count(*) AS queued, coalesce(sum(state = 'pending'), 0) AS pending FROM outbox
                   WHERE channel_id = ? AND kind = 'update' AND target_ref = ?""",
                (channel_id, target_ref))
            tag = refresh_plan(target_ref, queued=edits[0][0], pending=edits[0][1])
            if tag is None:
                return False
            cursor = await conn.execute(_INSERT, (channel_id, "update", tag, paper_ids, title, target_ref,
                                                  to_db(at), mention))
            return cursor.rowcount == 1

    async def enqueue_digest(
        self,
        channel_id: int,
        *,
        tag: str,
        title: str,
        top: Sequence[str],
        skipped: Sequence[str],
        at: datetime,
    ) -> bool:
        """Queue a digest of *top* paper ids, mark *skipped* as left out, and stamp the channel's last digest.

        Returns False (and changes nothing) when a digest with *tag* was already queued.
        """
        async with self._transaction() as conn:
            cursor = await conn.execute(_INSERT, (channel_id, "digest", tag, json.dumps(list(top)), title, None,
                                                  to_db(at), None))
            if cursor.rowcount != 1:
                return False
            for state, ids in (("pending", top), ("skipped", skipped)):
                await conn.execute(
                    f"""UPDATE deliveries SET state = '{state}'
                        WHERE channel_id = ? AND state = 'queued' AND paper_id IN (SELECT value FROM json_each(?))""",
                    (channel_id, json.dumps(list(ids))),
                )
            await conn.execute("UPDATE channels SET last_digest_at = ? WHERE id = ?", (to_db(at), channel_id))
            return True

    async def enqueue_update(self, channel_id: int, paper_id: str, *, target_ref: str, tag: str,
                             at: datetime) -> bool:
        """Queue an edit of the earlier post *target_ref* of *paper_id*; False if that edit is queued already."""
        async with self._transaction() as conn:
            # The edit keeps the post's one mention in its text (it pings nobody again: edits never do).
            rows = await conn.execute_fetchall(
                "SELECT mention FROM outbox WHERE channel_id = ? AND message_ref = ? AND kind = 'paper' LIMIT 1",
                (channel_id, target_ref))
            cursor = await conn.execute(_INSERT, (channel_id, "update", tag, json.dumps([paper_id]), None,
                                                  target_ref, to_db(at), rows[0][0] if rows else None))
            return cursor.rowcount == 1

    async def due_outbox(self, *, now: datetime, channel_id: int | None = None, limit: int = 5000,
                         platforms: Sequence[str] | None = None,
                         per_channel: int | None = None) -> list[OutboxEntry]:
        """Return pending entries that are due, for channels that are not paused; oldest first.

        An entry waits while an older one of its channel waits (for its retry time, or
        to be settled after a crash), so a channel's posts never overtake each other.
        *platforms* keeps to channels on those platforms; *per_channel* returns at most that
        many entries of each channel (its oldest), so one long queue cannot fill *limit*.
        """
        where, params = [], []
        if channel_id is not None:
            where.append("AND o.channel_id = ?")
            params.append(channel_id)
        if platforms is not None:
            where.append("AND c.platform IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(platforms)))
        rows = await self._fetchall(
            _due_sql(" ".join(where)),
            (to_db(now), *params, to_db(now), per_channel, per_channel, limit),
        )
        return [_entry(r) for r in rows]

    async def outbox_in_state(self, state: str, *, channel_id: int | None = None) -> list[OutboxEntry]:
        """Return every entry in *state* (optionally of one channel), oldest first."""
        sql = f"SELECT {_COLUMNS} FROM outbox WHERE state = ?"
        params: tuple = (state,)
        if channel_id is not None:
            sql, params = sql + " AND channel_id = ?", (state, channel_id)
        return [_entry(r) for r in await self._fetchall(sql + " ORDER BY id", params)]

    async def outbox_entry(self, entry_id: int) -> OutboxEntry | None:
        """Return the entry *entry_id* as it is now, or None when there is none."""
        row = await self._fetchone(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (entry_id,))
        return _entry(row) if row else None

    async def next_outbox_retry(self, *, now: datetime) -> datetime | None:
        """Return the earliest retry time still to come among pending entries of unpaused channels."""
        row = await self._fetchone(
            """SELECT min(o.next_attempt_at) AS due FROM outbox o JOIN channels c ON c.id = o.channel_id
               WHERE o.state = 'pending' AND o.next_attempt_at > ? AND c.paused_reason IS NULL""",
            (to_db(now),))
        return from_db(row["due"]) if row else None

    async def held_for(self) -> float | None:
        """Nothing: one process per file, and what a crash left is found at the next start (`abandoned_outbox`)."""
        return None

    async def claim_outbox(self, entry_id: int) -> bool:
        """Move *entry_id* from pending to sending, just before handing it to the platform.

        Returns False when it is no longer pending (another sender got to it first), or when
        an older entry of its channel is still unsettled.
        """
        return entry_id in await self.claim_outbox_many([entry_id])

    async def claim_outbox_many(self, entry_ids: Sequence[int]) -> set[int]:
        """Claim each of *entry_ids* that is pending and its channel's oldest unsettled entry; return those.

        One transaction for the lot. The oldest-unsettled rule keeps a channel's posts in
        order whoever sends them: a newer entry cannot be claimed while an older one waits
        or is in flight.
        """
        if not entry_ids:
            return set()
        params = (OWNER, to_db(datetime.now(timezone.utc)), json.dumps(list(entry_ids)))
        rows = await self._write_at_once(lambda conn: conn.execute(_CLAIM, params).fetchall())
        return {row[0] for row in rows}

    async def abandoned_outbox(self) -> list[OutboxEntry]:
        """Return every entry in ``sending``: with one process per file, no other process can be sending.

        The worker skips the ones this process has in flight; the rest were left by a crash.
        """
        return await self.outbox_in_state("sending")

    async def mark_outbox_sent(
        self, entry_id: int, *, message_ref: str | None, at: datetime,
        posted_states: Mapping[str, str] | None = None,
    ) -> None:
        """Record *entry_id* as sent, and its papers' ledger rows with it.

        *posted_states* (paper id -> what the post showed) is kept for single-paper posts,
        so a later change to the paper can be edited into that post. A single post's
        ``thread`` entry gets *message_ref* as its target: the post its thread opens on.
        """
        await self.mark_outbox_sent_many([Settlement(entry_id, message_ref, at, posted_states)])

    async def mark_outbox_sent_many(self, settlements: Sequence[Settlement]) -> None:
        """Record every one of *settlements* as sent, with its ledger rows, in one transaction."""
        if not settlements:
            return
        await self._write_at_once(lambda conn: _settle(conn, settlements))

    async def mark_outbox_retry(self, entry_id: int, *, error: str, retry_at: datetime,
                                count_attempt: bool = True) -> None:
        """Put *entry_id* back to pending until *retry_at*, counting the attempt unless told not to."""
        await self._set_state(
            entry_id,
            """UPDATE outbox SET state = 'pending', last_error = ?, next_attempt_at = ?,
               attempts = attempts + ? WHERE id = ?""",
            (error, to_db(retry_at), 1 if count_attempt else 0),
        )

    async def release_outbox(self, entry_id: int) -> None:
        """Return an entry found not delivered after a crash to pending, due now."""
        await self._set_state(entry_id, "UPDATE outbox SET state = 'pending', next_attempt_at = NULL WHERE id = ?",
                              ())

    async def mark_outbox_dead(self, entry_id: int, *, error: str) -> None:
        """Give up on *entry_id* after too many failures, keeping the reason."""
        await self._set_state(entry_id, "UPDATE outbox SET state = 'dead', last_error = ?, attempts = attempts + 1 "
                                        "WHERE id = ?", (error,))

    async def _set_state(self, entry_id: int, sql: str, params: tuple) -> None:
        async with self._transaction() as conn:
            await conn.execute(sql, (*params, entry_id))

    async def ledger_whys_many(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str | None]:
        """Return why each (channel id, paper id) of *pairs* matched, in one read."""
        rows = await self._fetchall(
            """SELECT d.channel_id, d.paper_id, d.why FROM deliveries d
               JOIN (SELECT json_extract(value, '$[0]') AS channel_id, json_extract(value, '$[1]') AS paper_id
                     FROM json_each(?)) AS p ON d.channel_id = p.channel_id AND d.paper_id = p.paper_id""",
            (json.dumps([list(pair) for pair in pairs]),),
        )
        return {(r["channel_id"], r["paper_id"]): r["why"] for r in rows}

    async def posted_cards(self, paper_ids: Sequence[str]) -> list[PostedCard]:
        """Return the single-paper posts already sent for any of *paper_ids*."""
        rows = await self._fetchall(
            """SELECT channel_id, paper_id, message_ref, posted_state FROM deliveries
               WHERE state = 'sent' AND message_ref IS NOT NULL AND posted_state IS NOT NULL
                 AND paper_id IN (SELECT value FROM json_each(?))""",
            (json.dumps(list(paper_ids)),),
        )
        return [PostedCard(r["channel_id"], r["paper_id"], r["message_ref"], r["posted_state"]) for r in rows]

    async def outbox_unconfirmed(self) -> tuple[int, datetime | None]:
        """Return how many entries are claimed but not settled (``sending``), and the oldest claim time."""
        row = await self._fetchone("SELECT count(*) AS n, min(claimed_at) AS since FROM outbox WHERE state = 'sending'")
        return (row["n"], from_db(row["since"])) if row else (0, None)

    async def outbox_counts(self, channel_id: int | None = None, *,
                            states: Collection[str] = OUTBOX_STATES) -> dict[str, int]:
        """Return how many outbox entries are in each of *states* that has any (of one channel, or all)."""
        where = "state IN (SELECT value FROM json_each(?))" + (" AND channel_id = ?" if channel_id is not None else "")
        params = (json.dumps(list(states)),) + ((channel_id,) if channel_id is not None else ())
        rows = await self._fetchall(f"SELECT state, count(*) AS n FROM outbox WHERE {where} GROUP BY state", params)
        return {r["state"]: r["n"] for r in rows}


def _settle(conn: sqlite3.Connection, settlements: Sequence[Settlement]) -> None:
    """`mark_outbox_sent_many`'s statements, on the connection's thread: one trip for the whole batch."""
    rows = conn.execute(
        "SELECT id, channel_id, kind, paper_ids FROM outbox WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps([s.entry_id for s in settlements]),)).fetchall()
    known = {row[0]: row for row in rows}
    done = [s for s in settlements if s.entry_id in known]
    conn.executemany(
        """UPDATE outbox SET state = 'sent', message_ref = ?, sent_at = ?, next_attempt_at = NULL,
           last_error = NULL WHERE id = ?""",
        [(s.message_ref, to_db(s.at), s.entry_id) for s in done])
    ledger, targets = [], []
    for s in done:
        _, channel_id, kind, paper_ids = known[s.entry_id]
        papers = json.loads(paper_ids)
        if kind == "paper" and s.message_ref is not None:
            targets.extend((s.message_ref, channel_id, thread_tag(p)) for p in papers)
        for paper_id in papers:
            # An edit keeps pointing at the original message; a posted state is kept when given.
            state = s.posted_states.get(paper_id) if s.posted_states else None
            ledger.append((to_db(s.at), kind == "paper", s.message_ref, state is not None, state,
                           channel_id, paper_id))
    conn.executemany(
        """UPDATE deliveries SET state = 'sent', sent_at = coalesce(sent_at, ?),
           message_ref = CASE WHEN ? THEN ? ELSE message_ref END,
           posted_state = CASE WHEN ? THEN ? ELSE posted_state END
           WHERE channel_id = ? AND paper_id = ?""", ledger)
    if targets:
        conn.executemany(
            """UPDATE outbox SET target_ref = ?
               WHERE channel_id = ? AND tag = ? AND kind = 'thread' AND target_ref IS NULL""", targets)


def _due_sql(filters: str) -> str:
    """`due_outbox`'s statement with its extra *filters* (``AND ...``): parameters now, the filters', now,
    per channel (twice), limit."""
    return f"""SELECT * FROM (
            SELECT {_COLUMNS_OF_O}, row_number() OVER (PARTITION BY o.channel_id ORDER BY o.id) AS nth
            FROM outbox o JOIN channels c ON c.id = o.channel_id
            WHERE o.state = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?)
              AND c.paused_reason IS NULL {filters}
              AND NOT EXISTS (  -- the IN lets SQLite read `outbox_unsettled`, not the channel's history
                  SELECT 1 FROM outbox e WHERE e.channel_id = o.channel_id AND e.id < o.id
                    AND e.state IN ('pending', 'sending')
                    AND (e.state = 'sending' OR (e.state = 'pending' AND e.next_attempt_at > ?))))
        WHERE ? IS NULL OR nth <= ? ORDER BY id LIMIT ?"""


async def _topic_mentions(conn: aiosqlite.Connection, topic_ids: Sequence[int | None]) -> dict[int, str]:
    """Return the ``notify`` group of each of *topic_ids* that has one."""
    wanted = [t for t in topic_ids if t is not None]
    if not wanted:
        return {}
    rows = await conn.execute_fetchall(
        "SELECT id, notify FROM topics WHERE notify IS NOT NULL AND id IN (SELECT value FROM json_each(?))",
        (json.dumps(wanted),))
    return {row[0]: row[1] for row in rows}


async def _threads_on(conn: aiosqlite.Connection, channel_id: int) -> bool:
    rows = await conn.execute_fetchall("SELECT threads FROM channels WHERE id = ?", (channel_id,))
    return bool(rows and rows[0][0])
