"""Crash safety on a shared Postgres: three bots, one database, SIGKILL one at random, count.

Three ``python -m bot run`` subprocesses in Slack HTTP mode share one Postgres database and
deliver to 40 Slack channels of a fake Slack living in this test process (so its log outlives
every kill). While they deliver, a random one of them is SIGKILLed at random moments and
restarted. The outbox is claimed atomically, entries a dead process left in ``sending`` are
reconciled by a live one, and the poll cycle has one leader at a time: so at the end every
(channel, paper) must appear exactly once in the fake's own log, and each of the three still
answers a signed slash command.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import asyncpg

from bot.model.channels import ChannelRef
from bot.ports.store import open_store
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import make_item, seed_items
from tests.fakes.slack_server import FakeSlack, signed_headers, slash_command_body
from tests.test_slack_adapter import SECRET

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = 3
KILLS = 12
MIN_KILLS = 10
PAPERS = 15
TOPIC = "crashproof"
SLACK_CHANNELS = [f"C{n:08d}" for n in range(40)]


async def prepare_database(url: str, *, seed_ids: list[str]) -> None:
    """Slack channels subscribed to `crashproof`, with the seed papers as their baseline."""
    now = datetime.now(timezone.utc)
    store = await open_store(url)
    try:
        for conversation in SLACK_CHANNELS:
            channel = await store.ensure_channel(ChannelRef("slack", "T1", conversation))
            topic = await store.add_topic(channel.id, TOPIC, "tester", at=now)
            await store.mark_baseline_taken([topic.id])
            await store.record_baseline(channel.id, seed_ids, at=now)
    finally:
        await store.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def delivered(slack: FakeSlack) -> dict[str, Counter]:
    return {c: Counter(slack.posted_paper_ids(c)) for c in SLACK_CHANNELS}


def total(counts: dict[str, Counter]) -> int:
    return sum(sum(c.values()) for c in counts.values())


def tails(logs: list[Path], chars: int = 4000) -> str:
    return "\n".join(f"--- {p.name} ---\n{p.read_text(errors='replace')[-chars:]}" for p in logs if p.exists())


async def slash_topics(port: int, slack: FakeSlack, *, name: str, channel: str) -> str:
    """Send a signed ``/papers topics`` to the bot on *port*; return the immediate body and the response_url posts."""
    seen = len(slack.responses)
    body = slash_command_body("topics", response_url=slack.response_url(name), channel_id=channel)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{port}/slack/events", data=body.encode(),
                                headers=signed_headers(SECRET, body),
                                timeout=aiohttp.ClientTimeout(total=10)) as response:
            assert response.status == 200, (port, response.status, await response.text())
            immediate = await response.text()
    if TOPIC in immediate:
        return immediate
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answers = [r for r in slack.responses[seen:] if r.get("name") == name]
        if answers:
            return immediate + json.dumps(answers, ensure_ascii=False)
        await asyncio.sleep(0.05)
    return immediate


async def stranded_by_kill(observer) -> int:
    """How many sends a kill just left in ``sending``. The server drops a dead process's locks only once
    it notices the connection is gone (later on a loaded machine), so look for up to a second; the other
    processes wait out the 5 s claim lease before they take such sends over."""
    deadline = time.monotonic() + 1.0
    while True:
        await asyncio.sleep(0.1)
        found = len(await observer.abandoned_outbox())
        if found or time.monotonic() > deadline:
            return found


async def senders(url: str) -> set[int]:
    """The pids of the processes with a send in flight now (a claim is ``host:pid:key``)."""
    conn = await asyncpg.connect(url)
    try:
        owners = await conn.fetch("SELECT DISTINCT claimed_by FROM outbox WHERE state = 'sending'")
    finally:
        await conn.close()
    return {int(owner.split(":")[-2]) for (owner,) in owners if owner}


async def busy_victim(bots: list, url: str, *, default: int) -> int:
    """A bot with a send in flight, or *default* if none sends for 10 s. Only the poll leader's worker is
    busy, so a blind pick mostly kills an idle process and strands nothing."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        busy = await senders(url)
        candidates = [n for n, bot in enumerate(bots) if bot is not None and bot.pid in busy]
        if candidates:
            return candidates[0]
        await asyncio.sleep(0.05)
    return default


