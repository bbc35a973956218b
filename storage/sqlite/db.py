"""The base of SQLite's query classes: share the connections safely, and report trouble; times as text."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

import aiosqlite

from bot.ports.store_errors import (  # noqa: F401  (re-exported: storage.sqlite.db names them too)
    CorruptDatabase, DatabaseInUse, ReadOnlyDatabase, SchemaTooNewError, StorageLost, StorageUnavailable,
    UnusableDatabase,
)
from storage.sqlite.checkpoints import Checkpointer
from storage.sqlite.connection import Reader, close_connection, primary_code

log = logging.getLogger(__name__)
T = TypeVar("T")


def to_db(moment: datetime | None) -> str | None:
    """Return *moment* as fixed-width ISO-8601 UTC text, so comparing the text compares the times."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {moment!r}")
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def from_db(text: str | None) -> datetime | None:
    """Return the aware UTC datetime stored as *text*."""
    return None if text is None else datetime.fromisoformat(text)


_LOCK_HELD = "another program holds a write lock on the database"
_DAMAGED = "the database file is damaged"
_REASONS = {
    sqlite3.SQLITE_BUSY: _LOCK_HELD,
    sqlite3.SQLITE_LOCKED: _LOCK_HELD,
    sqlite3.SQLITE_PROTOCOL: _LOCK_HELD,
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_READONLY: "the database file is read-only",
    sqlite3.SQLITE_IOERR: "the disk reported an I/O error",
    sqlite3.SQLITE_CORRUPT: _DAMAGED,
    sqlite3.SQLITE_NOTADB: _DAMAGED,
    sqlite3.SQLITE_CANTOPEN: "SQLite cannot open the database's files",
    sqlite3.SQLITE_PERM: "the system refuses access to the database file",
    sqlite3.SQLITE_NOMEM: "SQLite ran out of memory",
}
"""What `StorageUnavailable` says for each primary SQLite result code that means "the database is in trouble".

Any other error (a constraint, bad SQL) is a bug and goes up as it is.
"""


def storage_reason(error: sqlite3.Error) -> str | None:
    """Return the short reason for `StorageUnavailable` if *error* means the database is in trouble, else None."""
    code = primary_code(error)
    return None if code is None else _REASONS.get(code)


def is_interrupted(error: BaseException) -> bool:
    """Say whether *error* is a read stopped for going over its time budget."""
    return isinstance(error, sqlite3.OperationalError) and primary_code(error) == sqlite3.SQLITE_INTERRUPT


@dataclass(frozen=True, slots=True)
class _Trouble:
    writes: bool
    since: datetime
    reason: str


class _Pool:
    """Read connections handed out one statement at a time; a caller waits only when all are busy."""

    def __init__(self, readers: Sequence[Reader]) -> None:
        self._all = tuple(readers)
        self._free: asyncio.Queue[Reader] = asyncio.Queue()
        for reader in readers:
            self._free.put_nowait(reader)

    async def fetchall(self, sql: str, params: Sequence[Any], *, budget: float | None) -> list[sqlite3.Row]:
        reader = await self._free.get()
        reader.budget.deadline = None if budget is None else time.monotonic() + budget
        job = asyncio.ensure_future(reader.conn.execute_fetchall(sql, params))
        try:
            rows = await asyncio.shield(job)
        except asyncio.CancelledError:
            # The statement runs on in its thread: the connection (and its deadline) is
            # busy until it ends, so it goes back to the pool only then.
            job.add_done_callback(lambda done: self._release(reader, done))
            raise
        except BaseException:
            self._release(reader)
            raise
        self._release(reader)
        return list(rows)

    def _release(self, reader: Reader, job: asyncio.Future | None = None) -> None:
        if job is not None and not job.cancelled():
            job.exception()  # retrieved: nobody waits for a cancelled caller's result
        reader.budget.deadline = None
        self._free.put_nowait(reader)

    async def close(self) -> None:
        for _ in self._all:  # every reader back first: none is in the middle of a statement
            await self._free.get()
        for reader in self._all:
            await close_connection(reader.conn)


