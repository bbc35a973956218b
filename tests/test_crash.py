"""Crash safety: SIGKILL the bot at random moments during delivery, restart it, and count.

The bot runs as a subprocess (`python -m bot run`) against a fake Hugging Face, a
fake Discord and a fake Slack living in this test process, so their logs outlive
every kill. At the end every (channel, paper) must appear exactly once in the
fakes' own logs: no duplicates, nothing missing.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from bot.model.channels import ChannelRef
from storage.sqlite import Store
from tests.fakes.discord_server import GUILD_READY_TIMEOUT, FakeDiscord
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import make_item, seed_items
from tests.fakes.slack_server import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
KILLS = int(os.environ.get("PAPERBOY_CRASH_KILLS", "10"))
"""Kills per run; set PAPERBOY_CRASH_KILLS=100 (and PAPERBOY_CRASH_SEED) for a longer hunt."""
PAPERS = 25
DISCORD_CHANNELS = [str(900_000_000_000_000_000 + n) for n in range(6)]
SLACK_CHANNELS = [f"C{n:08d}" for n in range(6)]


async def prepare_database(path: Path, *, guild: str, seed_ids: list[str]) -> None:
    """Channels subscribed to `crashproof`, with the seed papers as their baseline."""
    now = datetime.now(timezone.utc)
    store = await Store.open(path)
    try:
        refs = [ChannelRef("discord", guild, c) for c in DISCORD_CHANNELS]
        refs += [ChannelRef("slack", "T1", c) for c in SLACK_CHANNELS]
        for ref in refs:
            channel = await store.ensure_channel(ref)
            topic = await store.add_topic(channel.id, "crashproof", "tester", at=now)
            await store.mark_baseline_taken([topic.id])
            await store.record_baseline(channel.id, seed_ids, at=now)
    finally:
        await store.close()


def delivered(discord: FakeDiscord, slack: FakeSlack) -> dict[str, Counter]:
    counts = {c: Counter(discord.posted_paper_ids(c)) for c in DISCORD_CHANNELS}
    counts |= {c: Counter(slack.posted_paper_ids(c)) for c in SLACK_CHANNELS}
    return counts


def total(counts: dict[str, Counter]) -> int:
    return sum(sum(c.values()) for c in counts.values())


async def test_sigkill_during_delivery_never_duplicates_or_loses(tmp_path):
    rng = random.Random(int(os.environ.get("PAPERBOY_CRASH_SEED", "11")))
    today = datetime.now(timezone.utc).date()
    seeds = seed_items(today=today)
    new = [make_item(500 + n, f"Crashproof delivery, part {n}", "We never post twice.", daily=today,
                     paper_id=f"2411.{500 + n:05d}", upvotes=400 + n) for n in range(PAPERS)]
    async with FakeHuggingFace(seeds) as hf, FakeDiscord() as discord, FakeSlack() as slack:
        database = tmp_path / "crash.db"
        await prepare_database(database, guild=discord.guild_id, seed_ids=[i["paper"]["id"] for i in seeds])
        for item in new:
            hf.add(item)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))}
        env |= {
            "PYTHONPATH": str(ROOT), "PAPERBOY_DATABASE": str(database), "PAPERBOY_HF_API_URL": hf.base_url,
            "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9", "PAPERBOY_POLL_INTERVAL": "2",
            "PAPERBOY_MAX_POSTS_PER_HOUR": "1000", "PAPERBOY_LOG_LEVEL": "WARNING",
            "DISCORD_TOKEN": discord.token, "PAPERBOY_DISCORD_API_URL": discord.api_url,
            "PAPERBOY_DISCORD_GATEWAY_URL": discord.gateway_url, "PAPERBOY_DISCORD_GUILD": discord.guild_id,
            "PAPERBOY_DISCORD_GUILD_READY_TIMEOUT": str(GUILD_READY_TIMEOUT),
            "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test", "PAPERBOY_SLACK_API_URL": slack.api_url,
        }
        log = (tmp_path / "bot.log").open("ab")
        expected = {p["paper"]["id"] for p in new}
        wanted = len(expected) * (len(DISCORD_CHANNELS) + len(SLACK_CHANNELS))

        async def launch() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)

        kills = 0
        started = time.monotonic()
        try:
            while kills < KILLS and total(delivered(discord, slack)) < wanted:
                bot = await launch()
                before = total(delivered(discord, slack))
                deadline = time.monotonic() + 15
                # Kill while it delivers: once this run has posted something, at a random moment.
                while total(delivered(discord, slack)) == before and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(rng.uniform(0.0, 0.6))
                bot.send_signal(signal.SIGKILL)
                await bot.wait()
                kills += 1

            killed_at = time.monotonic() - started
            bot = await launch()
            deadline = time.monotonic() + 180
            while total(delivered(discord, slack)) < wanted and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            print(f"{kills} kills in {killed_at:.1f} s; {total(delivered(discord, slack))} of {wanted} posts "
                  f"delivered after {time.monotonic() - started:.1f} s")
            await asyncio.sleep(3)  # anything still to come would be a duplicate: give it time to show
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 30)
        finally:
            log.close()
            for process in (p for p in [locals().get("bot")] if p and p.returncode is None):
                process.kill()

        counts = delivered(discord, slack)
        duplicates = {c: [p for p, n in cnt.items() if n > 1] for c, cnt in counts.items()}
        missing = {c: sorted(expected - set(cnt)) for c, cnt in counts.items()}
        assert all(not d for d in duplicates.values()), f"duplicates: {duplicates}"
        assert all(not m for m in missing.values()), f"missing: {missing}"
        assert kills >= KILLS, f"only {kills} kills happened before everything was delivered"
        assert all(set(cnt) == expected for cnt in counts.values())
