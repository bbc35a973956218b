"""Moving the write-ahead log into the database file in the background, not in the writer's commit.

By default the commit that takes the log past 1,000 pages copies the whole log into the file
and syncs it to disk before returning: a poll that queues 30,000 posts at 10,000 channels
waited half a second in its commit for that. Here the writer's commits only append to the log,
and a connection of its own (its own thread) runs a passive checkpoint after writes, at most
once a `PAUSE`, while the writer goes on: a passive checkpoint never blocks writers or readers.
The writer keeps SQLite's own checkpoint as a backstop, far out (`BACKSTOP_PAGES`), in case
this one cannot keep up (a reader holding an old snapshot for minutes keeps both waiting).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3

import aiosqlite

log = logging.getLogger(__name__)

PAUSE = 1.0
"""Seconds between two background checkpoints: one sync of the file per second at most."""
BACKSTOP_PAGES = 50_000
"""The writer's own checkpoint (``wal_autocheckpoint``) for a log this long (about 200 MB)."""


class Checkpointer:
    """Checkpoint the database at *path* in the background after writes: call `written` after each commit."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: str | os.PathLike[str], writer: aiosqlite.Connection) -> Checkpointer:
        await writer.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
        return cls(await aiosqlite.connect(os.fspath(path)))

    def written(self) -> None:
        """A write was committed: checkpoint soon."""
        self._due.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sqlite checkpoints")

    async def _run(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            try:
                await self._conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")  # read to the end: done
            except sqlite3.Error as error:  # the writer's next commit says what is wrong; this only waits
                log.debug("background checkpoint: %s", error)
            await asyncio.sleep(PAUSE)

    async def close(self) -> None:
        """Stop checkpointing and close the connection (the last connection to close checkpoints all)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._conn.close()
