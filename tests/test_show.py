"""`show` answers with the paper in full, through real HTTP to the fake Hugging Face and a real cache."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from adapters.console import render
from adapters.memory import MemoryAdapter
from bot.model.replies import Error, PaperCard
from paperboy_testing.seed import seed_id

WITH_REPOS = seed_id(2)
"""A seed paper with code, whose paper object the fake gives models, datasets, Spaces and a larger total."""
WITHOUT_REPOS = seed_id(1)


@pytest.fixture
def chat(core):
    return MemoryAdapter(core.engine)


def shown(reply) -> PaperCard:
    assert isinstance(reply.content, PaperCard), reply.content
    return reply.content


def ids(repos: list[dict]) -> tuple[str, ...]:
    return tuple(repo["id"] for repo in repos)


async def test_show_gives_a_detail_card_with_the_linked_repos_and_totals(chat, fake_hf):
    served = fake_hf.paper_object(WITH_REPOS)
    card = shown(await chat.push(f"show {WITH_REPOS}"))
    paper = card.paper
    assert card.detail and card.note is None
    assert paper.linked_models == ids(served["linkedModels"]) and paper.linked_models
    assert paper.linked_datasets == ids(served["linkedDatasets"]) and paper.linked_datasets
    assert paper.linked_spaces == ids(served["linkedSpaces"]) and paper.linked_spaces
    assert paper.linked_models_total == served["numTotalModels"] > len(paper.linked_models)
    # Everything else a full card shows came along too.
    assert paper.abstract == " ".join(served["summary"].split())
    assert paper.published_at == datetime.fromisoformat(served["publishedAt"].replace("Z", "+00:00"))
    assert paper.daily_date == date.fromisoformat(served["submittedOnDailyAt"][:10])
    assert paper.upvotes == served["upvotes"]
    assert paper.github_repo == served["githubRepo"] and paper.github_stars == served["githubStars"]
    assert fake_hf.paths()[-1] == f"/api/papers/{WITH_REPOS}"


async def test_a_paper_without_linked_repos_is_still_shown_in_full(chat):
    card = shown(await chat.push(f"show {WITHOUT_REPOS}"))
    assert card.detail and card.paper.linked_repos() == []
    assert card.paper.abstract


async def test_comments_from_a_daily_list_survive_the_paper_lookup(chat, fake_hf):
    # Comments live on daily items only; the paper endpoint never sends them.
    assert "numComments" not in fake_hf.paper_object(WITH_REPOS)
    await chat.push("trending 3")  # fetches (and caches) the whole trending list, our paper included
    paper = shown(await chat.push(f"show {WITH_REPOS}")).paper
    assert paper.comments == fake_hf.items[WITH_REPOS]["numComments"] == 2
    assert paper.linked_models


async def test_odd_linked_items_from_the_source_are_skipped(chat, fake_hf):
    fake_hf.linked[WITH_REPOS] = {
        "linkedModels": [{"id": "<@everyone>"}, {"id": "org/good"}, "org/bare", {"id": "org/with space"}],
        "numTotalModels": "lots", "linkedDatasets": {"id": "org/not-a-list"}, "linkedSpaces": None,
    }
    paper = shown(await chat.push(f"show {WITH_REPOS}")).paper
    assert paper.linked_models == ("org/good",) and paper.linked_models_total is None
    assert paper.linked_datasets == paper.linked_spaces == ()
    assert paper.title and paper.upvotes is not None


async def test_linked_repos_are_cached_and_shown_when_the_source_is_down(chat, fake_hf):
    first = shown(await chat.push(f"show {WITH_REPOS}")).paper
    await fake_hf.stop()
    card = shown(await chat.push(f"show {WITH_REPOS}"))
    assert card.detail and "cannot reach Hugging Face" in (card.note or "")
    assert card.paper.linked_models == first.linked_models
    assert card.paper.linked_models_total == first.linked_models_total


async def test_a_paper_only_on_arxiv_is_shown_in_full_too(chat, fake_arxiv):
    fake_arxiv.entries["2401.00001"] = {"title": "An arXiv-only paper", "summary": "Only on arXiv.",
                                        "authors": ["Ada Lovelace"]}
    card = shown(await chat.push("show 2401.00001"))
    assert card.detail and card.paper.source == "arxiv" and card.paper.linked_repos() == []


async def test_lists_stay_short_cards(chat):
    reply = await chat.push("trending 3")
    assert reply.content.cards and not any(card.detail for card in reply.content.cards)


async def test_show_of_an_unknown_paper_is_still_an_error(chat):
    assert isinstance((await chat.push("show 2401.99999")).content, Error)


async def test_the_console_prints_the_whole_show_answer(chat, fake_hf):
    served = fake_hf.paper_object(WITH_REPOS)
    text = render((await chat.push(f"show {WITH_REPOS}")).content)
    flat = " ".join(text.split())
    assert " ".join(served["summary"].split()) in flat  # the whole abstract, not a preview
    assert f"published {served['publishedAt'][:10]}" in text
    assert f"on Daily Papers {served['submittedOnDailyAt'][:10]}" in text
    assert f"https://huggingface.co/{served['linkedModels'][0]['id']}" in text
    assert f"https://huggingface.co/datasets/{served['linkedDatasets'][0]['id']}" in text
    assert f"https://huggingface.co/spaces/{served['linkedSpaces'][0]['id']}" in text
    listed = min(5, len(served["linkedModels"]))
    assert f"and {served['numTotalModels'] - listed} more" in text
    assert served["githubRepo"] in text and f"{served['githubStars']} stars" in text
