"""SQLite connections: the one writer (checked and migrated when opened) and the read-only readers,
each reader with a time budget SQLite enforces."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from dataclasses import dataclass

import aiosqlite

from bot.ports.store_errors import CorruptDatabase, ReadOnlyDatabase
from storage.sqlite.versions import migrate, schema_version

DEFAULT_BUSY_TIMEOUT = 5.0
"""Seconds a write waits for another program's write lock before giving up (`StorageUnavailable`)."""
PROGRESS_STEPS = 1000
"""SQLite virtual-machine steps between two looks at a read's time budget (a few milliseconds)."""


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
            if primary_code(error) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
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


def primary_code(error: sqlite3.Error) -> int | None:
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
        code = primary_code(error)
        if code == sqlite3.SQLITE_READONLY:
            raise ReadOnlyDatabase("SQLite can only read it") from None
        if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise
    finally:
        if conn.in_transaction:
            await conn.rollback()


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


async def close_connection(conn: aiosqlite.Connection) -> None:
    """Close *conn* and wait for its worker thread to end, so nothing it logs comes after the caller's last word."""
    await conn.close()
    thread = getattr(conn, "_thread", None)  # aiosqlite's worker: it logs once more after the close returns
    if thread is not None and thread.is_alive():
        await asyncio.to_thread(thread.join, 2.0)
