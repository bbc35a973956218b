"""The outbox: messages owed to channels, each moving pending -> sending -> sent (or dead)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import asyncpg

from bot.rows import OutboxEntry, PostedCard
from storage.postgres.connection import Queries, affected

_COLUMNS = ("id, channel_id, kind, tag, paper_ids, state, title, target_ref, attempts, next_attempt_at, "
            "last_error, message_ref, created_at, sent_at")
_COLUMNS_OF_O = ", ".join(f"o.{c.strip()}" for c in _COLUMNS.split(","))
_INSERT = """
    INSERT INTO outbox (channel_id, kind, tag, paper_ids, title, target_ref, state, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) ON CONFLICT (channel_id, tag) DO NOTHING
"""
_DUE = "o.state = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= $1) AND c.paused_reason IS NULL"


def _entry(row: asyncpg.Record) -> OutboxEntry:
    values = dict(row)
    values["paper_ids"] = tuple(values["paper_ids"])
    return OutboxEntry(**values)


class OutboxQueries(Queries):
    """Queue posts atomically with the ledger, hand them to one sender, and record each attempt's outcome."""

    owner: str = ""
    """Who claims entries: ``host:pid:key``, *key* naming this store's presence lock (see the store)."""

    async def enqueue_posts(self, channel_id: int, matches: Sequence[tuple[str, str | None, int | None]], *,
                            at: datetime, max_per_hour: int) -> list[str]:
        """Hand new (paper id, why, topic id) matches to the outbox; return the paper ids that were new.

        Up to the flood limit (single posts created in the last hour) each paper gets its own
        post; the rest go out together as one roll-up. All of it is one transaction.
        """
        first = {paper_id: (why, topic_id) for paper_id, why, topic_id in reversed(matches)}
        order = list(dict.fromkeys(m[0] for m in matches))
        if not order:
            return []
        async with self._transaction() as conn:
            # The channel's row lock: two processes enqueueing for one channel count the flood in turn.
            await conn.execute("SELECT 1 FROM channels WHERE id = $1 FOR UPDATE", channel_id)
            inserted = await conn.fetch(
                """INSERT INTO deliveries (channel_id, paper_id, state, why, topic_id, created_at)
                   SELECT $1, m.paper_id, 'pending', m.why, m.topic_id, $5
                   FROM unnest($2::text[], $3::text[], $4::bigint[]) AS m (paper_id, why, topic_id)
                   ON CONFLICT (channel_id, paper_id) DO NOTHING RETURNING paper_id""",
                channel_id, order, [first[p][0] for p in order], [first[p][1] for p in order], at)
            fresh = {r[0] for r in inserted}
            new = [p for p in order if p in fresh]
            if new:
                await self._queue_posts(conn, channel_id, new, at=at, max_per_hour=max_per_hour)
        return new

    async def _queue_posts(self, conn: asyncpg.Connection, channel_id: int, new: list[str], *, at: datetime,
                           max_per_hour: int) -> None:
        recent = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE channel_id = $1 AND kind = 'paper' AND created_at > $2",
            channel_id, at - timedelta(hours=1))
        room = max(0, max_per_hour - recent)
        singles, rest = new[:room], new[room:]
        await conn.executemany(_INSERT, [(channel_id, "paper", f"paper:{p}", [p], None, None, at) for p in singles])
        if rest:
            title = f"…and {len(rest)} more new papers matching this channel's topics"
            await conn.execute(_INSERT, channel_id, "rollup", f"rollup:{rest[0]}", rest, title, None, at)

    async def enqueue_digest(self, channel_id: int, *, tag: str, title: str, top: Sequence[str],
                             skipped: Sequence[str], at: datetime) -> bool:
        """Queue a digest of *top*, mark *skipped* as left out, stamp the channel's last digest; False if *tag* was queued."""
        async with self._transaction() as conn:
            status = await conn.execute(_INSERT, channel_id, "digest", tag, list(top), title, None, at)
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
            status = await conn.execute(_INSERT, channel_id, "update", tag, [paper_id], None, target_ref, at)
        return affected(status) == 1

    async def due_outbox(self, *, now: datetime, channel_id: int | None = None,
                         limit: int = 5000) -> list[OutboxEntry]:
        """Return pending entries that are due, for channels that are not paused; oldest first.

        An entry waits while an older one of its channel waits (for its retry time, or to be
        settled after a crash), so a channel's posts never overtake each other.
        """
        rows = await self._fetch(
            f"""SELECT {_COLUMNS_OF_O} FROM outbox o JOIN channels c ON c.id = o.channel_id
                WHERE {_DUE} AND ($2::bigint IS NULL OR o.channel_id = $2)
                  AND NOT EXISTS (
                      SELECT 1 FROM outbox e WHERE e.channel_id = o.channel_id AND e.id < o.id
                        AND (e.state = 'sending' OR (e.state = 'pending' AND e.next_attempt_at > $1)))
                ORDER BY o.id LIMIT $3""", now, channel_id, limit)
        return [_entry(r) for r in rows]

    async def channels_with_due_outbox(self, *, now: datetime, platforms: Sequence[str]) -> list[int]:
        rows = await self._fetch(
            f"""SELECT DISTINCT o.channel_id FROM outbox o JOIN channels c ON c.id = o.channel_id
                WHERE {_DUE} AND c.platform = ANY($2::text[]) ORDER BY o.channel_id""", now, list(platforms))
        return [r[0] for r in rows]

    async def outbox_in_state(self, state: str, *, channel_id: int | None = None) -> list[OutboxEntry]:
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM outbox WHERE state = $1 AND ($2::bigint IS NULL OR channel_id = $2) ORDER BY id",
            state, channel_id)
        return [_entry(r) for r in rows]

    async def next_outbox_retry(self, *, now: datetime) -> datetime | None:
        return await self._fetchval(
            """SELECT min(o.next_attempt_at) FROM outbox o JOIN channels c ON c.id = o.channel_id
               WHERE o.state = 'pending' AND o.next_attempt_at > $1 AND c.paused_reason IS NULL""", now)

    async def claim_outbox(self, entry_id: int) -> bool:
        """Move *entry_id* from pending to sending for this store; False when another sender has it.

        SKIP LOCKED: a claim racing another process's claim (or its retry write) loses at once
        rather than waiting to find the entry no longer pending.
        """
        async with self._transaction() as conn:
            status = await conn.execute(
                """UPDATE outbox SET state = 'sending', claimed_by = $2, claimed_at = now()
                   WHERE id = (SELECT id FROM outbox WHERE id = $1 AND state = 'pending' FOR UPDATE SKIP LOCKED)""",
                entry_id, self.owner)
        return affected(status) == 1

    async def mark_outbox_sent(self, entry_id: int, *, message_ref: str | None, at: datetime,
                               posted_states: Mapping[str, str] | None = None) -> None:
        """Record *entry_id* as sent, and its papers' ledger rows with it (with what a single post showed)."""
        async with self._transaction() as conn:
            row = await conn.fetchrow(
                """UPDATE outbox SET state = 'sent', message_ref = $2, sent_at = $3, next_attempt_at = NULL,
                   last_error = NULL WHERE id = $1 RETURNING channel_id, kind, paper_ids""", entry_id, message_ref, at)
            if row is None:
                return
            states = dict(posted_states or {})
            ids = list(row["paper_ids"])
            await conn.execute(
                """UPDATE deliveries d SET state = 'sent', sent_at = coalesce(d.sent_at, $3),
                       message_ref = CASE WHEN $4 THEN $5 ELSE d.message_ref END,
                       posted_state = coalesce(s.posted, d.posted_state)
                   FROM unnest($2::text[], $6::text[]) AS s (paper_id, posted)
                   WHERE d.channel_id = $1 AND d.paper_id = s.paper_id""",
                # an edit keeps the ledger pointing at the original message
                row["channel_id"], ids, at, row["kind"] == "paper", message_ref, [states.get(p) for p in ids])

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

    async def outbox_counts(self, channel_id: int | None = None) -> dict[str, int]:
        rows = await self._fetch(
            "SELECT state, count(*) AS n FROM outbox WHERE $1::bigint IS NULL OR channel_id = $1 GROUP BY state",
            channel_id)
        return {r["state"]: r["n"] for r in rows}
