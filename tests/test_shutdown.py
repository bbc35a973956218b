"""Graceful shutdown: SIGTERM mid-delivery settles every send in flight and leaves nothing ambiguous.

The bot runs as a subprocess on a fake Slack (Socket Mode) that takes a while to answer
each post, so that the signal lands while posts are in flight. Afterwards the database
must hold no outbox entry in ``sending``: a restart against a Slack whose history reads
fail, which therefore could not reconcile one, must still deliver every paper exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from bot.model.channels import ChannelRef
from storage.sqlite import Store
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import make_item, seed_items
from tests.fakes.slack_server import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = [f"C{n:08d}" for n in range(6)]
PAPERS = 6
SEND_LATENCY = 0.3


async def subscribe(path: Path, seed_ids: list[str]) -> None:
    """Every channel follows `graceful`, with the seed papers as its baseline."""
    now = datetime.now(timezone.utc)
    async with await Store.open(path) as store:
        for channel_id in CHANNELS:
            channel = await store.ensure_channel(ChannelRef("slack", "T1", channel_id))
            topic = await store.add_topic(channel.id, "graceful", "tester", at=now)
            await store.mark_baseline_taken([topic.id])
            await store.record_baseline(channel.id, seed_ids, at=now)


def outbox_states(path: Path) -> Counter:
    with sqlite3.connect(path) as db:
        return Counter(dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()))


def posted(slack: FakeSlack) -> dict[str, Counter]:
    return {c: Counter(slack.posted_paper_ids(c)) for c in CHANNELS}


def total(slack: FakeSlack) -> int:
    return sum(sum(c.values()) for c in posted(slack).values())


async def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_sigterm_mid_delivery_settles_what_is_in_flight(tmp_path):
    today = datetime.now(timezone.utc).date()
    seeds = seed_items(today=today)
    new = [make_item(700 + n, f"Graceful shutdown, part {n}", "Nothing left half-sent.", daily=today,
                     paper_id=f"2411.{700 + n:05d}") for n in range(PAPERS)]
    database = tmp_path / "shutdown.db"
    await subscribe(database, [item["paper"]["id"] for item in seeds])
    async with FakeHuggingFace(seeds + new) as hf, FakeSlack(latency={"chat.postMessage": SEND_LATENCY}) as slack:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))}
        env |= {"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "PAPERBOY_DATABASE": str(database),
                "PAPERBOY_HF_API_URL": hf.base_url, "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9",
                "PAPERBOY_POLL_INTERVAL": "60", "PAPERBOY_MAX_POSTS_PER_HOUR": "1000",
                "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test", "PAPERBOY_SLACK_API_URL": slack.api_url}
        wanted = PAPERS * len(CHANNELS)
        with (tmp_path / "bot.log").open("ab") as log:
            async def launch() -> asyncio.subprocess.Process:
                return await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                    stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)

            async def terminate(bot: asyncio.subprocess.Process) -> float:
                started = time.monotonic()
                bot.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(bot.wait(), 15) == 0
                return time.monotonic() - started

            bot = await launch()
            try:
                # Signal once some posts went out, at a moment when at least one is still in flight.
                await wait_until(lambda: total(slack) >= len(CHANNELS), 20, "the first posts")
                await wait_until(lambda: len(slack.calls_to("chat.postMessage")) > total(slack), 5, "a post in flight")
                took = await terminate(bot)
            finally:
                if bot.returncode is None:
                    bot.kill()

            states = outbox_states(database)
            assert took < 5, f"stopping took {took:.1f} s: it should not wait for the posts not yet started"
            assert states["sending"] == 0, states
            assert states["pending"] > 0, f"the test meant to stop mid-delivery: {states}"
            assert states["sent"] == total(slack), "every send that was started is settled as sent"

            # With history reads failing, an entry left in `sending` could never be reconciled.
            slack.fail("conversations.history", "internal_error", times=10_000)
            bot = await launch()
            try:
                await wait_until(lambda: total(slack) >= wanted, 30, "every post")
                await asyncio.sleep(1.5)  # a duplicate would show up now
                await terminate(bot)
            finally:
                if bot.returncode is None:
                    bot.kill()

    log_text = (tmp_path / "bot.log").read_text()
    assert "Traceback" not in log_text and "ERROR" not in log_text, log_text
    expected = {item["paper"]["id"] for item in new}
    assert all(counts == Counter(expected) for counts in posted(slack).values()), posted(slack)
    assert outbox_states(database) == Counter({"sent": wanted})
