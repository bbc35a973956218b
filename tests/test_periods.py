"""`week` and `month` through the engine, real storage and real HTTP to the fake Hugging Face."""

from __future__ import annotations

from datetime import date

import pytest

from bot.model.replies import Error, PaperList
from paperboy_testing.seed import make_item
from tests.test_engine import chat, core  # noqa: F401  (fixtures: both backends, a memory chat)


def upvotes(reply) -> list[int]:
    assert isinstance(reply.content, PaperList), reply.content
    return [card.paper.upvotes for card in reply.content.cards]


def add_week_papers(fake_hf, count: int) -> list[str]:
    """Papers on the days of 2026-W10 (2 to 8 March), upvotes unsorted; return their ids, most upvoted first."""
    ids = {}
    for n in range(count):
        paper_id = f"2603.{n:05d}"
        votes = (n * 37) % 101 + 1
        fake_hf.add(make_item(n, f"Week paper {n}", "A study.", daily=date(2026, 3, 2 + n % 7),
                              paper_id=paper_id, upvotes=votes))
        ids[paper_id] = votes
    return sorted(ids, key=lambda pid: (-ids[pid], pid))


async def test_default_week_and_month_are_the_current_ones(chat, fake_hf, clock):  # noqa: F811
    year, week, _ = clock().date().isocalendar()
    reply = await chat.push("week")
    assert not reply.private
    assert reply.content.title.startswith(f"Top papers of the week {year}-W{week:02d} on Hugging Face")
    assert fake_hf.requests[-1].query["week"] == f"{year}-W{week:02d}"
    assert "sort" not in fake_hf.requests[-1].query
    assert upvotes(reply) and upvotes(reply) == sorted(upvotes(reply), reverse=True)
    month = await chat.push("month")
    assert month.content.title.startswith(f"Top papers of the month {clock():%Y-%m} on Hugging Face")
    assert fake_hf.requests[-1].query["month"] == f"{clock():%Y-%m}"
    assert upvotes(month) == sorted(upvotes(month), reverse=True)


async def test_a_given_week_is_ordered_by_upvotes_and_paged_with_more(chat, fake_hf):  # noqa: F811
    expected = add_week_papers(fake_hf, 14)
    fake_hf.add(make_item(99, "Next week", "A study.", daily=date(2026, 3, 9), paper_id="2603.09999",
                          upvotes=1000))
    reply = await chat.push("week 2026-W10")
    assert reply.content.title == "Top papers of the week 2026-W10 on Hugging Face (1–10 of 14)"
    assert [c.paper.id for c in reply.content.cards] == expected[:10]
    rest = await chat.push("more")
    assert [c.paper.id for c in rest.content.cards] == expected[10:]
    month = await chat.push("month 2026-03")
    assert "2603.09999" == month.content.cards[0].paper.id
    assert upvotes(month) == sorted(upvotes(month), reverse=True)


async def test_the_cache_answers_with_a_note_when_hugging_face_fails(chat, fake_hf):  # noqa: F811
    expected = add_week_papers(fake_hf, 5)
    assert [c.paper.id for c in (await chat.push("week 2026-W10")).content.cards] == expected
    await fake_hf.stop()
    reply = await chat.push("week 2026-w10")
    assert [c.paper.id for c in reply.content.cards] == expected
    assert "cannot reach Hugging Face" in reply.content.note and "cached" in reply.content.note
    nothing = await chat.push("month 2025-01")
    assert isinstance(nothing.content, Error) and "nothing is cached yet" in nothing.content.message


async def test_a_500_from_hugging_face_falls_back_too(chat, fake_hf):  # noqa: F811
    add_week_papers(fake_hf, 3)
    await chat.push("month 2026-03")
    fake_hf.fail_next("500", "500", "500", "500")
    reply = await chat.push("month 2026-03")
    assert isinstance(reply.content, PaperList) and len(reply.content.cards) == 3
    assert "showing cached results" in reply.content.note


@pytest.mark.parametrize("text, usage", [
    ("week 2026-W60", "week [YYYY-Www]"), ("week banana", "week [YYYY-Www]"), ("week 2026-W00", "week [YYYY-Www]"),
    ("week " + "x" * 5000, "week [YYYY-Www]"), ("month 2026-13", "month [YYYY-MM]"),
    ("month banana", "month [YYYY-MM]"), ("month " + "9" * 5000, "month [YYYY-MM]"),
])
async def test_a_bad_argument_is_one_usage_line(chat, fake_hf, text, usage):  # noqa: F811
    before = len(fake_hf.requests)
    reply = await chat.push(text)
    assert reply.private and isinstance(reply.content, Error), reply.content
    first, second = reply.content.message.split("\n")
    assert len(first) < 120
    assert second == f"Usage: {usage}"
    assert len(fake_hf.requests) == before
