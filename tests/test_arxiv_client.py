"""`ArxivClient` over real HTTP against `FakeArxiv`: Atom parsing, errors and request spacing."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import AsyncIterator

import httpx
import pytest

from bot.sources import ArxivClient, MalformedResponse, PaperNotFound, SourceUnavailable
from bot.sources.arxiv import parse_atom_entry
from paperboy_testing.arxiv_server import FakeArxiv

ENTRIES = {
    "2609.20822": {
        "title": "Attention   Is\n  Still All You Need",
        "summary": "We revisit attention.\nIt still works & <scales>.",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "published": "2026-09-24T17:59:59Z",
        "version": 3,
    },
    "hep-th/9901001": {"title": "Old Style Strings", "summary": "Strings.", "authors": ["P. Physicist"],
                       "published": "1999-01-04T00:00:00Z"},
}
INTERVAL = 0.3


@pytest.fixture
async def fake() -> AsyncIterator[FakeArxiv]:
    async with FakeArxiv(ENTRIES) as server:
        server.hang_seconds = 5.0
        yield server


@pytest.fixture
async def arxiv(fake: FakeArxiv) -> AsyncIterator[ArxivClient]:
    async with ArxivClient(base_url=fake.base_url, timeout=1.0, min_interval=INTERVAL) as client:
        yield client


async def test_an_entry_maps_to_an_arxiv_paper(fake, arxiv) -> None:
    paper = await arxiv.paper("https://arxiv.org/abs/2609.20822v1")
    assert fake.requests[0].query["id_list"] == "2609.20822"
    assert fake.requests[0].header("User-Agent") == "paperboy/0.1"
    assert paper.id == "2609.20822"  # the entry's id carries v3: dropped
    assert paper.source == "arxiv"
    assert paper.title == "Attention Is Still All You Need"
    assert paper.abstract == "We revisit attention. It still works & <scales>."
    assert paper.authors == ("Ada Lovelace", "Alan Turing")
    assert paper.published_at == datetime(2026, 9, 24, 17, 59, 59, tzinfo=timezone.utc)
    assert paper.upvotes is None and paper.daily_date is None
    assert paper.url == "https://arxiv.org/abs/2609.20822"


async def test_an_old_style_id_round_trips(arxiv) -> None:
    paper = await arxiv.paper("hep-th/9901001v2")
    assert paper.id == "hep-th/9901001" and paper.authors == ("P. Physicist",)


async def test_an_unknown_id_is_not_found(arxiv) -> None:
    with pytest.raises(PaperNotFound, match="arXiv has no paper 2401.00001"):
        await arxiv.paper("2401.00001")


def test_an_error_entry_about_the_id_is_not_found() -> None:
    feed = _feed("<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1</id><title>Error</title>"
                 "<summary>incorrect id format for 1234.1234x</summary></entry>")
    with pytest.raises(PaperNotFound, match=r"\(incorrect id format for 1234.1234x\)"):
        parse_atom_entry(feed, requested="1234.12345")


def test_any_other_error_entry_is_malformed() -> None:
    feed = _feed("<entry><title>Error</title><summary>max_results must be positive</summary></entry>")
    with pytest.raises(MalformedResponse, match="max_results must be positive"):
        parse_atom_entry(feed, requested="2609.20822")


def test_an_entry_without_a_title_is_not_found() -> None:
    feed = _feed("<entry><id>http://arxiv.org/api/x</id><title/></entry>")
    with pytest.raises(PaperNotFound):
        parse_atom_entry(feed, requested="2609.20822")


def test_an_entry_without_an_arxiv_id_is_malformed() -> None:
    feed = _feed("<entry><id>urn:something</id><title>A title</title></entry>")
    with pytest.raises(MalformedResponse, match="without an id"):
        parse_atom_entry(feed, requested="2609.20822")


async def test_the_fakes_error_entry_reaches_the_client_as_not_found(fake) -> None:
    # The client normalises ids first, so only a direct request produces the error feed.
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{fake.base_url}/api/query", params={"id_list": "2609.2082x"})
    with pytest.raises(PaperNotFound, match="incorrect id format"):
        parse_atom_entry(response.content, requested="2609.2082x")


async def test_a_body_that_is_not_xml_is_malformed(fake, arxiv) -> None:
    fake.fail_next("garbage")
    with pytest.raises(MalformedResponse, match="not XML"):
        await arxiv.paper("2609.20822")


async def test_a_server_error_is_retried_once_then_unavailable(fake) -> None:
    fake.fail_next("500", "500")
    async with ArxivClient(base_url=fake.base_url, min_interval=0.05) as arxiv:
        with pytest.raises(SourceUnavailable) as caught:
            await arxiv.paper("2609.20822")
    assert str(caught.value) == f"cannot reach arXiv at {fake.base_url}: HTTP 500 (after 2 attempts)"
    assert len(fake.requests) == 2


async def test_a_timeout_then_success(fake) -> None:
    fake.fail_next("timeout")
    async with ArxivClient(base_url=fake.base_url, timeout=0.2, min_interval=0.05) as arxiv:
        assert (await arxiv.paper("2609.20822")).id == "2609.20822"
    assert len(fake.requests) == 2


async def test_requests_are_spaced_and_one_at_a_time(fake, arxiv) -> None:
    await asyncio.gather(*(arxiv.paper(pid) for pid in ["2609.20822", "hep-th/9901001", "2609.20822"]))
    times = fake.request_times
    assert len(times) == 3
    # Generous lower bound: the server sees the gap minus scheduling jitter, never much less.
    assert all(later - earlier >= INTERVAL * 0.9 for earlier, later in zip(times, times[1:]))


async def test_spacing_uses_the_injected_clock(fake) -> None:
    now = [100.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    async with ArxivClient(base_url=fake.base_url, min_interval=3.0, clock=lambda: now[0], sleep=sleep) as arxiv:
        await arxiv.paper("2609.20822")
        now[0] += 1.0
        await arxiv.paper("2609.20822")
        now[0] += 5.0
        await arxiv.paper("2609.20822")
    assert sleeps == [2.0]
    assert len(fake.requests) == 3


def _feed(entries: str) -> bytes:
    return (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>q</title>{entries}</feed>'
            ).encode()
