"""The poll loop under a source that never finishes, and one person asking for too much at once.

Real HTTP to the fake Hugging Face on 127.0.0.1, a real SQLite file, the real poll loop.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from adapters.memory import MemoryAdapter
from bot.runtime.app import open_core, run_poller
from bot.model.replies import Error, Text


async def wait_for_state(core, key: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while (value := await core.store.get_state(key)) is None:
        assert time.monotonic() < deadline, f"{key} never set"
        await asyncio.sleep(0.05)
    return value


def status_text(reply) -> str:
    assert isinstance(reply.content, Text), reply
    return reply.content.body


async def test_a_hung_poll_shows_in_status_and_the_watchdog_stops_it(settings, fake_hf) -> None:
    fake_hf.hang_seconds = 60.0
    fake_hf.fail_next("timeout", "timeout")  # trending and daily both hang far past every timeout
    async with open_core(settings.model_copy(update={"poll_timeout": 1.0})) as core:
        chat = MemoryAdapter(core.engine)
        stop = asyncio.Event()
        poller = asyncio.create_task(run_poller(core, stop=stop, grace=0.5))
        await wait_for_state(core, "poll.started_at")
        running = status_text(await chat.push("status"))
        assert "Poll in progress: running for" in running and "Last error: none" in running

        error = await wait_for_state(core, "poll.last_error")
        assert "still running after 1 s and was stopped" in error
        after = status_text(await chat.push("status"))
        assert "Current error (no successful poll since): the poll was still running after 1 s" in after
        assert "Poll in progress" not in after and "Next poll: " in after
        stop.set()
        await asyncio.wait_for(poller, 5)


async def test_stop_ends_a_hung_poll_within_the_grace_period(settings, fake_hf) -> None:
    fake_hf.hang_seconds = 60.0
    fake_hf.fail_next("timeout", "timeout")
    async with open_core(settings) as core:  # the watchdog (300 s) is not what ends it
        stop = asyncio.Event()
        poller = asyncio.create_task(run_poller(core, stop=stop, grace=0.5))
        await wait_for_state(core, "poll.started_at")
        started = time.monotonic()
        stop.set()
        await asyncio.wait_for(poller, 5)
        assert time.monotonic() - started < 2
        assert await core.store.get_state("poll.started_at") is None


async def test_an_overdue_poll_is_called_overdue(core) -> None:
    chat = MemoryAdapter(core.engine)
    overdue = core.engine.clock() - timedelta(minutes=5)
    await core.store.set_state("poll.next_at", overdue.isoformat())
    assert "Next poll: overdue by 300 s" in status_text(await chat.push("status"))


async def test_one_caller_gets_two_commands_at_once_and_a_third_is_turned_away(settings, fake_hf) -> None:
    fake_hf.hang_seconds = 1.0
    fake_hf.fail_next("timeout", "timeout")
    async with open_core(settings) as core:
        chat = MemoryAdapter(core.engine)
        slow = [asyncio.create_task(chat.push(f"search slow {n}")) for n in range(2)]
        await asyncio.sleep(0.2)
        turned_away = await chat.push("search a third one")
        assert isinstance(turned_away.content, Error)
        assert "still working on your last 2 requests" in turned_away.content.message
        for reply in await asyncio.gather(*slow):
            assert not isinstance(reply.content, Error) or "still working" not in reply.content.message
        # Once answered, the caller may ask again.
        assert not isinstance((await chat.push("topics")).content, Error)


# -- the database file disappears while Paperboy runs -------------------------------------------


async def test_deleting_the_database_while_running_stops_paperboy_in_one_line(tmp_path, fake_hf) -> None:
    import os
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    database = tmp_path / "paperboy.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))}
    env |= {"PYTHONPATH": str(root), "HOME": str(tmp_path), "PAPERBOY_DATABASE": str(database),
            "PAPERBOY_HF_API_URL": fake_hf.base_url, "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9",
            "PAPERBOY_POLL_INTERVAL": "3600", "PAPERBOY_LOG_FILE": "-"}
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        bot.stdin.write(b"subscribe model merging\n")
        await bot.stdin.drain()
        answer = b""
        while b"Subscribed" not in answer:
            answer += await asyncio.wait_for(bot.stdout.read(4096), 20)
        await _first_poll_done(database)  # deleted between polls: a command, not the poll, finds out first
        database.unlink()
        bot.stdin.write(b"subscribe unlearning\n")
        await bot.stdin.drain()
        # The poll loop looks at the file every few seconds; the process must end by itself.
        code = await asyncio.wait_for(bot.wait(), 20)
        out, err = (answer + await bot.stdout.read()).decode(), (await bot.stderr.read()).decode()
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert code == 1
    assert "lost its database" in out, "the command that arrived after the deletion is not answered 'Subscribed'"
    assert out.count("Subscribed") == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("paperboy: stopped: the database file") and str(database) in last
    assert "was deleted" in last and "Traceback" not in err


async def _first_poll_done(database, timeout: float = 20) -> None:
    import sqlite3
    import time

    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(database) as conn:  # a second reader, as `paperboy status` would be
            if conn.execute("SELECT 1 FROM state WHERE key = 'poll.next_at'").fetchone():
                return
        assert time.monotonic() < deadline, "the first poll did not finish"
        await asyncio.sleep(0.05)


# -- another program holds the write lock: keep running, say so, lose nothing ---------------------


async def test_a_held_write_lock_is_survived_reported_and_outlasted(settings, fake_hf, monkeypatch, caplog) -> None:
    import sqlite3

    from bot.runtime import app
    from bot.commands.engine import Engine, utcnow
    from bot.delivery.poller import Poller
    from bot.sources import ArxivClient, HuggingFaceClient
    from bot.sources.lookups import Lookups
    from storage.sqlite import Store

    monkeypatch.setattr(app, "STORAGE_BACKOFF", (0.1, 0.2))
    store = await Store.open(settings.database, busy_timeout=0.2)
    hf = HuggingFaceClient(base_url=settings.hf_api_url, timeout=5)
    arxiv = ArxivClient(base_url=settings.arxiv_api_url, timeout=5)
    engine = Engine(store=store, lookups=Lookups(store=store, hf=hf, arxiv=arxiv, clock=utcnow))
    core = app.Core(settings.model_copy(update={"poll_interval": 3600}), store, hf, arxiv, engine,
                    Poller(store=store, hf=hf))
    chat = MemoryAdapter(engine)
    blocker = sqlite3.connect(settings.database)  # like an open `sqlite3` shell mid-transaction
    stop = asyncio.Event()
    try:
        blocker.execute("BEGIN IMMEDIATE")
        refused = await chat.push("subscribe model merging")
        assert isinstance(refused.content, Error)
        assert "cannot use its database right now (writes failing since " in refused.content.message
        assert "nothing was changed" in refused.content.message

        poller = asyncio.create_task(app.run_poller(core, stop=stop, grace=0.5))
        await asyncio.sleep(1.0)
        assert not poller.done(), "a locked database does not stop the poller"
        assert "the database refuses writes" in caplog.text
        status = status_text(await chat.push("status"))
        assert "Database: writes failing since" in status

        blocker.rollback()
        await wait_for_state(core, "poll.last_ok_at", timeout=5)
        assert (await chat.push("subscribe model merging")).content.title.startswith("Subscribed to model merging")
        assert [t.query for t in await store.list_topics((await store.get_channel(chat.channel())).id)] == [
            "model merging"], "the refused subscribe left nothing behind, the later one was kept"
        assert "Database:" not in status_text(await chat.push("status"))
    finally:
        stop.set()
        blocker.close()
        if "poller" in locals():
            await asyncio.wait_for(poller, 5)
        await hf.aclose()
        await arxiv.aclose()
        await store.close()


async def test_a_rate_limit_wait_is_shown_in_status(core, fake_hf) -> None:
    chat = MemoryAdapter(core.engine)
    fake_hf.always_headers = {"RateLimit": '"api";r=0;t=999999'}
    await core.poller.poll_once(deliver=False)
    fake_hf.always_headers = {}
    status = status_text(await chat.push("status"))
    assert "Waiting: Hugging Face asked us to wait 999999 s; trying again in 300 s" in status
