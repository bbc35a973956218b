"""`ArxivClient.category` / `new_in_category` over real HTTP against `FakeArxiv`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import AsyncIterator

import pytest

from bot.sources import ArxivClient, MalformedResponse
from bot.sources.errors import SourceError
from bot.sources.arxiv import parse_atom_page
from paperboy_testing.arxiv_server import FakeArxiv


@pytest.fixture
async def fake() -> AsyncIterator[FakeArxiv]:
    async with FakeArxiv() as server:
        for day in range(1, 8):
            server.add(f"2609.0000{day}", title=f"CL paper {day}", published=f"2026-09-0{day}T12:00:00Z",
                       categories=["cs.CL", "cs.LG", "cs.CL"])
        server.add("2609.10000", title="A vision paper", published="2026-09-05T00:00:00Z", categories=["cs.CV"])
        server.add("2609.20000", title="A math paper", published="2026-09-06T00:00:00Z", categories=["math.GT"])
        yield server


@pytest.fixture
async def arxiv(fake) -> AsyncIterator[ArxivClient]:
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    async with ArxivClient(base_url=fake.base_url, min_interval=3.0, clock=lambda: now[0], sleep=sleep) as client:
        client.sleeps = sleeps  # type: ignore[attr-defined]
        yield client


async def test_categories_are_primary_first_without_duplicates(arxiv) -> None:
    paper = await arxiv.paper("2609.00001")
    assert paper.categories == ("cs.CL", "cs.LG")


async def test_a_category_page_is_newest_first(fake, arxiv) -> None:
    page = await arxiv.category("cs.CL", max_results=3)
    assert [p.id for p in page] == ["2609.00007", "2609.00006", "2609.00005"]
    assert all(p.source == "arxiv" for p in page)
    query = fake.requests[0].query
    assert query["search_query"] == "cat:cs.CL" and query["sortBy"] == "submittedDate"
    assert query["sortOrder"] == "descending" and query["start"] == "0" and query["max_results"] == "3"
    assert await arxiv.category("math.AG") == []


async def test_a_whole_archive(arxiv) -> None:
    ids = {p.id for p in await arxiv.category("cs.*")}
    assert "2609.10000" in ids and "2609.20000" not in ids and len(ids) == 8


async def test_new_in_category_pages_until_since_and_spaces_requests(fake, arxiv) -> None:
    since = datetime(2026, 9, 3, tzinfo=timezone.utc)
    papers = await arxiv.new_in_category("cs.CL", since=since, page_size=2)
    assert [p.id for p in papers] == ["2609.00007", "2609.00006", "2609.00005", "2609.00004", "2609.00003"]
    assert [r.query["start"] for r in fake.requests] == ["0", "2", "4"]
    assert arxiv.sleeps == [3.0, 3.0]


async def test_new_in_category_stops_at_most(arxiv) -> None:
    assert len(await arxiv.new_in_category("cs.CL", since=None, most=4, page_size=3)) == 4


async def test_garbage_is_one_line_naming_the_category(fake, arxiv) -> None:
    fake.fail_next("garbage")
    with pytest.raises(MalformedResponse) as caught:
        await arxiv.category("cs.CL")
    assert "cs.CL" in str(caught.value) and "\n" not in str(caught.value)


def test_an_entry_without_an_id_is_skipped() -> None:
    feed = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>q</title>'
            "<entry><id>urn:x</id><title>No id</title></entry>"
            "<entry><id>http://arxiv.org/abs/2609.20822v1</id><title>Good</title></entry></feed>")
    assert [p.id for p in parse_atom_page(feed, category="cs.CL")] == ["2609.20822"]


def test_an_error_entry_names_the_category() -> None:
    feed = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>q</title>'
            "<entry><title>Error</title><summary>max_results must be positive</summary></entry></feed>")
    with pytest.raises(SourceError, match=r"listing of cs\.CL with an error \(max_results must be positive\)"):
        parse_atom_page(feed, category="cs.CL")
