"""`Store`: the one object the core uses for everything it keeps."""

from __future__ import annotations

import os

import aiosqlite
from types import TracebackType

from storage import db
from storage.channels import ChannelQueries
from storage.deliveries import DeliveryQueries
from storage.outbox import OutboxQueries
from storage.papers import PaperQueries


class Store(PaperQueries, ChannelQueries, DeliveryQueries, OutboxQueries):
    """Paperboy's SQLite database: papers, channels and topics, the delivery ledger, small state.

    Open it with ``await Store.open(path)`` (or ``async with await Store.open(path) as store``);
    every method is safe to call concurrently from one event loop.
    """

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open or create the database at *path*, in WAL mode with foreign keys on, migrated to the latest schema."""
        return cls(await db.connect(path))

    async def close(self) -> None:
        """Close the connection, after any method still running has finished."""
        async with self._lock:
            await self._conn.close()

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
