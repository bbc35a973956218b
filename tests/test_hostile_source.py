"""A hostile Hugging Face (issue 10): odd fields, a slow drip, huge bodies, absurd waits.

Everything that fetches goes through real HTTP to `FakeHuggingFace` (or, for arXiv, a bare
dripping socket) on 127.0.0.1; the first test also through a real poll into a real SQLite file.
The parsing bounds are also checked on bodies directly, and property-tested into SQLite.
"""

from __future__ import annotations

import asyncio
import logging
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator

import httpx
import pytest

from adapters.memory import MemoryAdapter
from bot.sources import (
    ArxivClient, BudgetExhausted, HuggingFaceClient, MalformedResponse, RequestBudget, SourceUnavailable,
)
from bot.sources.http import MAX_BODY, MAX_SERVER_WAIT
from paperboy_testing.hf_server import FakeHuggingFace, many_digits
from paperboy_testing.seed import make_item, seed_items
from tests.test_hf_client import FakeClock


@pytest.fixture
async def fake() -> AsyncIterator[FakeHuggingFace]:
    async with FakeHuggingFace(seed_items()) as server:
        yield server


def posted_ids(chat: MemoryAdapter) -> list[str]:
    return [pid for _, post in chat.pop_posts() for pid in post.paper_ids]


# -- 1. one malformed paper must not stop delivery -------------------------------------------


async def test_hostile_items_are_set_aside_and_every_valid_paper_is_posted(core, fake_hf, clock, caplog) -> None:
    chat = MemoryAdapter(core.engine)
    core.poller.adapters[chat.platform] = chat
    await chat.push("subscribe *")
    await core.poller.poll_once()
    assert posted_ids(chat) == [], "the first poll is the baseline"

    today = clock().date()
    valid = [f"2411.{n:05d}" for n in range(1, 16)]
    for n, pid in enumerate(valid, start=1):
        fake_hf.add(make_item(n, f"A valid paper number {n}", "A study.", daily=today, paper_id=pid, upvotes=5))
    huge_upvotes = make_item(16, "Upvoted past int64", "A study.", daily=today, paper_id="2411.00016")
    huge_upvotes["paper"]["upvotes"] = 2**63
    surrogate = make_item(17, "A lone \ud800 surrogate", "A study.", daily=today, paper_id="2411.00017")
    digits = make_item(18, "Five thousand digits", "A study.", daily=today, paper_id="2411.00018")
    digits["paper"]["upvotes"] = many_digits(5000)
    for item in (huge_upvotes, surrogate, digits):
        fake_hf.add(item)

    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_shapes"):
        report = await core.poller.poll_once()

    assert report.errors == []
    posted = posted_ids(chat)
    assert set(valid) <= set(posted), "all 15 valid papers reach the channel"
    # Counts out of range set the item aside; a bad character is only replaced, so that paper still goes out.
    assert "2411.00016" not in posted and "2411.00018" not in posted
    assert "2411.00017" in posted
    assert (await core.store.get_paper("2411.00017")).title == "A lone \ufffd surrogate"
    assert await core.store.get_paper("2411.00016") is None
    warnings = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    for pid in ("2411.00016", "2411.00017", "2411.00018"):
        assert pid in warnings
    assert "5000-digit number" in warnings


# -- 2. a slow drip must not hang the poller ---------------------------------------------------


async def test_a_drip_gives_up_within_the_deadline_and_says_timed_out(fake) -> None:
    clock = FakeClock()
    fake.drip_interval = 0.2
    fake.fail_next("drip", "drip")
    async with HuggingFaceClient(base_url=fake.base_url, timeout=0.3, max_retries=1, sleep=clock.sleep,
                                 budget=RequestBudget(clock=clock, sleep=clock.sleep)) as hf:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match=r"timed out \(after 2 attempts\)"):
            await hf.trending(limit=5)
        elapsed = time.monotonic() - started
        assert hf.recent_failure() == "timed out"
    # Each 0.2 s byte beats the 0.3 s read timeout; only the total deadline (3 x 0.3 s) ends each attempt.
    assert 2 * 0.9 <= elapsed < 2 * 0.9 + 1.5
    assert len(fake.requests) == 2


