"""A hostile Hugging Face (issue 10): odd fields, a slow drip, huge bodies, absurd waits.

Everything that fetches goes through real HTTP to `FakeHuggingFace` (or, for arXiv, a bare
dripping socket) on 127.0.0.1; the first test also through a real poll into a real SQLite file.
The parsing bounds are also checked on bodies directly, and property-tested into SQLite.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.memory import MemoryAdapter
from bot.sources import (
    ArxivClient, BudgetExhausted, HuggingFaceClient, MalformedResponse, RequestBudget, SourceUnavailable,
)
from bot.sources.hf_shapes import (
    ABSTRACT_MAX, AUTHORS_KEPT, COUNT_MAX, TITLE_MAX, parse_daily_items, parse_paper, parse_search_results,
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


# -- 1 again, on bodies: every field bounded and cleaned ------------------------------------------


def _item(pid: str, **paper: object) -> dict:
    return {"paper": {"id": pid, "title": f"Paper {pid}", **paper}}


def _body(items: list[dict], digits: int = 0) -> bytes:
    """JSON for *items*; each string "DIGITS" becomes a bare integer of *digits* digits."""
    return json.dumps(items).replace('"DIGITS"', "9" * digits).encode()


@pytest.mark.parametrize(("field", "value", "why"), [
    ("upvotes", 2**63, "upvotes: 9223372036854775808 is out of range"),
    ("upvotes", -1, "upvotes: -1 is out of range"),
    ("upvotes", COUNT_MAX + 1, "out of range (0 to 1,000,000,000)"),
    ("upvotes", "DIGITS", "upvotes: 5000-digit number"),
    ("githubStars", 2**70, "githubStars: 1180591620717411303424 is out of range"),
    ("upvotes", 1.5, "upvotes: 1.5 is not a count"),
    ("upvotes", True, "upvotes: True is not a count"),
])
def test_a_count_out_of_range_sets_only_its_item_aside_naming_it(field, value, why, caplog) -> None:
    body = _body([_item("2401.00001", **{field: value}), _item("2401.00002", upvotes=3)], digits=5000)
    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_shapes"):
        papers = parse_daily_items(body, where="HF test")
    assert [p.id for p in papers] == ["2401.00002"]
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith("skipping paper 2401.00001 (item 0) from HF test: ") and why in warning


def test_a_bad_comment_count_sets_its_item_aside_and_a_bad_total_is_only_unknown() -> None:
    items = [{**_item("2401.00001"), "numComments": "DIGITS"}, _item("2401.00002")]
    assert [p.id for p in parse_daily_items(_body(items, digits=40))] == ["2401.00002"]
    paper = parse_paper(_body([_item("2401.00003")["paper"] | {"numTotalModels": 2**63}])[1:-1])
    assert paper.linked_models_total is None


def test_a_long_number_where_nothing_is_read_costs_nothing() -> None:
    items = [_item("2401.00001", discussionId="DIGITS", submittedOnDailyBy={"followers": "DIGITS"})]
    [paper] = parse_daily_items(_body(items, digits=100_000))
    assert paper.id == "2401.00001"


def test_text_is_made_valid_and_bounded_and_the_fixes_are_logged(caplog) -> None:
    item = _item(
        "2401.00001",
        title="Lone \ud800 and \udfff surrogates,\x00 a NUL and an \x1b[31mescape " + "long " * 1000,
        summary="word " * 30_000,
        authors=[{"name": f"Author {n}"} for n in range(5000)] + [{"name": 7}, "odd"],
        ai_keywords=["ok", 5, None, "x" * 500],
        githubRepo="javascript:alert(1)",
        projectPage="https://example.org/a|<@everyone>",
        organization="not an object",
    )
    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_shapes"):
        [paper] = parse_daily_items(json.dumps([item]))
    assert paper.title.startswith("Lone \ufffd and \ufffd surrogates, a NUL and an [31mescape long")
    assert TITLE_MAX - 5 < len(paper.title) <= TITLE_MAX and paper.title.endswith("long…")
    assert ABSTRACT_MAX - 5 < len(paper.abstract) <= ABSTRACT_MAX
    assert paper.authors == tuple(f"Author {n}" for n in range(AUTHORS_KEPT))
    assert paper.ai_keywords == ("ok", "x" * 99 + "…")
    assert paper.github_repo is None and paper.project_page is None and paper.organization is None
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith("paper 2401.00001 from Hugging Face kept with fixes: title 2 lone surrogates")
    for part in ("2 control characters removed", "removed, cut to 1,000 characters from 5,048", "abstract cut to 10,000",
                 "authors kept the first 200 of 5,000", "githubRepo dropped 'javascript:alert(1)'"):
        assert part in warning


def test_dates_are_aware_and_in_sane_years_or_unknown() -> None:
    items = [_item("2401.00001", publishedAt="2024-03-01T10:00:00", submittedOnDailyAt="9999-12-31T23:59:59Z"),
             _item("2401.00002", publishedAt="0001-01-01T00:00:00+14:00")]
    naive, ancient = parse_daily_items(json.dumps(items))
    assert naive.published_at == datetime(2024, 3, 1, 10, tzinfo=timezone.utc) and naive.daily_date is None
    assert ancient.published_at is None


def test_bytes_that_are_not_utf8_cost_only_themselves(caplog) -> None:
    body = json.dumps([_item("2401.00001", title="Caf\u00e9 TITLE")]).encode().replace(b"TITLE", b"\xff\xfe")
    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_shapes"):
        [paper] = parse_daily_items(body)
    assert paper.title == "Café \ufffd\ufffd"
    assert "not UTF-8" in caplog.text


def test_json_nested_too_deeply_is_one_clear_error() -> None:
    with pytest.raises(MalformedResponse, match="nested too deeply"):
        parse_daily_items(b"[" * 200_000)


def test_search_results_are_cut_to_what_was_asked(caplog) -> None:
    items = [_item(f"2401.{n:05d}") for n in range(1, 8)]
    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_shapes"):
        papers = parse_search_results(json.dumps(items), limit=3)
    assert [p.id for p in papers] == ["2401.00001", "2401.00002", "2401.00003"]
    assert "7 items where at most 3 were asked for" in caplog.text


_json_text = st.text(st.characters(blacklist_categories=()), max_size=60)
_json_number = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False),
                         st.just("DIGITS"))


def _json_containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(children, max_size=4), st.dictionaries(_json_text, children, max_size=4))


_json_value = st.recursive(st.none() | st.booleans() | _json_number | _json_text, _json_containers, max_leaves=12)
_json_value = st.one_of(_json_value, st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()))
_field_names = st.sampled_from(["title", "summary", "upvotes", "githubStars", "githubRepo", "projectPage",
                                "ai_summary", "ai_keywords", "authors", "organization", "publishedAt",
                                "submittedOnDailyAt", "numTotalModels", "linkedModels", "thumbnailUrl"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(_field_names, _json_value, max_size=8), min_size=1, max_size=4),
       st.lists(st.dictionaries(st.sampled_from(["title", "summary", "numComments", "thumbnail"]), _json_value,
                                max_size=3), min_size=4, max_size=4))
def test_whatever_a_hostile_list_holds_what_parses_can_be_stored(papers, wrappers) -> None:
    items = [{**wrapper, "paper": {"id": f"2401.{n:05d}", **paper}}
             for n, (paper, wrapper) in enumerate(zip(papers, wrappers), start=1)]
    try:
        parsed = parse_daily_items(_body(items, digits=5000))
    except MalformedResponse:
        return  # every item bad: one clear error
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE papers (id TEXT, title TEXT, upvotes INTEGER, stars INTEGER, data TEXT)")
    for paper in parsed:
        assert paper.upvotes is None or 0 <= paper.upvotes <= COUNT_MAX
        assert len(paper.title) <= TITLE_MAX and len(paper.authors) <= AUTHORS_KEPT
        assert paper.published_at is None or paper.published_at.tzinfo is not None
        db.execute("INSERT INTO papers VALUES (?, ?, ?, ?, ?)",
                   (paper.id, paper.title, paper.upvotes, paper.github_stars, paper.model_dump_json()))
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == len(parsed)


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
