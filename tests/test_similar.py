"""`similar <id or URL>`: real HTTP to the fake Hugging Face and arXiv, a real SQLite cache, bm25s ranking."""

from __future__ import annotations

import asyncio

import pytest

from adapters.console import render
from adapters.memory import MemoryAdapter
from bot.model.paper import Paper
from bot.model.replies import Error, PaperList
from paperboy_testing.seed import make_item, seed_id

AT_SCALE = seed_id(90)
"""What Matters for Model Merging at Scale?"""
TWIN = seed_id(54)
"""Twin-Merging: Dynamic Integration of Modular Expertise in Model Merging (the obvious relative)."""
CACHED_ONLY = Paper(
    id="2402.04321", title="Merging fine-tuned expert models: which factors matter at scale",
    abstract="We study model merging of fine-tuned expert models at scale and the factors that make merging work.",
)
"""A paper the cache knows and the fake Hugging Face does not."""


@pytest.fixture
def chat(core):
    return MemoryAdapter(core.engine)


def listed(reply) -> PaperList:
    assert isinstance(reply.content, PaperList), reply.content
    return reply.content


def ids(reply) -> list[str]:
    return [card.paper.id for card in listed(reply).cards]


def searches(fake_hf) -> list[str]:
    return [r.query["q"] for r in fake_hf.requests if r.path == "/api/papers/search"]


async def test_the_obviously_related_paper_comes_first_with_the_words_shared(chat, fake_hf):
    reply = await chat.push(f"similar {AT_SCALE}")
    results = listed(reply)
    assert not reply.private
    assert results.title.startswith(f"{len(results.cards)} related paper")
    assert f"like {AT_SCALE}: What Matters for Model Merging at Scale?" in results.title
    first = results.cards[0]
    assert first.paper.id == TWIN
    assert first.why.startswith("shares: merging, ")
    assert 2 <= len(first.why.removeprefix("shares: ").split(", ")) <= 4
    assert AT_SCALE not in ids(reply)
    # Found through Hugging Face search (the cache held nothing but the paper), asked by title words.
    assert searches(fake_hf) and all("merging" in q.split() for q in searches(fake_hf))
    assert results.note is None


async def test_cached_papers_are_candidates_and_rank_by_what_they_share(chat, core):
    await core.store.save_papers([CACHED_ONLY])
    reply = await chat.push(f"similar https://huggingface.co/papers/{AT_SCALE}")
    found = ids(reply)
    assert found[0] == CACHED_ONLY.id and TWIN in found[:3] and AT_SCALE not in found
    shared = listed(reply).cards[0].why.removeprefix("shares: ").split(", ")
    assert {"merging", "expert", "factors"} & set(shared) and "the" not in shared and "at" not in shared
    # The same from any way of naming the paper.
    assert ids(await chat.push(f"similar https://arxiv.org/abs/{AT_SCALE}v2")) == found


async def test_only_papers_that_share_words_are_listed(chat, fake_hf, clock):
    # The fake's search matches inside words, so "merging" finds "emerging": a hit sharing no word.
    unrelated = "2402.05555"
    fake_hf.add(make_item(600, "Emerging quokka husbandry", "Quokkas eat grass.", daily=clock().date(),
                          paper_id=unrelated))
    reply = await chat.push(f"similar {AT_SCALE}")
    assert fake_hf.requests[-1].path == "/api/papers/search" and ids(reply)
    assert unrelated not in ids(reply)


@pytest.mark.parametrize("text", ["similar not-a-paper", "similar 2403.1", "similar"])
async def test_a_malformed_id_gets_one_private_line_and_the_usage(chat, text):
    reply = await chat.push(text)
    assert reply.private and isinstance(reply.content, Error), reply.content
    first, usage = reply.content.message.split("\n")
    assert "arXiv id" in first
    assert usage == "Usage: similar <arXiv id or URL>"


async def test_an_unknown_paper_gets_one_line(chat, fake_hf):
    reply = await chat.push("similar 2401.99999")
    assert reply.private and isinstance(reply.content, Error)
    assert reply.content.message == "No paper 2401.99999 on Hugging Face Papers or arXiv."
    assert not searches(fake_hf)


async def test_hugging_face_down_answers_from_the_cache(chat, core, fake_hf):
    await chat.push(f"show {AT_SCALE}")  # the paper itself is cached
    await core.store.save_papers([CACHED_ONLY])
    await fake_hf.stop()
    reply = await chat.push(f"similar {AT_SCALE}")
    results = listed(reply)
    assert ids(reply) == [CACHED_ONLY.id]
    assert "cannot reach Hugging Face" in results.note and "showing cached results" in results.note


