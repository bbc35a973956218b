"""Storage faults on real SQLite files: a lost file, a write lock held, a full disk, a read-only file,
a damaged database at start-up, and slow reads beside writes.

Each fault is made for real where the machine allows it: another `sqlite3` connection holds the
write lock, ``PRAGMA max_page_count`` makes SQLite find the disk full (SQLITE_FULL, as ENOSPC
does), ``chattr +i`` makes a file read-only even for root. The store must raise
`StorageUnavailable` or `StorageLost`, never a raw sqlite3 error, keep nothing half-written,
and work again once the fault is gone.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.model.channels import ChannelRef
from bot.model.paper import Paper
from bot.ports.store_errors import StorageLost, StorageUnavailable
from bot.model.usage import UsageError
from storage.sqlite import MAX_SEARCH_TERMS, SearchTooBroad, Store
from paperboy_testing.seed import seed_id, seed_titles_and_abstracts

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
REF = ChannelRef(platform="slack", workspace="T1", channel="C1")
LOCK_HELD = "another program holds a write lock on the database"
FULL = "the disk is full"


def papers(count: int = 92, *, first: int = 0, suffix: str = "") -> list[Paper]:
    seeds = seed_titles_and_abstracts()
    return [
        Paper(id=seed_id(n), title=f"{seeds[n % len(seeds)][0]}{suffix}", abstract=seeds[n % len(seeds)][1],
              daily_date=date(2026, 11, 1) + timedelta(days=n % 20), upvotes=n)
        for n in range(first, first + count)
    ]


@pytest.fixture
async def store(tmp_path):
    store = await Store.open(tmp_path / "paperboy.db", busy_timeout=0.2)
    yield store
    await store.close()


def chattr(*args: str) -> bool:
    """Run ``chattr``; False when this machine cannot (not root, no tool, a file system without it)."""
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", *args], capture_output=True).returncode == 0


@contextmanager
def read_only(*files: Path):
    """Make *files* read-only for whoever runs the tests: ``chattr +i`` as root (who writes through
    permission bits), ``chmod 0444`` otherwise. Skips the test when neither is possible."""
    if os.geteuid() == 0:
        done = [f for f in files if chattr("+i", str(f))]
        try:
            if len(done) != len(files):
                pytest.skip("running as root without chattr +i here: no way to make a file read-only for root")
            yield
        finally:
            for f in done:
                chattr("-i", str(f))
    else:
        modes = {f: f.stat().st_mode for f in files}
        for f in files:
            f.chmod(0o444)
        try:
            yield
        finally:
            for f, mode in modes.items():
                f.chmod(mode)


# --- a lost database ------------------------------------------------------------------------------


async def test_a_deleted_database_is_noticed_before_the_next_write_and_on_every_call_after(store, tmp_path):
    path = tmp_path / "paperboy.db"
    channel = await store.ensure_channel(REF)
    await store.check_alive()
    assert store.trouble is None
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)

    with pytest.raises(StorageLost, match=rf"the database file {path} was deleted"):
        await store.add_topic(channel.id, "merging", "u1", at=T0)
    with pytest.raises(StorageLost, match="was deleted"):
        await store.check_alive()
    with pytest.raises(StorageLost, match="was deleted"):
        await store.set_state("k", "v")
    with pytest.raises(StorageLost):  # reads too: what they would show is no longer kept anywhere
        await store.list_topics(channel.id)
    assert "was deleted" in store.trouble
    path.touch()  # a new empty file under the name is not the database either
    with pytest.raises(StorageLost, match="was deleted"):
        await store.check_alive()


async def test_a_moved_database_is_lost(store, tmp_path):
    await store.set_state("k", "v")
    (tmp_path / "paperboy.db").rename(tmp_path / "elsewhere.db")
    with pytest.raises(StorageLost, match="was deleted or moved away"):
        await store.check_alive()


async def test_a_database_replaced_by_another_file_is_lost(store, tmp_path):
    path = tmp_path / "paperboy.db"
    await store.set_state("k", "v")
    async with await Store.open(tmp_path / "other.db") as other:
        await other.set_state("k", "other")
    os.replace(tmp_path / "other.db", path)
    with pytest.raises(StorageLost, match=rf"the database file {path} was replaced by another file"):
        await store.set_state("k", "mine")
    with pytest.raises(StorageLost, match="replaced"):
        await store.check_alive()
    with sqlite3.connect(path) as raw:  # "mine" went nowhere (the old -wal beside it still says "v")
        assert raw.execute("SELECT value FROM state WHERE key = 'k'").fetchone() != ("mine",)


async def test_a_healthy_store_is_alive(store):
    for _ in range(3):
        await store.check_alive()
        await store.set_state("k", "v")
    assert store.trouble is None


# --- transient faults -----------------------------------------------------------------------------


async def test_a_write_lock_held_past_the_busy_timeout_is_unavailable_then_passes(store, tmp_path):
    await store.set_state("k", "before")
    other = sqlite3.connect(tmp_path / "paperboy.db", isolation_level=None)  # an open sqlite3 shell
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as caught:
            await store.set_state("k", "during")
        assert str(caught.value) == LOCK_HELD
        assert time.monotonic() - started < 2.0  # the busy timeout (0.2 s), not forever
        assert store.trouble.startswith("writes failing since ") and store.trouble.endswith(LOCK_HELD)
        assert await store.get_state("k") == "before"  # reads go on meanwhile
        with pytest.raises(StorageUnavailable, match="write lock"):
            await store.ensure_channel(REF)
    finally:
        other.execute("ROLLBACK")
        other.close()
    await store.set_state("k", "after")
    assert await store.get_state("k") == "after"
    assert store.trouble is None
    assert (await store.ensure_channel(REF)).ref == REF


async def test_the_busy_timeout_is_waited_for_a_lock_released_in_time(tmp_path):
    async with await Store.open(tmp_path / "p.db", busy_timeout=5.0) as store:
        other = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, lambda: (other.execute("ROLLBACK"), other.close()))
        await store.set_state("k", "v")  # waits for the lock, then writes
        assert await store.get_state("k") == "v" and store.trouble is None


async def test_a_full_disk_is_unavailable_keeps_nothing_half_written_and_passes(store):
    await store.save_papers(papers(5))
    await store._conn.execute("PRAGMA max_page_count = 1")  # SQLite caps it at the pages in use: no room to grow
    many = papers(92, first=5)
    with pytest.raises(StorageUnavailable) as caught:
        await store.save_papers(many)
    assert str(caught.value) == FULL and not isinstance(caught.value.__cause__, StorageUnavailable)
    assert await store.get_papers([p.id for p in many]) == {}  # all or nothing
    assert store.trouble.startswith("writes failing since ") and store.trouble.endswith(f"UTC: {FULL}")
    assert len(await store.get_papers([p.id for p in papers(5)])) == 5  # reads still work
    since = store.trouble_since
    with pytest.raises(StorageUnavailable, match=FULL):
        await store.save_papers(many)
    assert store.trouble_since == since  # since the first failure, not the latest

    await store._conn.execute("PRAGMA max_page_count = 1073741823")  # space freed
    await store.save_papers(many)
    assert len(await store.get_papers([p.id for p in many])) == len(many)
    assert store.trouble is None and store.trouble_since is None


async def test_a_multi_statement_write_that_fails_midway_is_rolled_back(store):
    channel = await store.ensure_channel(REF)
    await store._conn.execute("PRAGMA max_page_count = 1")
    matches = [(p.id, "why " * 500, None) for p in papers(60)]
    with pytest.raises(StorageUnavailable, match=FULL):
        await store.enqueue_posts(channel.id, matches, at=T0, max_per_hour=10)
    assert await store.delivery_counts(channel.id) == {} and await store.outbox_counts() == {}
    await store._conn.execute("PRAGMA max_page_count = 1073741823")
    assert len(await store.enqueue_posts(channel.id, matches, at=T0, max_per_hour=10)) == 60


async def test_a_connection_made_read_only_refuses_writes_as_unavailable(store):
    await store.set_state("k", "v")
    await store._conn.execute("PRAGMA query_only = ON")  # what SQLite says for a file it opened read-only
    with pytest.raises(StorageUnavailable, match="the database file is read-only"):
        await store.set_state("k", "w")
    assert "read-only" in store.trouble
    await store._conn.execute("PRAGMA query_only = OFF")
    await store.set_state("k", "w")
    assert await store.get_state("k") == "w" and store.trouble is None


async def test_files_made_read_only_while_running_refuse_writes_then_pass(store, tmp_path):
    """``chattr +i`` stops even writes through files already open, as a file system remounted read-only does."""
    if os.geteuid() != 0:
        pytest.skip("only root can make an open file read-only (chmod does not stop an open file)")
    path = tmp_path / "paperboy.db"
    await store.save_papers(papers(5))
    with read_only(path, Path(f"{path}-wal")):
        with pytest.raises(StorageUnavailable) as caught:
            await store.save_papers(papers(40, first=5))
        assert str(caught.value) in {"the disk reported an I/O error", "the database file is read-only"}
        assert store.trouble is not None
        assert len(await store.get_papers([p.id for p in papers(5)])) == 5  # what was saved is still read
    await store.save_papers(papers(40, first=5))
    assert len(await store.get_papers([p.id for p in papers(45)])) == 45
    assert store.trouble is None


async def test_errors_that_are_bugs_are_not_disguised(store):
    with pytest.raises(ValueError):
        await store.update_channel(1, colour="red")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        async with store._transaction() as conn:
            await conn.execute("INSERT INTO no_such_table VALUES (1)")
    assert store.trouble is None
    await store.set_state("k", "v")  # and the failed transaction was rolled back


async def test_trouble_names_the_day_when_it_began_before_today(store):
    from storage.sqlite import db

    store._trouble = db._Trouble(writes=True, since=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc), reason=FULL)
    assert store.trouble == f"writes failing since 2026-01-02 03:04 UTC: {FULL}"


# --- slow reads beside writes -----------------------------------------------------------------------

SLOW_READ = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT ?) SELECT count(*) FROM n"


async def timed(awaitable) -> float:
    started = time.monotonic()
    await awaitable
    return time.monotonic() - started


async def slow_read_steps(store: Store, seconds: float) -> int:
    """Return a SLOW_READ size that keeps SQLite busy about *seconds* on this machine."""
    steps = 200_000
    while (took := await timed(store._fetchall(SLOW_READ, (steps,), slow=True))) < seconds / 4:
        steps *= 4
    return int(steps * seconds / took)


async def test_slow_reads_hold_up_neither_writes_nor_quick_reads(store):
    channel = await store.ensure_channel(REF)
    steps = await slow_read_steps(store, 1.0)
    slow = [asyncio.create_task(store._fetchall(SLOW_READ, (steps,), slow=True)) for _ in range(4)]
    await asyncio.sleep(0.05)
    write = await timed(store.add_topic(channel.id, "merging", "u1", at=T0))
    state = await timed(store.set_state("poll.next_at", "soon"))
    read = await timed(store.list_topics(channel.id))
    slowest = await timed(asyncio.gather(*slow))
    assert max(write, state, read) < 0.25, (write, state, read)
    assert slowest > 0.5  # the reads really were slow, and really ran beside the writes
    assert [t.query for t in await store.list_topics(channel.id)] == ["merging"]


async def test_on_one_connection_a_slow_read_holds_up_writes(tmp_path):
    """The old arrangement (readers=0): what the separate read connections are for."""
    async with await Store.open(tmp_path / "one.db", readers=0, slow_readers=0) as store:
        steps = await slow_read_steps(store, 0.6)
        slow = asyncio.create_task(store._fetchall(SLOW_READ, (steps,), slow=True))
        await asyncio.sleep(0.05)
        write = await timed(store.set_state("k", "v"))
        await slow
        assert write > 0.2


async def test_a_cancelled_slow_read_gives_its_connection_back_when_it_ends(tmp_path):
    async with await Store.open(tmp_path / "p.db", slow_readers=1) as store:
        await store.save_papers(papers(20))
        steps = await slow_read_steps(store, 0.5)
        task = asyncio.create_task(store._fetchall(SLOW_READ, (steps,), slow=True))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await store.search_papers(["model"]))  # waits for the orphaned statement, then runs
        assert len(await store.papers_since(date(2026, 1, 1))) == 20


async def test_a_search_over_its_budget_is_too_broad_and_the_next_search_works(store):
    await store.save_papers(papers(92))
    store._search_budget = 0.0  # every search that takes SQLite more than a few thousand steps
    with pytest.raises(SearchTooBroad) as caught:
        await store.search_papers(["mo*", "le*", "la*", "da*", "re*", "co*"])
    assert isinstance(caught.value, UsageError)  # the engine shows it to the user as such
    assert "too much" in str(caught.value) and "longer prefixes" in str(caught.value)
    assert store.trouble is None  # a broad search is not a storage fault
    store._search_budget = 5.0
    assert await store.search_papers(["mo*", "le*", "la*", "da*", "re*", "co*"])


async def test_only_the_first_terms_of_a_huge_search_are_looked_for(store):
    await store.save_papers([Paper(id="2611.00001", title="Walrus tusks"), Paper(id="2611.00002", title="Narwhal")])
    filler = [f"filler{n}" for n in range(MAX_SEARCH_TERMS - 1)]
    assert [p.id for p in await store.search_papers([*filler, "walrus", "narwhal"])] == ["2611.00001"]
    assert [p.id for p in await store.search_papers(["narwhal", *filler, "walrus"])] == ["2611.00002"]


async def test_searches_and_writes_at_once_lose_nothing(store):
    await store.save_papers(papers(92))
    channel = await store.ensure_channel(REF)
    broad = ["mo*", "le*", "la*", "da*", "re*", "co*", "tr*", "ne*"]
    searches = [store.search_papers(broad) for _ in range(10)]
    writes = [store.add_topic(channel.id, f"topic {n}", "u1", at=T0) for n in range(20)]
    results = await asyncio.gather(*searches, *writes)
    assert all(isinstance(found, list) and found for found in results[:10])
    assert len(await store.list_topics(channel.id)) == 20


async def test_the_engine_answers_a_too_broad_search_as_a_usage_error(core):
    from adapters.memory import MemoryAdapter

    chat = MemoryAdapter(core.engine)
    await core.store.save_papers(papers(92))
    core.store._search_budget = 0.0
    reply = await chat.push("search mo* OR le* OR la* OR da* OR re* OR co*")
    message = reply.content.message
    assert "too much" in message and "Something went wrong" not in message
