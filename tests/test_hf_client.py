"""`HuggingFaceClient` over real HTTP against `FakeHuggingFace`: answers, faults, token, budget."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import AsyncIterator

import httpx
import pytest

from bot.model.ids import InvalidPaperId
from bot.sources import (
    BudgetExhausted, HuggingFaceClient, MalformedResponse, PaperNotFound, RequestBudget, SourceError,
    SourceUnavailable,
)
from bot.sources.http import send_with_retries, server_delay
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import make_item, seed_id, seed_items

TODAY = date(2026, 3, 14)


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
async def fake() -> AsyncIterator[FakeHuggingFace]:
    async with FakeHuggingFace(seed_items(today=TODAY)) as server:
        server.hang_seconds = 5.0
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(fake: FakeHuggingFace, clock: FakeClock) -> AsyncIterator[HuggingFaceClient]:
    budget = RequestBudget(clock=clock, sleep=clock.sleep)
    async with HuggingFaceClient(base_url=fake.base_url, timeout=0.5, sleep=clock.sleep, budget=budget) as hf:
        yield hf


# -- answers ---------------------------------------------------------------------------------


async def test_trending_follows_the_sites_order_and_sends_the_right_query(fake, client) -> None:
    fake.trending_ids = [seed_id(7), seed_id(3), seed_id(50)]
    papers = await client.trending(limit=2)
    assert [p.id for p in papers] == [seed_id(7), seed_id(3)]
    [request] = fake.requests
    assert request.path == "/api/daily_papers"
    assert request.query == {"sort": "trending", "limit": "2"}
    assert request.header("User-Agent") == "paperboy/0.1"
    assert request.header("Authorization") is None


async def test_a_new_paper_tops_trending(fake, client) -> None:
    fake.add(make_item(200, "Brand new", "Fresh abstract.", daily=TODAY, paper_id="2403.99999", upvotes=1))
    papers = await client.trending(limit=3)
    assert papers[0].id == "2403.99999" and papers[0].title == "Brand new"


async def test_daily_for_a_date_asks_for_that_date(fake, client) -> None:
    day = date(2026, 3, 12)
    papers = await client.daily(day, limit=100)
    assert fake.requests[-1].query == {"date": "2026-03-12", "limit": "100"}
    assert papers and all(p.daily_date == day for p in papers)
    assert [p.upvotes for p in papers] == sorted((p.upvotes for p in papers), reverse=True)


async def test_daily_without_a_date_gives_the_newest_first(fake, client) -> None:
    papers = await client.daily(limit=10)
    assert "date" not in fake.requests[-1].query
    assert len(papers) == 10 and all(p.daily_date == TODAY for p in papers)


async def test_paper_accepts_any_id_form_and_reads_the_flat_object(fake, client) -> None:
    paper = await client.paper(f"https://arxiv.org/abs/{seed_id(4)}v2")
    assert fake.requests[-1].path == f"/api/papers/{seed_id(4)}"
    assert paper.id == seed_id(4)
    assert paper.comments is None  # the flat object carries no comment count
    assert paper.upvotes == fake.items[seed_id(4)]["paper"]["upvotes"]


async def test_an_unknown_paper_is_not_found(fake, client) -> None:
    with pytest.raises(PaperNotFound, match="Hugging Face has no page for paper 2401.00001"):
        await client.paper("2401.00001")
    fake.not_found.add(seed_id(1))
    with pytest.raises(PaperNotFound):
        await client.paper(seed_id(1))
    assert len(fake.requests) == 2  # a 404 is an answer, not a fault: no retries


async def test_an_invalid_id_never_reaches_the_network(fake, client) -> None:
    with pytest.raises(InvalidPaperId):
        await client.paper("not a paper")
    assert fake.requests == []


async def test_search_finds_by_words_in_title_and_abstract(fake, client) -> None:
    papers = await client.search("  Language   MODELS ", limit=5)
    assert fake.requests[-1].query == {"q": "Language   MODELS", "limit": "5"}
    assert 0 < len(papers) <= 5
    for paper in papers:
        text = f"{paper.title} {paper.abstract}".lower()
        assert "language" in text and "models" in text
    assert await client.search("   ") == []
    assert len(fake.requests) == 1


@pytest.mark.parametrize("limit", [0, 101, -5])
async def test_a_limit_out_of_range_is_refused_before_sending(fake, client, limit) -> None:
    with pytest.raises(ValueError, match="between 1 and 100"):
        await client.trending(limit=limit)
    assert fake.requests == []


# -- token -----------------------------------------------------------------------------------


async def test_the_token_is_sent_as_bearer_and_never_logged(fake, caplog) -> None:
    token = "hf_sekritTOKEN123"
    with caplog.at_level(logging.DEBUG):
        async with HuggingFaceClient(base_url=fake.base_url, token=token, timeout=0.5, max_retries=1,
                                     sleep=FakeClock().sleep) as hf:
            await hf.trending(limit=1)
            fake.fail_next("500", "500")
            with pytest.raises(SourceUnavailable) as caught:
                await hf.daily()
            assert token not in repr(hf)
    assert fake.requests[0].header("Authorization") == f"Bearer {token}"
    assert caplog.records, "the failure should have been logged"
    assert token not in caplog.text
    assert token not in str(caught.value)


async def test_an_http_client_passed_in_is_used_and_left_open(fake) -> None:
    async with httpx.AsyncClient() as http:
        hf = HuggingFaceClient(base_url=fake.base_url + "/", http=http)
        assert len(await hf.trending(limit=3)) == 3
        await hf.aclose()
        assert not http.is_closed


# -- faults ----------------------------------------------------------------------------------


async def test_429_waits_as_long_as_the_server_says(fake, client, clock) -> None:
    fake.retry_after_seconds, fake.reset_seconds = 2, 7
    fake.fail_next("429")
    papers = await client.trending(limit=5)
    assert len(papers) == 5
    assert len(fake.requests) == 2
    # The longer of Retry-After and RateLimit t=, and no extra budget wait on top of it.
    assert clock.sleeps == [7]


async def test_500_then_success(fake, client, clock) -> None:
    fake.fail_next("500")
    assert [p.id for p in await client.daily(limit=3)] == [p.id for p in await client.daily(limit=3)]
    assert len(fake.requests) == 3
    assert clock.sleeps == [0.5]


async def test_timeout_then_success(fake, client, clock) -> None:
    fake.fail_next("timeout")
    paper = await client.paper(seed_id(0))
    assert paper.id == seed_id(0)
    assert len(fake.requests) == 2
    assert clock.sleeps == [0.5]


async def test_retries_exhausted_give_a_clear_unavailable_error(fake, client, clock) -> None:
    fake.fail_next("500", "500", "429", "500")
    with pytest.raises(SourceUnavailable) as caught:
        await client.trending()
    assert str(caught.value) == f"cannot reach Hugging Face at {fake.base_url}: HTTP 500 (after 4 attempts)"
    assert len(fake.requests) == 4
    assert clock.sleeps == [0.5, 1.0, 1]  # backoff, backoff, then the 429's Retry-After


async def test_timeouts_exhausted_say_so(fake, clock) -> None:
    fake.fail_next("timeout", "timeout")
    async with HuggingFaceClient(base_url=fake.base_url, timeout=0.2, max_retries=1, sleep=clock.sleep) as hf:
        with pytest.raises(SourceUnavailable, match=r"^cannot reach Hugging Face at .*: timed out \(after 2"):
            await hf.trending()


async def test_nothing_listening_is_unavailable(clock) -> None:
    server = FakeHuggingFace()
    base_url = await server.start()
    await server.stop()
    async with HuggingFaceClient(base_url=base_url, timeout=0.5, max_retries=2, sleep=clock.sleep) as hf:
        with pytest.raises(SourceUnavailable, match="connection refused"):
            await hf.trending()
    assert clock.sleeps == [0.5, 1.0]


async def test_a_wait_longer_than_allowed_fails_at_once(fake, client, clock) -> None:
    fake.retry_after_seconds = fake.reset_seconds = 600
    fake.fail_next("429")
    with pytest.raises(SourceUnavailable, match="HTTP 429, asked to wait 600 s"):
        await client.trending()
    assert clock.sleeps == [] and len(fake.requests) == 1


@pytest.mark.parametrize(
    ("fault", "message"),
    [("truncated", "not JSON"), ("garbage", "not JSON: '<!DOCTYPE html>"), ("missing_fields", "none is a paper")],
)
async def test_bad_bodies_are_malformed_and_not_retried(fake, client, fault, message) -> None:
    fake.fail_next(fault)
    with pytest.raises(MalformedResponse, match="^Hugging Face \\(daily papers\\) answered with") as caught:
        await client.daily()
    assert message in str(caught.value)
    assert len(fake.requests) == 1


async def test_a_paper_missing_its_fields_is_malformed(fake, client) -> None:
    fake.fail_next("missing_fields")
    with pytest.raises(MalformedResponse, match="cannot be read"):
        await client.paper(seed_id(2))


async def test_a_client_error_is_a_source_error_not_a_retry(fake, client) -> None:
    # Not reachable through the public methods today; the fake answers 400 to a bad date.
    with pytest.raises(SourceError, match="HTTP 400"):
        await client._get("/api/daily_papers", {"date": "2026-02-30"})
    assert len(fake.requests) == 1


async def test_random_faults_only_ever_surface_as_source_errors(fake, clock) -> None:
    fake.failure_rate = 0.4
    fake.hang_seconds = 1.0
    outcomes: dict[str, int] = {}
    async with HuggingFaceClient(base_url=fake.base_url, timeout=0.2, max_retries=2, sleep=clock.sleep) as hf:
        for _ in range(50):
            try:
                papers = await hf.trending(limit=5)
            except SourceError as error:
                outcomes[type(error).__name__] = outcomes.get(type(error).__name__, 0) + 1
            else:
                assert [p.id for p in papers] == fake.trending_ids[:5]
                outcomes["ok"] = outcomes.get("ok", 0) + 1
    assert outcomes.get("ok", 0) > 10 and outcomes.get("MalformedResponse", 0) > 0
    assert set(outcomes) <= {"ok", "MalformedResponse", "SourceUnavailable"}
    assert len(fake.requests) > 50  # 429, 500 and timeouts were retried


# -- budget ----------------------------------------------------------------------------------


async def test_the_budget_is_never_exceeded(fake, clock) -> None:
    sent_at: list[float] = []

    async def note(request: httpx.Request) -> None:
        sent_at.append(clock())

    budget = RequestBudget(limit=5, window=300, max_wait=400, clock=clock, sleep=clock.sleep)
    async with httpx.AsyncClient(event_hooks={"request": [note]}) as http:
        hf = HuggingFaceClient(base_url=fake.base_url, http=http, budget=budget, sleep=clock.sleep)
        await asyncio.gather(*(hf.trending(limit=1) for _ in range(12)))
    assert len(sent_at) == len(fake.requests) == 12
    for first, sixth in zip(sent_at, sent_at[5:]):
        assert sixth - first >= 300
    assert sent_at[-1] - sent_at[0] < 3 * 300  # and it does not wait needlessly


async def test_retries_count_against_the_budget(fake, clock) -> None:
    budget = RequestBudget(limit=3, window=300, max_wait=10, clock=clock, sleep=clock.sleep)
    hf = HuggingFaceClient(base_url=fake.base_url, budget=budget, sleep=clock.sleep)
    fake.fail_next("500", "500")
    await hf.trending(limit=1)  # three requests: the budget is spent
    with pytest.raises(BudgetExhausted) as caught:
        await hf.trending(limit=1)
    assert str(caught.value).startswith(f"cannot reach Hugging Face at {fake.base_url}: request budget used up")
    assert len(fake.requests) == 3
    await hf.aclose()


async def test_rate_limit_remaining_zero_pauses_until_reset(clock) -> None:
    budget = RequestBudget(limit=500, window=300, clock=clock, sleep=clock.sleep)
    await budget.acquire()
    budget.observe(httpx.Headers({"RateLimit": '"api";r=0;t=42'}))
    await budget.acquire()
    assert clock.sleeps == [42]
    budget.observe(httpx.Headers({"RateLimit": '"api";r=12;t=42'}))
    await budget.acquire()
    assert clock.sleeps == [42]


def test_server_delay_reads_both_headers() -> None:
    assert server_delay(httpx.Headers({"Retry-After": "3"})) == 3
    assert server_delay(httpx.Headers({"RateLimit": '"api";r=0;t=17'})) == 17
    assert server_delay(httpx.Headers({"Retry-After": "3", "RateLimit": '"api";r=0;t=17'})) == 17
    assert server_delay(httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) is None
    assert server_delay(httpx.Headers({})) is None
    # Sent on every answer: a window reset with requests left is not a request to wait.
    assert server_delay(httpx.Headers({"RateLimit": '"api";r=498;t=287'})) is None


async def test_send_with_retries_backs_off_exponentially(clock) -> None:
    calls = 0

    async def send() -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503 if calls < 4 else 200)

    response = await send_with_retries(send, max_retries=5, sleep=clock.sleep, backoff=0.25)
    assert response.status_code == 200
    assert clock.sleeps == [0.25, 0.5, 1.0]


# -- the fake itself (every other suite relies on it) -------------------------------------------


async def test_the_fake_pages_and_refuses_what_the_real_api_refuses(fake) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url) as http:
        first = (await http.get("/api/daily_papers", params={"limit": 10})).json()
        second = (await http.get("/api/daily_papers", params={"limit": 10, "p": 1})).json()
        past_end = (await http.get("/api/daily_papers", params={"limit": 100, "p": 5})).json()
        too_many = await http.get("/api/daily_papers", params={"limit": 101})
        bad_date = await http.get("/api/daily_papers", params={"date": "2026-13-01"})
    assert len(first) == len(second) == 10
    assert not {i["paper"]["id"] for i in first} & {i["paper"]["id"] for i in second}
    assert past_end == []
    assert too_many.status_code == bad_date.status_code == 400


async def test_stopping_the_fake_does_not_wait_for_a_hanging_answer() -> None:
    server = FakeHuggingFace(seed_items(today=TODAY))
    base_url = await server.start()
    server.fail_next("timeout")
    async with httpx.AsyncClient() as http:
        hanging = asyncio.ensure_future(http.get(f"{base_url}/api/daily_papers", timeout=60))
        while not server.requests:
            await asyncio.sleep(0.01)
        started = asyncio.get_running_loop().time()
        await server.stop()
        assert asyncio.get_running_loop().time() - started < server.hang_seconds / 3
        hanging.cancel()
        await asyncio.gather(hanging, return_exceptions=True)


def test_the_fake_refuses_unknown_faults() -> None:
    with pytest.raises(ValueError, match="unknown faults"):
        FakeHuggingFace().fail_next("500", "explode")