async def test_hugging_face_down_and_nothing_cached_is_one_line(chat, fake_hf):
    await fake_hf.stop()
    reply = await chat.push(f"similar {AT_SCALE}")
    assert isinstance(reply.content, Error) and "\n" not in reply.content.message
    assert "cannot reach Hugging Face" in reply.content.message


async def test_a_slow_search_does_not_hold_the_answer_past_the_deadline(chat, core, fake_hf, settings):
    await core.store.save_papers([CACHED_ONLY])
    lookups = core.engine.lookups
    real_look_up = lookups.look_up

    async def then_slow(paper_id):
        found = await real_look_up(paper_id)  # the paper answers at once; its search will not
        fake_hf.delay = 30
        return found

    lookups.look_up = then_slow
    loop = asyncio.get_running_loop()
    started = loop.time()
    reply = await chat.push(f"similar {AT_SCALE}")
    assert loop.time() - started < settings.answer_timeout + 0.5
    assert ids(reply) == [CACHED_ONLY.id]
    assert "Hugging Face" in listed(reply).note and "cached" in listed(reply).note


async def test_a_long_list_is_paged_with_more(chat, fake_hf, clock):
    day = clock().date()
    fake_hf.add(make_item(500, "Zorblax alignment of quibbling agents", "Zorblax quibbling agents align.",
                          daily=day, paper_id="2411.00500"))
    for n in range(501, 515):
        fake_hf.add(make_item(n, f"Zorblax variant {n}", f"A zorblax study, number {n}.", daily=day,
                              paper_id=f"2411.{n:05d}"))
    first = await chat.push("similar 2411.00500")
    page = listed(first)
    assert page.title.endswith("(1–10 of 14)") and page.note == "Type 'more' for the next 4"
    assert all(card.why == "shares: zorblax" for card in page.cards)
    rest = listed(await chat.push("more"))
    assert rest.start == 11 and len(rest.cards) == 4
    everything = [c.paper.id for c in (*page.cards, *rest.cards)]
    assert sorted(everything) == [f"2411.{n:05d}" for n in range(501, 515)]


MUSE = seed_id(72)
"""MUSE: Machine Unlearning Six-Way Evaluation for Language Models (four other unlearning papers in the seed)."""


async def test_only_the_related_papers_are_listed_and_counted(chat):
    await chat.push("preview zorblax")  # the current lists are cached, as after any poll
    merging = listed(await chat.push(f"similar {AT_SCALE}"))
    assert merging.title == f"1 related paper like {AT_SCALE}: What Matters for Model Merging at Scale? (1–1 of 1)"
    assert [c.paper.id for c in merging.cards] == [TWIN]
    unlearning = listed(await chat.push(f"similar {MUSE}"))
    assert unlearning.title.startswith(f"4 related papers like {MUSE}: MUSE: Machine Unlearning")
    assert all("unlearning" in c.paper.title.lower() for c in unlearning.cards), unlearning.cards
    assert all(c.why.startswith("shares: unlearning") for c in unlearning.cards)
    text = render(unlearning)
    assert any(line.strip().startswith("shares: unlearning, ") for line in text.splitlines())
    assert "matched" not in text


async def test_nothing_related_says_so_instead_of_padding(chat):
    await chat.push("preview zorblax")
    materials = seed_id(0)  # Scalable Diffusion for Materials Generation: no other paper on materials
    reply = listed(await chat.push(f"similar {materials}"))
    assert reply.cards == () and reply.title.startswith(f"0 related papers like {materials}")
    assert reply.empty.startswith(f"Nothing Paperboy has seen or can find is closely related to {materials} yet")


def test_words_of_how_papers_are_written_make_no_match():
    from bot.commands.similar import rank

    paper = Paper(id="2401.00001", title="Quibbling agents in zorblax markets",
                  abstract="In this paper we study quibbling agents. We found that our approach shows new results.")
    boilerplate = Paper(id="2401.00002", title="Grass and quokkas",
                        abstract="This paper presents a study of quokkas. We found new results with our approach.")
    kin = Paper(id="2401.00003", title="Zorblax markets with quibbling agents", abstract="Agents quibble in zorblax.")
    ((found, shared),) = rank(paper, [boilerplate, kin])
    assert found == kin and sorted(shared) == ["agents", "markets", "quibbling", "zorblax"]
