"""Open the SQLite database, run the numbered migrations, share its connections safely, and report trouble."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib.resources import files
from typing import Any

import aiosqlite

from bot.store_errors import (  # noqa: F401  (re-exported: storage.db names them too)
    CorruptDatabase, DatabaseInUse, ReadOnlyDatabase, SchemaTooNewError, StorageLost, StorageUnavailable,
    UnusableDatabase,
)

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered ``.sql`` file from a backend's ``migrations`` folder."""

    version: int
    name: str
    sql: str


def read_migrations(package: str) -> tuple[Migration, ...]:
    """Return the migrations shipped in *package*'s ``migrations`` folder in order, checking they are numbered 1..n."""
    found = []
    for entry in files(package).joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{package} migrations are not numbered 1..n: {[m.name for m in found]}")
    return tuple(found)


@lru_cache(maxsize=1)
def migrations() -> tuple[Migration, ...]:
    """Return SQLite's migrations (``storage/migrations``) in order."""
    return read_migrations(__package__)


def latest_version() -> int:
    """Return the schema version this code knows, the number of the last migration."""
    return migrations()[-1].version


async def schema_version(conn: aiosqlite.Connection) -> int:
    """Return the database's ``PRAGMA user_version``."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0])


async def migrate(conn: aiosqlite.Connection, *, target: int | None = None) -> int:
    """Apply every migration above the database's version up to *target* (default: the latest).

    Each migration and its ``user_version`` bump run in one transaction, so a failed
    migration leaves the database exactly as it was. Returns the version reached.
    """
    known = latest_version()
    target = known if target is None else target
    current = await schema_version(conn)
    if current > known:
        raise SchemaTooNewError(
            f"the database is at schema version {current}, but this Paperboy only knows versions up to "
            f"{known}; run a newer Paperboy or restore a backup"
        )
    if not 0 <= target <= known:
        raise ValueError(f"target version must be between 0 and {known}, not {target}")
    if target < current:
        raise ValueError(f"cannot migrate down from version {current} to {target}")
    for migration in migrations()[current:target]:
        # executescript commits anything pending first and runs the script as written, so the
        # explicit BEGIN/COMMIT make the migration and its version bump one transaction.
        script = f"BEGIN;\n{migration.sql}\n;PRAGMA user_version = {migration.version};\nCOMMIT;"
        try:
            await conn.executescript(script)
        except BaseException:
            if conn.in_transaction:
                await conn.rollback()
            raise
    return target


def pending_names(known: Sequence[Migration], current: int) -> list[str]:
    """Return the names of the *known* migrations above version *current*; `SchemaTooNewError` past them all."""
    if current > len(known):
        raise SchemaTooNewError(
            f"the database is at schema version {current}, but this Paperboy only knows versions up to "
            f"{len(known)}; run a newer Paperboy or restore a backup"
        )
    return [m.name for m in known[current:]]


DEFAULT_BUSY_TIMEOUT = 5.0
"""Seconds a write waits for another program's write lock before giving up (`StorageUnavailable`)."""





async def connect(
    path: str | os.PathLike[str], *, target: int | None = None, busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    check: bool = True, apply_migrations: bool = True,
) -> aiosqlite.Connection:
    """Open (creating if needed) the database at *path* in WAL mode with foreign keys on, and migrate it.

    With *check* (the default), a database that is damaged or cannot be written is refused
    before anything is migrated: `CorruptDatabase` or `ReadOnlyDatabase`. Without
    *apply_migrations*, the schema is left as it is (`paperboy doctor` only looks).
    """
    conn = await aiosqlite.connect(os.fspath(path))
    try:
        conn.row_factory = sqlite3.Row
        try:
            # WAL lets readers (a backup, sqlite3 on the command line) work while the bot writes.
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute(f"PRAGMA busy_timeout = {_milliseconds(busy_timeout)}")
            if check:
                await _check_intact(conn)
                await _check_writable(conn)
        except sqlite3.DatabaseError as error:
            if _primary_code(error) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                raise CorruptDatabase(_corrupt_reason(str(error))) from None
            raise
        if apply_migrations:
            await migrate(conn, target=target)
    except BaseException:
        await close_connection(conn)
        raise
    return conn


