"""A Postgres restart is waited out: the bot keeps running, says so in /healthz and `status`, loses nothing.

The bot runs as a subprocess (`paperboy poll`, posting into the console) on the tests' own pgserver,
which is stopped for real (``pg_ctl stop``, as a restart or a failover does) and started again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import aiohttp

from adapters.console import CONSOLE_CHANNEL
from bot.runtime.app import open_core
from bot.model.channels import Caller, Command
from bot.model.replies import Error, Text
from bot.ports.store import open_store
from paperboy_testing.seed import make_item
from tests.postgres import server_stopped

ROOT = Path(__file__).resolve().parents[1]
TOPIC = "outageproof"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def healthz(port: int) -> tuple[int, dict]:
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz",
                                                             timeout=aiohttp.ClientTimeout(total=10)) as response:
            return response.status, json.loads(await response.text())
    except aiohttp.ClientConnectionError:
        return 0, {}


async def until(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


async def subscribe_console(url: str, seed_ids: list[str]) -> None:
    """The console channel follows TOPIC, with the seed papers as its baseline (nothing old is posted)."""
    now = datetime.now(timezone.utc)
    store = await open_store(url)
    try:
        channel = await store.ensure_channel(CONSOLE_CHANNEL)
        topic = await store.add_topic(channel.id, TOPIC, "tester", at=now)
        await store.mark_baseline_taken([topic.id])
        await store.record_baseline(channel.id, seed_ids, at=now)
    finally:
        await store.close()


async def test_a_postgres_restart_is_waited_out_and_nothing_is_lost(
        tmp_path, postgres_server, postgres_url, fake_hf, fake_arxiv):
    await subscribe_console(postgres_url, list(fake_hf.items))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))}
    env |= {"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "PAPERBOY_DATABASE": postgres_url,
            "PAPERBOY_HF_API_URL": fake_hf.base_url, "PAPERBOY_ARXIV_API_URL": fake_arxiv.base_url,
            "PAPERBOY_POLL_INTERVAL": "1", "PAPERBOY_HEALTH_PORT": str(port), "PAPERBOY_LOG_FILE": "-",
            "PAPERBOY_MAX_POSTS_PER_HOUR": "1000"}
    log = tmp_path / "bot.log"
    today = datetime.now(timezone.utc).date()
    new = [make_item(700 + n, f"Outageproof delivery, part {n}", "Nothing is lost.", daily=today,
                     paper_id=f"2411.{700 + n:05d}") for n in range(3)]
    with log.open("wb") as errors:
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "poll", env=env, cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=errors)
    posted = bytearray()
    reader = asyncio.create_task(_collect(bot.stdout, posted))
    try:
        await until(lambda: _polled(port), timeout=30, what="a first poll")
        with server_stopped(postgres_server):
            status, body = await until(lambda: _down(port), timeout=15, what="/healthz saying the database is down")
            assert "the database does not answer" in body["reasons"][0], body
            for item in new:
                fake_hf.add(item)  # published during the outage
            await asyncio.sleep(1.5)  # polls and delivery rounds hit the stopped server meanwhile
            assert bot.returncode is None, log.read_text()[-3000:]
        await until(lambda: _all_posted(posted, new), timeout=30, what="the papers published during the outage")
        status, body = await until(lambda: _up(port), timeout=15, what="/healthz answering again")
        assert bot.returncode is None
        bot.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(bot.wait(), 20)
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
        await asyncio.gather(reader, return_exceptions=True)
    text, errors = posted.decode(), log.read_text()
    assert code == 0, errors[-3000:]
    assert "could not start" not in errors and "Traceback" not in errors
    assert "the database" in errors  # the outage is in the log
    for item in new:
        assert text.count(item["paper"]["title"]) == 1, text  # each delivered once


async def _collect(stream: asyncio.StreamReader, into: bytearray) -> None:
    while chunk := await stream.read(4096):
        into += chunk


async def _polled(port: int):
    status, body = await healthz(port)
    return status == 200 and body.get("last_poll_ok_at")


async def _down(port: int):
    status, body = await healthz(port)
    return (status, body) if status == 503 else None


async def _up(port: int):
    status, body = await healthz(port)
    return (status, body) if status == 200 else None


async def _all_posted(posted: bytearray, items: list[dict]) -> bool:
    return all(item["paper"]["title"] in posted.decode(errors="replace") for item in items)


async def test_status_during_an_outage_says_the_database_is_failing_and_since_when(
        postgres_server, postgres_url, settings):
    async with open_core(settings.model_copy(update={"database": postgres_url})) as core:
        status = Command(name="status", args="", channel=CONSOLE_CHANNEL, caller=Caller(id="you", name="you"))
        with server_stopped(postgres_server):
            reply = await core.engine.handle(status)
            assert isinstance(reply.content, Error)
            assert "database failing since " in reply.content.message and " UTC: " in reply.content.message
            assert "keeps trying on its own" in reply.content.message
        after = await core.engine.handle(status)
        assert isinstance(after.content, Text) and "Last successful poll" in after.content.body
