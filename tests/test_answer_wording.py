"""How answers are worded: counts in the singular, ranges on every list, no ".;", a due poll said as such.

Through the engine (a memory chat, real SQLite) and real HTTP to the fake sources.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.memory import MemoryAdapter
from bot.model.replies import PaperList, Text
from bot.sources import ArxivClient, SourceUnavailable
from bot.model.wording import plural
from paperboy_testing.seed import make_item


@pytest.fixture
def chat(core):
    return MemoryAdapter(core.engine)


def test_plural():
    assert [plural(n, "paper") for n in (0, 1, 2)] == ["0 papers", "1 paper", "2 papers"]
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"


async def test_one_match_is_one_paper_and_every_list_says_its_range(chat, fake_hf, clock):
    fake_hf.add(make_item(700, "Zorblax quibbling", "A zorblax.", daily=clock().date(), paper_id="2411.00700"))
    reply = await chat.push("subscribe zorblax")
    assert isinstance(reply.content, PaperList)
    assert reply.content.title == ("Subscribed to zorblax (topic 1): 1 paper in the current lists matches already "
                                   "(1–1 of 1)")
    assert reply.content.note == "From now on new matching papers will be posted here as they appear."


async def test_a_note_that_is_a_sentence_is_followed_by_a_sentence(chat):
    await chat.push("digest 09:00")
    reply = await chat.push("subscribe model")  # most of the seed: more than a page
    note = reply.content.note
    assert ".;" not in note and note.endswith(". Type 'more' for the next 10.")
    assert note.startswith("From now on new matching papers will be posted in the daily digest.")


async def test_one_attempt_is_one_attempt(fake_arxiv):
    fake_arxiv.fail_next("500")
    async with ArxivClient(base_url=fake_arxiv.base_url, min_interval=0.0, max_retries=0) as arxiv:
        with pytest.raises(SourceUnavailable) as caught:
            await arxiv.paper("2609.20822")
    assert str(caught.value).endswith("HTTP 500 (after 1 attempt)")


@pytest.mark.parametrize("seconds, shown", [(-90, "Next poll: "), (0, "Next poll: due now ("),
                                             (30, "Next poll: due now (")])
async def test_a_poll_whose_time_has_come_is_due_now(chat, core, seconds, shown):
    due = core.engine.clock() - timedelta(seconds=seconds)
    await core.store.set_state("poll.next_at", due.isoformat())
    reply = await chat.push("status")
    assert isinstance(reply.content, Text)
    (line,) = [line for line in reply.content.body.splitlines() if line.startswith("Next poll")]
    assert line.startswith(shown) and "0 s ago" not in line and " ago" not in line, line
    if seconds < 0:
        assert line.endswith("in 90 s")


async def test_a_note_after_a_sentence_never_reads_dot_semicolon(chat, core):
    from bot.model.paper import Paper

    await core.store.save_papers([Paper(id="2401.09999", title="Only in the cache", abstract="Gone upstream.")])
    reply = await chat.push("show 2401.09999")
    assert reply.content.paper.id == "2401.09999"
    assert reply.content.note == "No paper 2401.09999 on Hugging Face Papers or arXiv; showing cached results"