async def test_a_drip_then_a_healthy_answer_recovers(fake) -> None:
    clock = FakeClock()
    fake.fail_next("drip")
    async with HuggingFaceClient(base_url=fake.base_url, timeout=0.3, deadline=0.5, sleep=clock.sleep,
                                 budget=RequestBudget(clock=clock, sleep=clock.sleep)) as hf:
        papers = await hf.trending(limit=5)
        assert hf.recent_failure() is None, "the answer clears the failure"
    assert len(papers) == 5 and len(fake.requests) == 2 and clock.sleeps == [0.5]


# -- 3. bounds on what the source may send ----------------------------------------------------


TOO_LARGE = f"more than {MAX_BODY // 2**20} MB"


@pytest.mark.parametrize("fault", ["huge", "huge_declared", "gzip_bomb"])
async def test_a_50_mb_body_is_refused_without_reading_it_all(fake, fault) -> None:
    fake.fail_next(fault)
    async with HuggingFaceClient(base_url=fake.base_url, timeout=5.0, max_retries=0) as hf:
        tracemalloc.start()
        try:
            with pytest.raises(MalformedResponse) as caught:
                await hf.daily(limit=100)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert str(caught.value) == f"Hugging Face (daily papers) answered with {TOO_LARGE}"
    # The fake streams in 64 KB chunks, so this counts the client (and the fake's few chunks):
    # at most the capped body, never the 50 MB. A gzip bomb is counted as it inflates.
    assert peak < 1.5 * MAX_BODY < fake.huge_bytes / 3
    assert len(fake.requests) == 1, "a huge answer is refused, not fetched again"


async def test_a_declared_50_mb_body_is_refused_before_reading(fake) -> None:
    fake.fail_next("huge_declared")
    async with HuggingFaceClient(base_url=fake.base_url, timeout=5.0) as hf:
        tracemalloc.start()
        try:
            with pytest.raises(MalformedResponse, match=TOO_LARGE):
                await hf.trending()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < MAX_BODY / 2


async def test_a_gzipped_answer_is_inflated_and_another_encoding_refused(fake) -> None:
    fake.gzip_answers = True
    async with HuggingFaceClient(base_url=fake.base_url, timeout=5.0) as hf:
        assert len(await hf.trending(limit=5)) == 5
        assert fake.requests[-1].header("Accept-Encoding") == "gzip"
        fake.gzip_answers = False
        fake.always_headers = {"Content-Encoding": "br"}
        with pytest.raises(MalformedResponse, match=r"answered in an encoding it was not asked for \('br'\)"):
            await hf.trending(limit=5)


async def test_ten_thousand_items_where_a_hundred_were_asked_give_a_hundred(caplog) -> None:
    day = datetime(2026, 3, 14, 6, tzinfo=timezone.utc)
    items = [{"paper": {"id": f"2401.{n:05d}", "title": f"Paper {n}",
                        "submittedOnDailyAt": (day - timedelta(seconds=n)).isoformat()}}
             for n in range(1, 10_001)]
    async with FakeHuggingFace(items) as server:
        server.ignore_limit = True
        async with HuggingFaceClient(base_url=server.base_url, timeout=5.0) as hf:
            with caplog.at_level(logging.WARNING, logger="bot.sources.hf_shapes"):
                papers = await hf.daily(limit=100)
    assert [p.id for p in papers] == [f"2401.{n:05d}" for n in range(1, 101)]
    assert "10000 items where at most 100 were asked for" in caplog.text


# -- 4. a source's wait is honoured up to its window ---------------------------------------------


async def test_an_absurd_rate_limit_wait_blocks_for_at_most_the_window(fake) -> None:
    clock = FakeClock()
    budget = RequestBudget(clock=clock, sleep=clock.sleep)
    fake.retry_after_seconds = fake.reset_seconds = 999_999
    fake.fail_next("429")
    async with HuggingFaceClient(base_url=fake.base_url, timeout=1.0, budget=budget, sleep=clock.sleep) as hf:
        assert hf.waiting() is None
        with pytest.raises(SourceUnavailable, match="HTTP 429, asked to wait 999999 s"):
            await hf.trending(limit=1)
        assert hf.waiting() == "Hugging Face asked us to wait 999999 s; trying again in 300 s"
        with pytest.raises(BudgetExhausted, match="asked to wait 999999 s; next request allowed in 300 s$"):
            await hf.trending(limit=1)
        assert len(fake.requests) == 1, "nothing is sent while the wait holds"
        clock.now += MAX_SERVER_WAIT - 60
        assert hf.waiting() == "Hugging Face asked us to wait 999999 s; trying again in 60 s"
        clock.now += 60
        assert hf.waiting() is None
        assert len(await hf.trending(limit=1)) == 1, "after the window it tries again"
    assert clock.sleeps == [] and len(fake.requests) == 2


