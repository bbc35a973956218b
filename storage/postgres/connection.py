"""Connect to Postgres, turn its errors into the core's storage errors, and keep the `trouble` record."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bot.ports.store_errors import DatabaseUnreachable, StorageUnavailable

log = logging.getLogger(__name__)


def _pool_retry_only_at_debug(record: logging.LogRecord) -> bool:
    # While the server is down, asyncpg's pool retries its connections in the background and logs each
    # try with a traceback; `storage: database failing` already says it once, so these show only at DEBUG.
    if str(record.msg).startswith("Failed to restore the pool connection floor"):
        return logging.getLogger().isEnabledFor(logging.DEBUG)
    return True


logging.getLogger("asyncpg.pool").addFilter(_pool_retry_only_at_debug)

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the server at opening before calling it unreachable."""

# SQLSTATE classes that mean the server or its resources are in trouble, not that the SQL is wrong.
_STATE_REASONS = {
    "53100": "the database server's disk is full",
    "53200": "the database server ran out of memory",
    "53300": "the database server has too many connections",
    "57P01": "the database server is shutting down",
    "57P02": "the database server crashed",
    "57P03": "the database server is not accepting connections yet",
    "57014": "a database statement took too long and was cancelled",
    "40001": "the database could not serialise concurrent writes",
    "40P01": "the database found a deadlock",
    "25006": "the database server is read-only",
}
_CLASS_REASONS = {
    "08": "the connection to the database server failed",
    "53": "the database server is out of resources",
    "57": "the database server stopped the work",
    "58": "the database server had a system error",
    "XX": "the database server had an internal error",
}


def storage_reason(error: BaseException) -> str | None:
    """Return the short reason for `StorageUnavailable` if *error* means the database is in trouble, else None."""
    state = getattr(error, "sqlstate", None)
    if isinstance(error, asyncpg.PostgresError) and state:
        return _STATE_REASONS.get(state) or _CLASS_REASONS.get(state[:2])
    if isinstance(error, (asyncpg.InterfaceError, asyncpg.exceptions.ConnectionDoesNotExistError,
                          asyncpg.InternalClientError)):
        # InterfaceError also means misuse (a closed pool), but then there is nothing to do either;
        # InternalClientError is what a query on a connection the server just terminated can raise.
        return "the connection to the database server was lost"
    if isinstance(error, (OSError, asyncio.TimeoutError)):
        return "cannot reach the database server"
    return None


def where(database: str) -> str:
    """Return ``host:port`` (or the socket folder) of the URL *database*, never its password."""
    parts = urlsplit(database)
    host = parts.hostname
    if not host:
        for item in parts.query.split("&"):
            key, _, value = item.partition("=")
            if key == "host" and value:
                host = value
    port = parts.port or 5432
    return f"{host or 'localhost'}:{port}"


def unreachable(database: str, error: BaseException) -> DatabaseUnreachable:
    """Return the one-line `DatabaseUnreachable` for a failed connection to *database*."""
    if isinstance(error, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError):
        why = "login refused"
    elif isinstance(error, asyncpg.InvalidCatalogNameError):
        why = "the database does not exist"
    elif isinstance(error, ConnectionRefusedError):
        why = "connection refused"
    elif isinstance(error, FileNotFoundError):
        why = "no server socket there"
    elif isinstance(error, asyncio.TimeoutError):
        why = "timed out"
    elif isinstance(error, OSError):
        why = error.strerror or type(error).__name__
    else:
        why = str(error) or type(error).__name__
    # Only the first line: a server message may run on, and the URL (with password) is not in it.
    why = " ".join(str(why).splitlines()[:1]) or type(error).__name__
    return DatabaseUnreachable(f"cannot reach Postgres at {where(database)}: {why}")


async def connect(database: str) -> asyncpg.Connection:
    """Open one connection to *database*, or raise `DatabaseUnreachable`."""
    try:
        return await asyncpg.connect(database, timeout=CONNECT_TIMEOUT)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise unreachable(database, error) from None


async def create_pool(database: str, *, max_size: int = 10) -> asyncpg.Pool:
    """Open the pool every method borrows from, or raise `DatabaseUnreachable`."""
    try:
        return await asyncpg.create_pool(database, min_size=1, max_size=max_size, timeout=CONNECT_TIMEOUT,
                                         reset=_nothing_to_reset)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise unreachable(database, error) from None


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """A pooled connection keeps no session state of ours: its advisory locks are the transaction's, it never
    LISTENs or SETs (the presence and leadership locks have connections of their own). asyncpg still rolls
    back a transaction left open; its default reset query was one more round trip per method call."""


@dataclass(frozen=True, slots=True)
class _Trouble:
    since: datetime
    reason: str


class Queries:
    """Borrow pooled connections for one method at a time and report trouble as `StorageUnavailable`.

    Postgres does the concurrency: each method runs on its own pooled connection, writes in
    one transaction, so nothing here needs an asyncio lock.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._trouble: _Trouble | None = None

    @property
    def trouble(self) -> str | None:
        """Say what is wrong with the database now, in one line for ``status``, or None."""
        trouble = self._trouble
        if trouble is None:
            return None
        since = trouble.since
        fmt = "%H:%M UTC" if since.date() == _utcnow().date() else "%Y-%m-%d %H:%M UTC"
        return f"database failing since {since.strftime(fmt)}: {trouble.reason}"

    @property
    def trouble_since(self) -> datetime | None:
        """When the current `trouble` began (UTC), or None."""
        return self._trouble.since if self._trouble is not None else None

    def _note_trouble(self, reason: str) -> StorageUnavailable:
        old = self._trouble
        if old is None or old.reason != reason:
            log.warning("storage: database failing: %s", reason)
        self._trouble = _Trouble(since=old.since if old is not None else _utcnow(), reason=reason)
        return StorageUnavailable(reason)

    def _note_success(self) -> None:
        if self._trouble is not None:
            log.info("storage: the database works again (failing since %s: %s)",
                     self._trouble.since.strftime("%Y-%m-%d %H:%M:%S UTC"), self._trouble.reason)
            self._trouble = None

    @asynccontextmanager
    async def _translated(self) -> AsyncIterator[None]:
        """Turn database trouble inside the block into `StorageUnavailable`; a bug's error goes up as it is."""
        try:
            yield
        except Exception as error:
            reason = storage_reason(error)
            if reason is None:
                raise
            raise self._note_trouble(reason) from error
        self._note_success()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """Yield a pooled connection inside a transaction: committed at the end, rolled back on any error."""
        async with self._translated(), self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._translated():
            return await self._pool.fetch(sql, *args)

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self._translated():
            return await self._pool.fetchrow(sql, *args)

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        async with self._translated():
            return await self._pool.fetchval(sql, *args)

    async def _execute(self, sql: str, *args: Any) -> str:
        async with self._translated():
            return await self._pool.execute(sql, *args)

    async def check_alive(self) -> None:
        """Raise `StorageUnavailable` unless the server answers a trivial query."""
        await self._fetchval("SELECT 1")


def affected(status: str) -> int:
    """Return the row count of a command status such as ``INSERT 0 3`` or ``UPDATE 1``."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
