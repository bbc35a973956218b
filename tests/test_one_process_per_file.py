"""One Paperboy process per SQLite file: a second one refuses to start, in one line pointing at Postgres.

Two processes on one file would both poll and both deliver, each taking the other's sends in
flight for crash leftovers (20 duplicates in 900 posts, measured before this check existed).
"""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from bot.runtime.app import open_database
from bot.runtime.db_copy import CopyRefused, copy_database
from bot.runtime.settings import StartupError
from bot.ports.store import describe_database, open_store
from tests.test_cli import env  # noqa: F401  (a fixture)
from tests.test_cli import paperboy


async def test_a_second_opening_of_the_file_is_refused_until_the_first_closes(settings):
    first = await open_database(settings)
    try:
        with pytest.raises(StartupError) as refused:
            await open_database(settings)
        line = str(refused.value)
        assert "\n" not in line and "another Paperboy process" in line and "postgresql://" in line
        assert f"pid {os.getpid()}" in line
    finally:
        await first.close()
    again = await open_database(settings)  # the lock went with the first store
    await again.close()


async def test_three_processes_started_together_on_an_empty_file_one_runs_the_others_refuse(env):
    env = env | {"PAPERBOY_LOG_FILE": "-"}
    # `console` with an open stdin keeps the winner running while the other two try.
    winner = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", env=env, cwd=env["HOME"], stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        winner.stdin.write(b"topics\n")
        await asyncio.wait_for(winner.stdout.readline(), 30)  # it answered: its store is open
        results = await asyncio.gather(*(paperboy("poll", "--once", env=env) for _ in range(2)))
    finally:
        winner.stdin.close()
        await asyncio.wait_for(winner.wait(), 30)
    for code, out, err in results:
        assert code == 1 and out == ""
        assert err.count("\n") == 1 and "Traceback" not in err and "already exists" not in err
        assert "another Paperboy process" in err and "postgresql://" in err


async def test_db_copy_moves_everything_and_refuses_a_target_that_is_not_empty(core, tmp_path, clock):
    from bot.model.channels import ChannelRef

    store = core.store
    channel = await store.ensure_channel(ChannelRef("slack", "T1", "C1"))
    topic = await store.add_topic(channel.id, "model merging", "ana", at=clock())
    await store.enqueue_posts(channel.id, [("2401.00001", "why", topic.id)], at=clock(), max_per_hour=10)
    await store.save_installation("bot", enterprise_id="", team_id="T1", user_id="", data='{"bot_token": "x"}',
                                  at=clock())
    await store.set_state("poll.last_ok_at", "2026-12-01T00:00:00+00:00")
    target = await open_store(str(tmp_path / "copy.db"))
    try:
        copied = await copy_database(store, target)
        assert {t.table: t.target_rows for t in copied if t.target_rows} == {
            "channels": 1, "topics": 1, "deliveries": 1, "outbox": 1, "installations": 1, "state": 1}
        assert all(t.source_rows == t.target_rows for t in copied)
        (moved,) = await target.list_topics(channel.id)
        assert (moved.id, moved.number, moved.query) == (topic.id, 1, "model merging")
        assert [e.tag for e in await target.outbox_in_state("pending")] == ["paper:2401.00001"]
        assert await target.find_installation("bot", enterprise_id="", team_id="T1") == '{"bot_token": "x"}'
        later = await target.add_topic(channel.id, "unlearning", "ana", at=clock())
        assert later.id > topic.id and later.number == 2  # ids carry on after the copied ones
        with pytest.raises(CopyRefused, match="already has rows in channels"):
            await copy_database(store, target)
    finally:
        await target.close()


def test_a_database_url_is_shown_without_its_password():
    assert describe_database("postgresql://bot:s3cret@db:5432/paperboy") == "postgresql://bot:***@db:5432/paperboy"
    assert describe_database("postgresql://postgres:@/x?host=/tmp/s") == "postgresql://postgres:@/x?host=/tmp/s"
    assert describe_database("paperboy.db") == "paperboy.db"


async def test_what_a_running_console_leaves_is_ignored_by_git_and_a_clean_exit_removes_the_lock(env):
    folder = env["HOME"]
    console = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", env=env, cwd=folder, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        console.stdin.write(b"topics\n")
        await asyncio.wait_for(console.stdout.readline(), 30)  # it answered: its store is open
        left = sorted(os.listdir(folder))
    finally:
        console.stdin.close()
        assert await asyncio.wait_for(console.wait(), 30) == 0
    assert {"cli.db", "cli.db-paperboy.lock", "paperboy.log"} <= set(left), left
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    check = await asyncio.create_subprocess_exec("git", "-C", root, "check-ignore", "--no-index", "--verbose",
                                                 "--non-matching", *left, stdout=asyncio.subprocess.PIPE)
    verdicts = (await check.communicate())[0].decode().splitlines()
    assert [line for line in verdicts if line.startswith("::")] == [], "files a user would see in `git status`"
    assert os.path.exists(env["PAPERBOY_DATABASE"])
    assert not os.path.exists(env["PAPERBOY_DATABASE"] + "-paperboy.lock")


def test_a_lock_file_removed_between_opening_and_locking_it_is_not_taken(tmp_path, monkeypatch):
    """The first process stops (removing the file) just after a second one opened it: the second must not
    hold a lock on a file nobody else can find, or a third would create a new one and run beside it."""
    import fcntl

    from bot.ports.store_errors import DatabaseInUse
    from storage.sqlite.process_lock import ProcessLock

    database = str(tmp_path / "race.db")
    first = ProcessLock.take(database)
    flock = fcntl.flock

    def first_stops_then_lock(fd: int, operation: int) -> None:
        monkeypatch.setattr(fcntl, "flock", flock)
        first.release()
        flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", first_stops_then_lock)
    second = ProcessLock.take(database)
    try:
        with pytest.raises(DatabaseInUse):
            ProcessLock.take(database)  # a third process, while the second runs
        assert os.path.exists(second.path)
    finally:
        second.release()
    assert not os.path.exists(second.path)