async def connect_reader(path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
                         ) -> aiosqlite.Connection:
    """Open a second, read-only connection to the (already migrated) database at *path*.

    In WAL mode it reads the last committed state while the main connection writes.
    """
    conn = await aiosqlite.connect(os.fspath(path))
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA query_only = ON")
        await conn.execute(f"PRAGMA busy_timeout = {_milliseconds(busy_timeout)}")
    except BaseException:
        await close_connection(conn)
        raise
    return conn


def _milliseconds(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _primary_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _corrupt_reason(text: str) -> str:
    text = " ".join(text.split())
    if "not a database" in text:
        return "it is not an SQLite database"
    return f"it is damaged: {text[:200]}"


async def _check_intact(conn: aiosqlite.Connection) -> None:
    """Raise `CorruptDatabase` unless ``PRAGMA quick_check`` says ``ok`` (O(size), well under a second for 100 MB)."""
    rows = await conn.execute_fetchall("PRAGMA quick_check(1)")
    found = [str(row[0]) for row in rows]
    if found != ["ok"]:
        raise CorruptDatabase(_corrupt_reason("quick_check found " + "; ".join(found)))


async def _check_writable(conn: aiosqlite.Connection) -> None:
    """Raise `ReadOnlyDatabase` when SQLite opened the file read-only.

    SQLite falls back to read-only when it cannot open the file for writing (permission bits,
    an immutable file, a read-only mount), and then fails at the first write. A write that is
    rolled back at once finds out without changing anything; a write lock held by another
    program is no reason to refuse (the writes wait or fail as `StorageUnavailable` later).
    """
    version = await schema_version(conn)
    try:
        await conn.execute("BEGIN IMMEDIATE")
        await conn.execute(f"PRAGMA user_version = {version}")
    except sqlite3.OperationalError as error:
        code = _primary_code(error)
        if code == sqlite3.SQLITE_READONLY:
            raise ReadOnlyDatabase("SQLite can only read it") from None
        if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise
    finally:
        if conn.in_transaction:
            await conn.rollback()


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
PROGRESS_STEPS = 1000
"""SQLite virtual-machine steps between two looks at a read's time budget (a few milliseconds)."""


def storage_reason(error: sqlite3.Error) -> str | None:
    """Return the short reason for `StorageUnavailable` if *error* means the database is in trouble, else None."""
    code = _primary_code(error)
    return None if code is None else _REASONS.get(code)


def is_interrupted(error: BaseException) -> bool:
    """Say whether *error* is a read stopped for going over its time budget."""
    return isinstance(error, sqlite3.OperationalError) and _primary_code(error) == sqlite3.SQLITE_INTERRUPT


@dataclass(frozen=True, slots=True)
class _Trouble:
    writes: bool
    since: datetime
    reason: str


class _Budget:
    """A read connection's progress handler: asks SQLite to stop once the current read is past its deadline."""

    __slots__ = ("deadline",)

    def __init__(self) -> None:
        self.deadline: float | None = None

    def __call__(self) -> int:
        deadline = self.deadline
        return 1 if deadline is not None and time.monotonic() > deadline else 0


@dataclass(frozen=True, slots=True)
class Reader:
    """A read-only connection and the budget its progress handler enforces."""

    conn: aiosqlite.Connection
    budget: _Budget

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Reader:
        conn = await connect_reader(path, busy_timeout=busy_timeout)
        budget = _Budget()
        await conn.set_progress_handler(budget, PROGRESS_STEPS)
        return cls(conn, budget)


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
            except BaseException as error:
                await self._rollback_quietly()
                if isinstance(error, sqlite3.Error):
                    translated = self._translate(error, writing=True)
                    if translated is not None:
                        raise translated from error
                raise
            self._note_success(writing=True)

    async def _rollback_quietly(self) -> None:
        try:
            await self._conn.rollback()
        except sqlite3.Error as error:  # the original error is the one worth reporting
            log.warning("storage: rollback failed: %s", error)

    async def _close_connections(self) -> None:
        """Close the read connections, then the write one (which checkpoints the WAL as the last one out)."""
        for pool in (self._slow_readers, self._readers):
            if pool is not None:
                await pool.close()
        async with self._lock:
            await close_connection(self._conn)


async def close_connection(conn: aiosqlite.Connection) -> None:
    """Close *conn* and wait for its worker thread to end, so nothing it logs comes after the caller's last word."""
    await conn.close()
    thread = getattr(conn, "_thread", None)  # aiosqlite's worker: it logs once more after the close returns
    if thread is not None and thread.is_alive():
        await asyncio.to_thread(thread.join, 2.0)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
