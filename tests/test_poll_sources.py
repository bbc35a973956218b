"""A poll's sources, each on its own: one slow list holds back only itself, and a cause is told once.

Real HTTP to the fake Hugging Face and arXiv on 127.0.0.1, a real SQLite file, the real worker.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from adapters.memory import MemoryAdapter
from bot.runtime.app import _poll_cycle, open_core
from paperboy_testing.seed import make_item

TIMEOUT = 0.5
"""Each read's timeout: a request's whole deadline is three of these."""


@pytest.fixture
async def core(settings, clock):
    async with open_core(settings.model_copy(update={"http_timeout": TIMEOUT}), clock=clock) as core:
        yield core


@pytest.fixture
def chat(core):
    adapter = MemoryAdapter(core.engine)
    core.poller.adapters[adapter.platform] = adapter
    return adapter


def trending(request) -> bool:
    return request.query.get("sort") == "trending"


async def test_daily_papers_go_out_while_the_trending_request_still_drips(chat, core, fake_hf, clock):
    await chat.push("subscribe unlearn*")
    await core.poller.poll_once()  # the baseline
    fake_hf.add(make_item(1, "Fast unlearning for LLMs", "We unlearn.", daily=clock().date(),
                          paper_id="2411.00001", upvotes=50), trending=False)
    fake_hf.drip_interval = TIMEOUT / 2  # each byte beats the read timeout: only the deadline ends it
    fake_hf.fail_next("drip", when=trending)
    asked = len(fake_hf.requests)

    stop = asyncio.Event()
    worker = asyncio.create_task(core.poller.worker.run(stop))
    started = time.monotonic()
    poll = asyncio.create_task(core.poller.poll_once(deliver=False))  # as the running bot polls
    try:
        await _until(lambda: chat.posts or poll.done(), timeout=10)
        posted_after = time.monotonic() - started
        assert chat.posts and not poll.done(), "the daily paper goes out while trending is still being read"
        report = await asyncio.wait_for(poll, 10)
    finally:
        stop.set()
        await worker
    assert posted_after < 3 * TIMEOUT + 1, f"the daily paper waited {posted_after:.1f} s for the trending list"
    assert [pid for _, post in chat.pop_posts() for pid in post.paper_ids] == ["2411.00001"]
    # The trending list came in on its retry, and was cached as usual.
    assert report.errors == [] and sum(map(trending, fake_hf.requests[asked:])) == 2
    trending_now, _ = await core.store.get_list("trending")
    assert [p.id for p in trending_now][:3] == fake_hf.trending_ids[:3]


async def test_a_source_down_for_both_lists_is_one_error_in_status_and_one_warning(chat, core, fake_hf, caplog):
    await chat.push("subscribe unlearn*")
    fake_hf.fail_next(*["500"] * 8)  # every attempt of both lists: 4 each
    with caplog.at_level(logging.INFO):
        await _poll_cycle(core)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [f"poll: cannot reach Hugging Face at {fake_hf.base_url}: HTTP 500 (after 4 attempts)"]
    status = (await chat.push("status")).content.body
    assert status.count("cannot reach Hugging Face") == 1, status
    assert f"Hugging Face at {fake_hf.base_url}: HTTP 500 (after 4 attempts) (" in status


async def test_different_causes_are_each_told_once(chat, core, fake_hf, fake_arxiv, clock):
    await chat.push("subscribe cat:cs.CL unlearn*")
    await chat.push("subscribe cat:cs.LG merging")
    core.arxiv._min_interval = 0.0  # arXiv's 3 s between requests is for the real one
    await core.poller.poll_once()  # each category's first read: its baseline
    clock.advance(hours=2)  # both categories are due again
    await fake_arxiv.stop()  # arXiv down for both categories: one cause
    fake_hf.fail_next("500", "500", "500", "500", when=trending)  # one list failing: another
    report = await core.poller.poll_once()
    assert len(report.errors) == 2, report.errors
    assert report.errors[0].startswith("cannot reach ") and report.errors[1].startswith("cannot reach ")
    assert {e.split(" at ")[0] for e in report.errors} == {"cannot reach Hugging Face", "cannot reach arXiv"}
    assert report.fetched > 0, "the daily list still came in"


async def _until(condition, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)