async def test_a_rate_limit_header_on_a_good_answer_is_capped_too(fake, caplog) -> None:
    clock = FakeClock()
    budget = RequestBudget(clock=clock, sleep=clock.sleep, max_wait=400)
    fake.always_headers = {"RateLimit": '"api";r=0;t=999999'}
    async with HuggingFaceClient(base_url=fake.base_url, timeout=1.0, budget=budget, sleep=clock.sleep) as hf:
        with caplog.at_level(logging.INFO, logger="bot.sources.http"):
            await hf.trending(limit=1)
            assert hf.waiting() == "Hugging Face asked us to wait 999999 s; trying again in 300 s"
            fake.always_headers = {}
            await hf.trending(limit=1)
        assert hf.waiting() is None
    assert clock.sleeps == [MAX_SERVER_WAIT]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "Hugging Face asked us to wait 999999 s, longer than its 300 s rate-limit window; trying again in 300 s",
        "Hugging Face asked us to wait 999999 s; trying again in 300 s",
    ]


def test_retry_after_counts_on_a_429_or_5xx_only_and_is_capped() -> None:
    clock = FakeClock()
    budget = RequestBudget(clock=clock, sleep=clock.sleep)
    budget.observe(httpx.Headers({"Retry-After": "999999"}), 200)
    assert budget.server_wait() is None, "Retry-After on a good answer asks for nothing"
    budget.observe(httpx.Headers({"Retry-After": "999999"}), 503)
    assert budget.server_wait() == (999_999, MAX_SERVER_WAIT)
    budget.observe(httpx.Headers({"Retry-After": "9" * 5000}), 503)  # not a number we read
    assert budget.server_wait() == (999_999, MAX_SERVER_WAIT)


async def test_our_own_spent_budget_is_said_too(fake) -> None:
    clock = FakeClock()
    budget = RequestBudget(limit=2, window=300, clock=clock, sleep=clock.sleep)
    async with HuggingFaceClient(base_url=fake.base_url, timeout=1.0, budget=budget, sleep=clock.sleep) as hf:
        await hf.trending(limit=1)
        assert hf.waiting() is None
        clock.now += 100
        await hf.trending(limit=1)
        assert hf.waiting() == "request budget used up (2 requests in 300 s); trying again in 200 s"


async def test_stopping_the_fake_releases_a_drip() -> None:
    server = FakeHuggingFace(seed_items())
    base_url = await server.start()
    server.drip_interval = 5.0
    server.fail_next("drip")
    async with httpx.AsyncClient() as http:
        dripping = asyncio.ensure_future(http.get(f"{base_url}/api/daily_papers", timeout=60))
        while not server.requests:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < 2.0
        dripping.cancel()
        await asyncio.gather(dripping, return_exceptions=True)


# -- 2 again: arXiv has the same deadline -----------------------------------------------------


async def test_an_arxiv_drip_ends_at_the_deadline() -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\nContent-Length: 100000\r\n\r\n")
        try:
            for _ in range(200):
                writer.write(b"<")
                await writer.drain()
                await asyncio.sleep(0.05)
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(drip, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = FakeClock()
    try:
        async with ArxivClient(base_url=f"http://127.0.0.1:{port}", timeout=0.3, deadline=0.4, max_retries=0,
                               clock=clock, sleep=clock.sleep) as arxiv:
            started = time.monotonic()
            with pytest.raises(SourceUnavailable, match=r"timed out \(after 1 attempt\)"):
                await arxiv.paper("2401.00001")
            assert time.monotonic() - started < 1.5
            assert arxiv.recent_failure() == "timed out"
    finally:
        server.close()
        await server.wait_closed()
