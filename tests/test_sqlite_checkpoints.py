"""The write-ahead log is moved into the database file in the background, not in the writer's commit."""

from __future__ import annotations

import asyncio
import os
import sqlite3

from storage.sqlite.store import Store


def backfilled(path) -> tuple[int, int]:
    """(frames in the log, frames of it already in the file), as another connection sees them."""
    with sqlite3.connect(path) as other:
        _, log, done = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return log, done


async def test_a_big_write_returns_before_its_checkpoint_and_the_file_catches_up_soon(tmp_path):
    path = tmp_path / "paperboy.db"
    store = await Store.open(path)
    try:
        size_before = os.path.getsize(path)
        # 5 MB: well past the 1,000 pages at which SQLite's own commit would checkpoint
        await store.set_state("big", "x" * 5_000_000)
        assert os.path.getsize(path) == size_before, "the commit only appended to the log"
        for _ in range(50):
            await asyncio.sleep(0.1)
            if os.path.getsize(path) > size_before + 4_000_000:
                break
        assert os.path.getsize(path) > size_before + 4_000_000, "the background checkpoint moved the log in"
        assert await store.get_state("big") == "x" * 5_000_000
    finally:
        await store.close()
    log, done = backfilled(path)
    assert log == done, "nothing is left behind in the log after closing"


async def test_closing_while_a_checkpoint_is_due_stops_it_cleanly(tmp_path):
    store = await Store.open(tmp_path / "paperboy.db")
    await store.set_state("k", "v")
    await store.close()  # the checkpoint task is cancelled, its connection closed: no warnings, no leaks
    reopened = await Store.open(tmp_path / "paperboy.db")
    try:
        assert await reopened.get_state("k") == "v"
    finally:
        await reopened.close()
