"""Open the SQLite database, run the numbered migrations, and share one connection safely."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib.resources import files
from typing import Any

import aiosqlite

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer Paperboy than this one."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered ``.sql`` file from ``storage/migrations``."""

    version: int
    name: str
    sql: str


@lru_cache(maxsize=1)
def migrations() -> tuple[Migration, ...]:
    """Return the shipped migrations in order, checking they are numbered 1, 2, 3… without gaps."""
    found = []
    for entry in files(__package__).joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"storage migrations are not numbered 1..n: {[m.name for m in found]}")
    return tuple(found)


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


async def connect(path: str | os.PathLike[str], *, target: int | None = None) -> aiosqlite.Connection:
    """Open (creating if needed) the database at *path* in WAL mode with foreign keys on, and migrate it."""
    conn = await aiosqlite.connect(os.fspath(path))
    try:
        conn.row_factory = sqlite3.Row
        # WAL lets readers (a backup, sqlite3 on the command line) work while the bot writes.
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA busy_timeout = 5000")
        await migrate(conn, target=target)
    except BaseException:
        await conn.close()
        raise
    return conn


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


class Queries:
    """Hold the one shared connection and serialise every method's use of it.

    The engine and the poller call the store concurrently from one event loop. aiosqlite runs
    statements one at a time, but a method's statements could interleave with another's, and one
    method's commit would then commit the other's half-done work; the lock makes each method atomic.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return list(await self._conn.execute_fetchall(sql, params))

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Yield the connection for one write method; commit at the end, roll back on error."""
        async with self._lock:
            try:
                yield self._conn
            except BaseException:
                await self._conn.rollback()
                raise
            await self._conn.commit()