async def listening(port: int, process: asyncio.subprocess.Process, logs: list[Path], *, timeout: float = 30) -> None:
    """Wait until the bot on *port* accepts connections: one restarted by the last kill may still be starting."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.returncode is None, f"the bot on port {port} died\n{tails(logs)}"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on port {port} after {timeout} s\n{tails(logs)}"
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return


async def test_three_processes_on_one_postgres_survive_sigkill(tmp_path, postgres_url):
    rng = random.Random(int(os.environ.get("PAPERBOY_CRASH_SEED", "11")))
    today = datetime.now(timezone.utc).date()
    seeds = seed_items(today=today)
    new = [make_item(500 + n, f"Crashproof delivery, part {n}", "We never post twice.", daily=today,
                     paper_id=f"2411.{500 + n:05d}", upvotes=400 + n) for n in range(PAPERS)]
    # 40 channels x 15 papers = 600 posts: Slack's 1 a second per channel stays (it paces delivery
    # so kills land mid-way), the workspace window is opened so the run stays short.
    async with FakeHuggingFace(seeds) as hf, FakeSlack(users={"U1": {"is_admin": False}},
                                                       workspace_limit=None) as slack:
        await prepare_database(postgres_url, seed_ids=[i["paper"]["id"] for i in seeds])
        slack.latency["chat.postMessage"] = 0.3  # sends take a while: kills land while some are in flight
        for item in new:
            hf.add(item)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))}
        env |= {
            "PYTHONPATH": str(ROOT), "PAPERBOY_DATABASE": postgres_url, "PAPERBOY_HF_API_URL": hf.base_url,
            "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9", "PAPERBOY_POLL_INTERVAL": "2",
            "PAPERBOY_MAX_POSTS_PER_HOUR": "1000", "PAPERBOY_LOG_LEVEL": "WARNING",
            # Sends take 0.3 s here, so a 5 s lease is still far longer than one attempt.
            "PAPERBOY_CLAIM_LEASE": "5",
            "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
            "PAPERBOY_SLACK_API_URL": slack.api_url,
        }
        ports = [free_port() for _ in range(PROCESSES)]
        logs = [tmp_path / f"bot{n}.log" for n in range(PROCESSES)]
        expected = {p["paper"]["id"] for p in new}
        wanted = len(expected) * len(SLACK_CHANNELS)
        bots: list[asyncio.subprocess.Process | None] = [None] * PROCESSES

        async def launch(n: int) -> asyncio.subprocess.Process:
            workdir = tmp_path / f"run{n}"  # its own cwd: no .env, its own paperboy.log
            workdir.mkdir(exist_ok=True)
            with logs[n].open("ab") as log:
                return await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", env=env | {"PAPERBOY_SLACK_PORT": str(ports[n])},
                    cwd=workdir, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)

        kills = 0
        stranded = 0  # entries a killed process left in ``sending``, seen right after its kill
        exits: list[int | None] = []
        started = time.monotonic()
        observer = await open_store(postgres_url)  # reads only: what the kills left behind
        observer.claim_lease = 0  # count a killed process's claims at once (the bots wait out the lease)
        try:
            for n in range(PROCESSES):
                bots[n] = await launch(n)

            while kills < KILLS and total(delivered(slack)) < wanted:
                before = total(delivered(slack))
                deadline = time.monotonic() + 20
                # Kill while they deliver: once something new was posted, at a random moment.
                while total(delivered(slack)) == before and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(rng.uniform(0.2, 1.2))
                if total(delivered(slack)) >= wanted:
                    break
                victim = rng.randrange(PROCESSES)
                if not stranded:  # until a kill has stranded a send, kill one that sends: recovery is exercised
                    victim = await busy_victim(bots, postgres_url, default=victim)
                process = bots[victim]
                assert process is not None
                assert process.returncode is None, f"bot{victim} died on its own\n{tails(logs)}"
                process.send_signal(signal.SIGKILL)
                await process.wait()
                kills += 1
                stranded += await stranded_by_kill(observer)
                bots[victim] = await launch(victim)

            deadline = time.monotonic() + 120
            while total(delivered(slack)) < wanted and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            delivered_at = time.monotonic() - started
            await asyncio.sleep(3)  # anything still to come would be a duplicate: give it time to show

            counts = delivered(slack)
            duplicates = {c: sorted(p for p, k in cnt.items() if k > 1) for c, cnt in counts.items()}
            duplicates = {c: d for c, d in duplicates.items() if d}
            missing = {c: sorted(expected - set(cnt)) for c, cnt in counts.items()}
            missing = {c: m for c, m in missing.items() if m}
            assert not duplicates, f"duplicates ({kills} kills): {duplicates}\n{tails(logs)}"
            assert not missing, f"missing ({kills} kills): {missing}\n{tails(logs)}"
            assert all(set(cnt) == expected for cnt in counts.values())
            assert kills >= MIN_KILLS, f"only {kills} kills happened before everything was delivered"
            assert stranded, f"none of {kills} kills left a send in flight: recovery was not exercised"
            outbox = await observer.outbox_counts()
            assert outbox == {"sent": wanted}, f"outbox left {outbox}\n{tails(logs)}"
            for conversation in SLACK_CHANNELS:  # whichever process sent them, in the order they were queued
                channel = await observer.get_channel(ChannelRef("slack", "T1", conversation))
                queued = [e.paper_ids[0] for e in await observer.outbox_in_state("sent", channel_id=channel.id)]
                assert slack.posted_paper_ids(conversation) == queued, f"{conversation} out of order"
            print(f"{kills} kills stranding {stranded} sends; all {wanted} posts delivered after "
                  f"{delivered_at:.1f} s; {slack.count_429} answers 429")

            # Every one of the three still answers, from the shared database.
            for n, port in enumerate(ports):
                await listening(port, bots[n], logs)
                answer = await slash_topics(port, slack, name=f"topics{n}", channel=SLACK_CHANNELS[7])
                assert TOPIC in answer, f"bot{n} on port {port} answered {answer!r}\n{tails(logs)}"

            for process in bots:
                assert process is not None
                process.send_signal(signal.SIGTERM)
            for process in bots:
                assert process is not None
                exits.append(await asyncio.wait_for(process.wait(), 30))
            assert exits == [0] * PROCESSES, f"exit codes {exits}\n{tails(logs)}"
        finally:
            for process in bots:
                if process is not None and process.returncode is None:
                    process.kill()
                    await process.wait()
            await observer.close()
