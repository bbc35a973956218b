"""`Store`: the one object the core uses for everything it keeps."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import aiosqlite

from storage.sqlite import connection, portable, versions
from storage.sqlite.bulk_enqueue import BulkEnqueueQueries
from storage.sqlite.channels import ChannelQueries
from storage.sqlite.checkpoints import Checkpointer
from storage.sqlite.community import CommunityQueries
from storage.sqlite.deliveries import DeliveryQueries
from storage.sqlite.feeds import FeedQueries
from storage.sqlite.history import HistoryQueries
from storage.sqlite.installations import InstallationQueries
from storage.sqlite.legacy_slack import LegacySlackQueries
from storage.sqlite.outbox import OutboxQueries
from storage.sqlite.papers import SEARCH_BUDGET, PaperQueries
from storage.sqlite.process_lock import ProcessLock
from storage.sqlite.signals import SignalQueries
from storage.schema import pending_names


class Store(PaperQueries, ChannelQueries, DeliveryQueries, OutboxQueries, InstallationQueries, LegacySlackQueries,
            CommunityQueries, SignalQueries, BulkEnqueueQueries, FeedQueries,
            HistoryQueries):
    """Paperboy's SQLite database: papers, channels and topics, the delivery ledger, small state.

    Open it with ``await Store.open(path)`` (or ``async with await Store.open(path) as store``);
    every method is safe to call concurrently from one event loop. Trouble with the database
    comes out as `bot.ports.store_errors.StorageUnavailable` (may pass) or `StorageLost` (fatal);
    `trouble` says what is wrong at the moment and `check_alive` looks for a lost file.
    """

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = connection.DEFAULT_BUSY_TIMEOUT,
        readers: int = 1,
        slow_readers: int = 2,
        search_budget: float = SEARCH_BUDGET,
        exclusive: bool = False,
        apply_migrations: bool = True,
    ) -> Store:
        """Open or create the database at *path*, in WAL mode with foreign keys on, migrated to the latest schema.

        Refuses a damaged database (`storage.sqlite.CorruptDatabase`, after ``PRAGMA quick_check``) and
        one SQLite can only read (`storage.sqlite.ReadOnlyDatabase`). *busy_timeout* is how many seconds
        a write waits for another program's write lock. Besides the write connection, *readers*
        read-only connections serve quick reads and *slow_readers* more serve full-text search
        and whole lists (0 and 0: everything on the one connection, as before); a search gets
        *search_budget* seconds of SQLite's time.

        With *exclusive*, this process must be the only Paperboy on the file (`DatabaseInUse`
        otherwise): two processes would both poll and both deliver, and each would take the
        other's sends in flight for crash leftovers. Several processes need Postgres.
        Without *apply_migrations* the schema is left as it is, for `pending_migrations` to report.
        """
        location = os.fspath(path)
        on_disk = location not in ("", ":memory:")
        lock = ProcessLock.take(location) if exclusive and on_disk else None
        try:
            conn = await connection.connect(location, busy_timeout=busy_timeout, apply_migrations=apply_migrations)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        opened: list[connection.Reader] = []
        try:
            if on_disk:  # another connection to ":memory:" would be another, empty, database
                for _ in range(readers + slow_readers):
                    opened.append(await connection.Reader.open(location, busy_timeout=busy_timeout))
            store = cls(conn, path=location if on_disk else None, readers=opened[:readers],
                        slow_readers=opened[readers:])
            if on_disk:
                store._checkpoints = await Checkpointer.open(location, conn)
        except BaseException:
            for reader in opened:
                await connection.close_connection(reader.conn)
            await connection.close_connection(conn)
            if lock is not None:
                lock.release()
            raise
        store._search_budget = search_budget
        store._process_lock = lock
        return store

    _process_lock: ProcessLock | None = None

    async def close(self) -> None:
        """Close the connections, after any method still running has finished."""
        await self._close_connections()
        if self._process_lock is not None:
            self._process_lock.release()
            self._process_lock = None

    async def try_lead(self, role: str) -> bool:
        """Always True: on SQLite one process owns the file (see *exclusive* in `open`)."""
        return True

    async def dump_table(self, table: str) -> list[dict[str, Any]]:
        """Return every row of *table* (one of `bot.ports.store.PORTABLE_TABLES`) in the portable form."""
        rows = await self._fetchall(portable.select_sql(table), slow=True)
        return [portable.from_sqlite(table, dict(row)) for row in rows]

    async def load_table(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert *rows* (portable form, ids kept) into *table*, in one transaction."""
        if not rows:
            return
        sql = portable.insert_sql(table)
        async with self._transaction() as conn:
            await conn.executemany(sql, [portable.to_sqlite(table, row) for row in rows])

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
            return await versions.schema_version(self._conn)

    async def pending_migrations(self) -> list[str]:
        """Return the names of the migrations this Paperboy has that the database lacks; it changes nothing."""
        return pending_names(versions.migrations(), await self.schema_version())

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