def _file_identity(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


class Queries:
    """Hold the connections and make each method's use of them safe and atomic.

    The engine and the poller call the store concurrently from one event loop. Writes go
    through the one write connection, one method at a time (`_transaction`): aiosqlite runs
    statements one at a time, but a method's statements could interleave with another's, and
    one method's commit would then commit the other's half-done work. Reads (`_fetchall`) go
    to separate read-only connections when there are any, which in WAL mode see every
    committed write and never wait for the writer; the slow ones (full-text search, whole
    lists) have their own connections, so they hold up neither writes nor the quick reads.

    A database in trouble raises `StorageUnavailable` (transient; nothing half-written is kept)
    or `StorageLost` (the file was deleted or replaced; raised again on every later call).
    """

    def __init__(
        self,
        conn: aiosqlite.Connection,
        *,
        path: str | os.PathLike[str] | None = None,
        readers: Sequence[Reader] = (),
        slow_readers: Sequence[Reader] = (),
    ) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._path = os.path.abspath(os.fspath(path)) if path is not None else None
        self._identity = _file_identity(self._path) if self._path is not None else None
        self._readers = _Pool(readers) if readers else None
        self._slow_readers = _Pool(slow_readers) if slow_readers else None
        self._lost: str | None = None
        self._trouble: _Trouble | None = None
        self._checkpoints: Checkpointer | None = None
        """Moves the log into the file after writes, off the writer's commits (on disk only)."""

    # -- health ---------------------------------------------------------------------------

    async def check_alive(self) -> None:
        """Raise `StorageLost` if the database file was deleted, moved away or replaced since it was opened.

        Cheap (one ``stat``): the poll loop calls it between polls, and every write checks first.
        """
        self._check_file()

    @property
    def trouble(self) -> str | None:
        """Say what is wrong with the database now, in one line for ``status``, or None when nothing is.

        E.g. ``"writes failing since 15:02 UTC: the disk is full"``; set when a call raised
        `StorageUnavailable`, cleared by the next write that succeeds. Once the file is lost,
        the `StorageLost` message.
        """
        if self._lost is not None:
            return self._lost
        trouble = self._trouble
        if trouble is None:
            return None
        since = trouble.since
        when = since.strftime("%H:%M UTC") if since.date() == _utcnow().date() else since.strftime("%Y-%m-%d %H:%M UTC")
        return f"{'writes' if trouble.writes else 'reads'} failing since {when}: {trouble.reason}"

    @property
    def trouble_since(self) -> datetime | None:
        """When the current `trouble` began (UTC), or None."""
        return self._trouble.since if self._trouble is not None and self._lost is None else None

    def _check_file(self) -> None:
        if self._lost is not None:
            raise StorageLost(self._lost)
        if self._path is None:
            return
        try:
            identity = _file_identity(self._path)
        except (FileNotFoundError, NotADirectoryError):
            raise self._lose("was deleted or moved away") from None
        except OSError as error:
            reason = f"cannot look at the database file ({error.strerror or error})"
            self._note_trouble(reason, writing=True)
            raise StorageUnavailable(reason) from None
        if identity != self._identity:
            raise self._lose("was replaced by another file")

    def _lose(self, what: str) -> StorageLost:
        if self._lost is None:
            self._lost = f"the database file {self._path or 'in use'} {what}"
            log.error("storage: %s; nothing more can be saved", self._lost)
        return StorageLost(self._lost)

    def _translate(self, error: sqlite3.Error, *, writing: bool) -> StorageUnavailable | StorageLost | None:
        """Return what to raise instead of *error*, noting the trouble; None for an error that is a bug."""
        if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_READONLY_DBMOVED:
            return self._lose("was deleted or moved away")
        reason = storage_reason(error)
        if reason is None:
            return None
        try:
            self._check_file()  # a failure can be the first sign that the file went away
        except (StorageLost, StorageUnavailable) as found:
            return found
        self._note_trouble(reason, writing=writing)
        return StorageUnavailable(reason)

    def _note_trouble(self, reason: str, *, writing: bool) -> None:
        old = self._trouble
        writes = writing or (old is not None and old.writes)
        if old is None or old.reason != reason or old.writes != writes:
            log.warning("storage: %s failing: %s", "writes" if writes else "reads", reason)
        self._trouble = _Trouble(writes=writes, since=old.since if old is not None else _utcnow(), reason=reason)

    def _note_success(self, *, writing: bool) -> None:
        trouble = self._trouble
        if trouble is not None and (writing or not trouble.writes):
            log.info("storage: %s work again (failing since %s: %s)", "writes" if trouble.writes else "reads",
                        trouble.since.strftime("%Y-%m-%d %H:%M:%S UTC"), trouble.reason)
            self._trouble = None

    # -- reading and writing --------------------------------------------------------------

    async def _fetchall(
        self, sql: str, params: Sequence[Any] = (), *, slow: bool = False, budget: float | None = None
    ) -> list[sqlite3.Row]:
        """Run one read-only statement; *slow* ones get their own connections, *budget* bounds their time.

        A read over its *budget* raises `sqlite3.OperationalError` (see `is_interrupted`).
        """
        if self._lost is not None:
            raise StorageLost(self._lost)
        pool = (self._slow_readers if slow else None) or self._readers
        try:
            if pool is None:
                async with self._lock:
                    rows = list(await self._conn.execute_fetchall(sql, params))
            else:
                rows = await pool.fetchall(sql, params, budget=budget)
        except sqlite3.Error as error:
            translated = self._translate(error, writing=False)
            if translated is None:
                raise
            raise translated from error
        self._note_success(writing=False)
        return rows

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Yield the write connection for one write method; commit at the end, roll back on any error.

        Checks first that the file is still the one opened (`StorageLost`). Takes the write
        lock up front (``BEGIN IMMEDIATE``), waiting up to the busy timeout for another program
        to let go of it. SQLite errors that mean the database is in trouble come out as
        `StorageUnavailable`, always after the rollback, so nothing half-written is kept.
        """
        async with self._lock:
            self._check_file()
            conn = self._conn
            try:
                if conn.in_transaction:  # a cancelled method's statement may have opened one
                    await conn.rollback()
                await conn.execute("BEGIN IMMEDIATE")
                yield conn
                await conn.commit()
                if self._checkpoints is not None:
                    self._checkpoints.written()
            except BaseException as error:
                await self._rollback_quietly()
                if isinstance(error, sqlite3.Error):
                    translated = self._translate(error, writing=True)
                    if translated is not None:
                        raise translated from error
                raise
            self._note_success(writing=True)

    async def _write_at_once(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run *work* (plain sqlite3 calls) as one write transaction, in one trip to the connection's thread.

        `_transaction` makes a trip per statement, and each waits for the event loop's turn: while
        a thousand sends keep the loop busy, tens of milliseconds a trip. The delivery worker's
        batched claims and settlements come here. The same lock, file check and errors.
        """
        async with self._lock:
            self._check_file()
            try:
                # aiosqlite's own way to run a function on its thread, with the sqlite3 connection it keeps there.
                result = await self._conn._execute(_in_transaction, self._conn._conn, work)
            except sqlite3.Error as error:
                translated = self._translate(error, writing=True)
                if translated is not None:
                    raise translated from error
                raise
            if self._checkpoints is not None:
                self._checkpoints.written()
            self._note_success(writing=True)
            return result

    async def _rollback_quietly(self) -> None:
        try:
            await self._conn.rollback()
        except sqlite3.Error as error:  # the original error is the one worth reporting
            log.warning("storage: rollback failed: %s", error)

    async def _close_connections(self) -> None:
        """Close the read connections, then the write one (which checkpoints the WAL as the last one out)."""
        if self._checkpoints is not None:
            await self._checkpoints.close()
            self._checkpoints = None
        for pool in (self._slow_readers, self._readers):
            if pool is not None:
                await pool.close()
        async with self._lock:
            await close_connection(self._conn)


def _in_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """On the connection's thread: *work* between ``BEGIN IMMEDIATE`` and the commit, rolled back on any error."""
    if conn.in_transaction:  # a cancelled method's statement may have opened one
        conn.rollback()
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.commit()
    except BaseException:
        try:
            conn.rollback()
        except sqlite3.Error as error:  # the original error is the one worth reporting
            log.warning("storage: rollback failed: %s", error)
        raise
    return result


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
