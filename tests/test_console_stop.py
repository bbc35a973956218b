"""Stopping from the console while a post is on its way to Slack: the screen says what it waits for.

`paperboy` runs on a pseudo-terminal (so the console is on) beside a fake Slack that takes
seconds to answer each post; Ctrl-D lands while one post is in flight.
"""

from __future__ import annotations

import os
import time

import pytest
from datetime import datetime, timezone

from bot.model.channels import ChannelRef
from storage.sqlite import Store
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import make_item, seed_items
from tests.fakes.slack_server import FakeSlack
from tests.test_console_tty import PROMPT, Terminal, assert_clean
from tests.test_shutdown import ROOT, wait_until

SEND_LATENCY = 2.0


@pytest.mark.parametrize("key", ["\x04", "\x03"], ids=["ctrl-d", "ctrl-c"])
async def test_quitting_while_a_post_is_in_flight_says_so_and_waits_for_it(tmp_path, key):
    today = datetime.now(timezone.utc).date()
    seeds = seed_items(today=today)
    new = make_item(800, "Patience at shutdown", "Waiting for what is in flight.", daily=today, paper_id="2411.00800")
    database = tmp_path / "stop.db"
    async with await Store.open(database) as store:  # C1 follows `patience`, the seed papers its baseline
        channel = await store.ensure_channel(ChannelRef("slack", "T1", "C1"))
        topic = await store.add_topic(channel.id, "patience", "tester", at=datetime.now(timezone.utc))
        await store.mark_baseline_taken([topic.id])
        await store.record_baseline(channel.id, [item["paper"]["id"] for item in seeds], at=datetime.now(timezone.utc))

    async with FakeHuggingFace(seeds + [new]) as hf, FakeSlack(latency={"chat.postMessage": SEND_LATENCY}) as slack:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))}
        env |= {"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "TERM": "xterm", "PAPERBOY_DATABASE": str(database),
                "PAPERBOY_HF_API_URL": hf.base_url, "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9",
                "PAPERBOY_POLL_INTERVAL": "60", "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test",
                "PAPERBOY_SLACK_API_URL": slack.api_url}
        terminal = await Terminal.spawn("run", env=env, cwd=tmp_path)
        try:
            at = await terminal.wait_for(PROMPT)
            await wait_until(lambda: slack.calls_to("chat.postMessage"), 20, "the post to start")
            started = time.monotonic()
            terminal.type(key)  # at the prompt, the post still on its way
            end = await terminal.wait_for("Waiting for 1 message being sent… (Ctrl-C quits at once", after=at)
            assert await terminal.exit_status() == 0
            assert time.monotonic() - started < SEND_LATENCY + 2
        finally:
            terminal.close()
    assert slack.posted_paper_ids("C1") == ["2411.00800"], "the post in flight was let finish"
    assert PROMPT not in terminal.screen[end:], "no prompt is drawn again while quitting"
    assert_clean(terminal.screen)
    assert "Traceback" not in (tmp_path / "paperboy.log").read_text()
