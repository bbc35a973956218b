"""`Store`: the one object the core uses for everything it keeps."""

from __future__ import annotations

import os

import aiosqlite
from types import TracebackType

from storage import db
from storage.channels import ChannelQueries
from storage.deliveries import DeliveryQueries
from storage.outbox import OutboxQueries
from storage.papers import SEARCH_BUDGET, PaperQueries


class Store(PaperQueries, ChannelQueries, DeliveryQueries, OutboxQueries):
    """Paperboy's SQLite database: papers, channels and topics, the delivery ledger, small state.

    Open it with ``await Store.open(path)`` (or ``async with await Store.open(path) as store``);
    every method is safe to call concurrently from one event loop. Trouble with the database
    comes out as `bot.store_errors.StorageUnavailable` (may pass) or `StorageLost` (fatal);
    `trouble` says what is wrong at the moment and `check_alive` looks for a lost file.
    """

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = db.DEFAULT_BUSY_TIMEOUT,
        readers: int = 1,
        slow_readers: int = 2,
        search_budget: float = SEARCH_BUDGET,
    ) -> Store:
        """Open or create the database at *path*, in WAL mode with foreign keys on, migrated to the latest schema.

        Refuses a damaged database (`storage.CorruptDatabase`, after ``PRAGMA quick_check``) and
        one SQLite can only read (`storage.ReadOnlyDatabase`). *busy_timeout* is how many seconds
        a write waits for another program's write lock. Besides the write connection, *readers*
        read-only connections serve quick reads and *slow_readers* more serve full-text search
        and whole lists (0 and 0: everything on the one connection, as before); a search gets
        *search_budget* seconds of SQLite's time.
        """
        location = os.fspath(path)
        conn = await db.connect(location, busy_timeout=busy_timeout)
        opened: list[db.Reader] = []
        try:
            on_disk = location not in ("", ":memory:")
            if on_disk:  # another connection to ":memory:" would be another, empty, database
                for _ in range(readers + slow_readers):
                    opened.append(await db.Reader.open(location, busy_timeout=busy_timeout))
            store = cls(conn, path=location if on_disk else None, readers=opened[:readers],
                        slow_readers=opened[readers:])
        except BaseException:
            for reader in opened:
                await db.close_connection(reader.conn)
            await db.close_connection(conn)
            raise
        store._search_budget = search_budget
        return store

    async def close(self) -> None:
        """Close the connections, after any method still running has finished."""
        await self._close_connections()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def copy_to(self, path: str | os.PathLike[str]) -> None:
        """Write a consistent copy of the whole database to *path* (SQLite's online backup)."""
        async with self._lock:
            target = await aiosqlite.connect(os.fspath(path))
            try:
                await self._conn.backup(target)
            finally:
                await target.close()

    async def schema_version(self) -> int:
        """Return the database's schema version (its last applied migration)."""
        async with self._lock:
            return await db.schema_version(self._conn)

    async def get_state(self, key: str) -> str | None:
        """Return the value stored under *key* (last poll time, last error…), or None."""
        row = await self._fetchone("SELECT value FROM state WHERE key = ?", (key,))
        return row["value"] if row else None

    async def set_state(self, key: str, value: str | None) -> None:
        """Store *value* under *key*; None deletes the key."""
        async with self._transaction() as conn:
            if value is None:
                await conn.execute("DELETE FROM state WHERE key = ?", (key,))
            else:
                await conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))
