"""A full disk shows in `status`, with its time, and nothing is lost once there is room again.

The database is a real SQLite file on a real, tiny file system (a tmpfs mounted for the test, which
needs root), filled to the last byte by another file, while the real poll loop and delivery run.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from adapters.memory import MemoryAdapter
from bot.runtime import app
from bot.runtime.app import open_core, run_poller
from bot.model.replies import Text
from paperboy_testing.seed import make_item

FULL = "the disk is full"


@pytest.fixture
def tiny_disk(tmp_path):
    """A 16 MB file system of its own; skipped where it cannot be mounted (not root, no tmpfs)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny file system needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of *folder*'s file system; return the file that holds them."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError:  # no space left for this much: try smaller pieces
                pass
    return filler


def settle_wal(database: Path) -> None:
    """Checkpoint the WAL into the database and empty its file."""
    with sqlite3.connect(database) as other:
        other.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def status_text(reply) -> str:
    assert isinstance(reply.content, Text), reply
    return reply.content.body


async def until(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


async def test_a_full_disk_shows_in_status_with_its_time_and_nothing_is_lost(
        tiny_disk, settings, fake_hf, monkeypatch) -> None:
    monkeypatch.setattr(app, "STORAGE_BACKOFF", (0.2, 0.5))
    monkeypatch.setattr("bot.delivery.worker.STORAGE_BACKOFF", (0.2, 0.5))
    settings = settings.model_copy(update={"database": str(tiny_disk / "paperboy.db"), "poll_interval": 1.0})
    async with open_core(settings) as core:
        chat = MemoryAdapter(core.engine)
        core.poller.adapters[chat.platform] = chat
        assert "Subscribed" in (await chat.push("subscribe diskproof")).content.title
        await core.poller.poll_once()  # the baseline: nothing old is posted
        # As in a bot that has run for a while: the WAL is checkpointed as it goes, so small writes reuse
        # its pages without growing the file, while a poll's batch of papers needs more room than it has.
        settle_wal(tiny_disk / "paperboy.db")
        await core.store._conn.execute("PRAGMA wal_autocheckpoint = 1")
        for n in range(3):  # the writes a failing poll makes, each a page or two of the log
            for key in ("poll.last_error", "poll.last_error_at", "poll.next_at", "poll.started_at"):
                await core.store.set_state(key, "x" * 120)
                await core.store.set_state(key, None)
        filler = fill(tiny_disk)
        today = datetime.now(timezone.utc).date()
        new = [make_item(800 + n, f"Diskproof delivery, part {n}", "Nothing is lost. " * 150,
                         daily=today, paper_id=f"2411.{800 + n:05d}") for n in range(20)]
        for item in new:
            fake_hf.add(item)
        stop = asyncio.Event()
        poller = asyncio.create_task(run_poller(core, stop=stop, grace=1.0))
        try:
            async def disk_full_shown():  # the database's line may come a moment before the poll's
                text = status_text(await chat.push("status"))
                return text if any(FULL in line and line.startswith("Current error") for line in text.splitlines()) else None

            shown = await until(disk_full_shown, timeout=15, what="status showing the full disk")
            line = next(line for line in shown.splitlines() if FULL in line and line.startswith("Current error"))
            assert line.startswith("Current error (no successful poll since): the database refuses writes "
                                   f"({FULL}) since ") and " UTC" in line, shown
            assert "Next poll: not scheduled" not in shown, "the poll is retried, not stopped"
            await asyncio.sleep(2.0)  # polls and deliveries go on failing, and status keeps saying so
            assert FULL in status_text(await chat.push("status"))
            assert not chat.history and not poller.done()

            filler.unlink()  # room again
            async def all_posted():
                posted = [paper_id for _, post in chat.history for paper_id in post.paper_ids]
                return sorted(posted) == sorted(item["paper"]["id"] for item in new)  # each once

            await until(all_posted, timeout=20, what="every paper, once there is room again")
            after = status_text(await chat.push("status"))
            assert "Current error" not in after and "Database:" not in after, after
            assert f"Last error (past; a later poll succeeded): the database refuses writes ({FULL})" in after
        finally:
            stop.set()
            await asyncio.gather(poller, return_exceptions=True)
