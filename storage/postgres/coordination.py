"""Several Paperboy processes on one database: who is alive (presence locks), who leads, what was abandoned.

Each store keeps one dedicated connection for its whole life and holds on it the session
advisory lock (PRESENCE_CLASS, key). Postgres drops a session's locks when its connection
ends, however the process died, so "that lock is no longer held" means "that store is gone".
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket

import asyncpg

from bot.model.rows import OutboxEntry
from storage.postgres.connection import Queries, connect, storage_reason
from storage.postgres.outbox import _COLUMNS, _entry

log = logging.getLogger(__name__)

PRESENCE_CLASS = 0x70627072  # "pbpr": first key of every store's presence lock
LEAD_CLASS = 0x70626c64  # "pbld": first key of every role's lock; the second is hashtext(role)
CLAIM_LEASE = 30.0
"""Seconds a claim is left to its claimer even once its presence lock is gone: a process whose session
connection dropped may still have that send in flight, and one attempt ends well within this (its
HTTP deadline). After a crash, its sends are therefore looked for this much later."""


def _gone(owner: str) -> str:
    """SQL: nobody holds the presence lock of the store named by the column *owner* (``$2``: `PRESENCE_CLASS`)."""
    return f"""NOT EXISTS (
        SELECT 1 FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid::bigint = $2
          AND l.objid::bigint = substring({owner} FROM ':([0-9]{{1,10}})$')::bigint)"""


class Coordination(Queries):
    """The dedicated session connection, its presence lock, and the roles it leads."""

    _database: str
    _session: asyncpg.Connection | None = None
    _session_lock: asyncio.Lock
    _roles: set[str]
    owner: str = ""
    _key: int | None = None
    claim_lease: float = CLAIM_LEASE

    async def _open_session(self) -> None:
        """Open the dedicated connection and take a presence key nobody else holds."""
        conn = await connect(self._database)
        key = self._key  # after a lost connection, keep the owner name our claims carry
        while True:
            key = key or random.randint(1, 2**31 - 1)  # positive: pg_locks shows objid as an unsigned oid
            if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", PRESENCE_CLASS, key):
                break
            key = None  # our old key was taken meanwhile (or a random clash): pick another
        self._key = key
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{key}"
        self._session = conn
        self._roles = set()

    async def _live_session(self) -> asyncpg.Connection:
        """Return the dedicated connection, reopened (presence retaken, roles forgotten) if it was lost."""
        conn = self._session
        if conn is not None and not conn.is_closed():
            try:
                await conn.fetchval("SELECT 1")
                return conn
            except Exception as error:
                if storage_reason(error) is None:
                    raise
                log.warning("storage: the session connection was lost (%s); reopening it", error)
                conn.terminate()
        await self._open_session()
        return self._session

    async def try_lead(self, role: str) -> bool:
        """Say whether this store holds (or now takes) *role*; a store that dies or loses its session lets go."""
        async with self._session_lock, self._translated():
            conn = await self._live_session()
            if role in self._roles:
                return True
            if await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", LEAD_CLASS, role):
                self._roles.add(role)
                return True
            return False

    async def abandoned_outbox(self) -> list[OutboxEntry]:
        """Return the entries in ``sending`` whose claimer is this store, unknown, or gone; oldest first.

        A claimer is gone when nobody holds its presence lock in this database, and its claim is
        older than `claim_lease` (a lost session connection drops the lock of a process that may
        still be sending). The worker skips this store's own sends in flight; the rest were left
        by a crash.
        """
        rows = await self._fetch(
            f"""SELECT {_COLUMNS} FROM outbox o
                WHERE o.state = 'sending' AND (
                    o.claimed_by IS NULL OR o.claimed_by = $1 OR (
                    o.claimed_at < now() - make_interval(secs => $3) AND {_gone('o.claimed_by')}))
                ORDER BY o.id""", self.owner, PRESENCE_CLASS, self.claim_lease)
        return [_entry(r) for r in rows]

    async def held_for(self) -> float | None:
        """Seconds until the next hold of a gone process runs out (None: nothing is held).

        Holds of a store that is gone: an entry it left in ``sending`` (`abandoned_outbox`'s once
        `claim_lease` has passed), and its lease on a channel with posts waiting. The worker looks
        again then, rather than at its next idle round: after a crash, those channels wait no longer.
        """
        return await self._fetchval(
            f"""SELECT EXTRACT(EPOCH FROM min(until) - now())::float8 FROM (
                    SELECT o.claimed_at + make_interval(secs => $3) AS until FROM outbox o
                    WHERE o.state = 'sending' AND o.claimed_by <> $1 AND {_gone('o.claimed_by')}
                    UNION ALL
                    SELECT s.until FROM channel_senders s
                    WHERE s.owner <> $1 AND {_gone('s.owner')} AND EXISTS (
                        SELECT 1 FROM outbox o WHERE o.channel_id = s.channel_id AND o.state = 'pending')
                ) AS holds WHERE until > now()""", self.owner, PRESENCE_CLASS, self.claim_lease)

    async def _close_session(self) -> None:
        conn, self._session = self._session, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), timeout=5)
            except Exception:  # closing a broken connection: the server drops its locks anyway
                conn.terminate()
