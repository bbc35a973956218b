"""`leaderboard [week|month]` through the engine: real storage (SQLite and Postgres), papers really posted."""

from __future__ import annotations

import pytest

from adapters.console import render
from bot.model.replies import Error, PaperList, Text
from paperboy_testing.seed import make_item
from tests.test_engine import chat, core  # noqa: F401  (fixtures: both backends, a memory chat)


@pytest.fixture
def posting(chat, core):  # noqa: F811
    """The memory chat, registered with the poller so its posts are delivered (and recorded as sent)."""
    core.poller.adapters[chat.platform] = chat
    return chat


def add_papers(fake_hf, clock, numbers: range) -> list[str]:
    ids = []
    for n in numbers:
        paper_id = f"2411.{n:05d}"
        fake_hf.add(make_item(n, f"Zorblax ranking {n}", "A study.", daily=clock().date(), paper_id=paper_id,
                              upvotes=100 + n))
        ids.append(paper_id)
    return ids


async def post_papers(chat, core, fake_hf, clock, numbers: range) -> list[str]:
    ids = add_papers(fake_hf, clock, numbers)
    await core.poller.poll_once()
    posted = sorted(pid for _, post in chat.pop_posts() for pid in post.paper_ids)
    assert posted == sorted(ids)
    return ids


def board(reply) -> list[tuple[str, str | None]]:
    assert isinstance(reply.content, PaperList), reply.content
    return [(card.paper.id, card.why) for card in reply.content.cards]


async def test_leaderboard_ranks_by_votes_then_saves_with_the_counts(posting, core, fake_hf, clock):
    await posting.push("subscribe zorblax")
    await core.poller.poll_once()
    a, b, c, d, quiet = await post_papers(posting, core, fake_hf, clock, range(101, 106))
    for user in ("U1", "U2", "U3"):
        await posting.push(f"vote {b}", user=user)
    for user in ("U1", "U2"):
        await posting.push(f"vote {a}", user=user)
        await posting.push(f"vote {c}", user=user)
    await posting.push(f"save {c}", user="U3")
    await posting.push(f"save {d}", user="U1")
    await posting.push(f"vote {quiet}", user="U1", channel="elsewhere")  # another channel's 👍

    reply = await posting.push("leaderboard")
    assert not reply.private
    assert reply.content.title == "Top papers in this channel this week (1–4 of 4)"
    assert board(reply) == [(b, "👍 3 · 🔖 0"), (c, "👍 2 · 🔖 1"), (a, "👍 2 · 🔖 0"), (d, "👍 0 · 🔖 1")]
    assert board(await posting.push("leaderboard WEEK")) == board(reply)
    text = render(reply.content)  # the console: counts labelled as what they are, not "matched:"
    assert "👍 3 · 🔖 0" in [line.strip() for line in text.splitlines()] and "matched" not in text


async def test_month_reaches_back_further_than_week(posting, core, fake_hf, clock):
    await posting.push("subscribe zorblax")
    await core.poller.poll_once()
    (old,) = await post_papers(posting, core, fake_hf, clock, range(201, 202))
    await posting.push(f"vote {old}", user="U1")
    await posting.push(f"vote {old}", user="U2")
    clock.advance(days=10)
    (new,) = await post_papers(posting, core, fake_hf, clock, range(202, 203))
    await posting.push(f"vote {new}", user="U1")

    assert board(await posting.push("leaderboard week")) == [(new, "👍 1 · 🔖 0")]
    month = await posting.push("leaderboard month")
    assert month.content.title == "Top papers in this channel this month (1–2 of 2)"
    assert board(month) == [(old, "👍 2 · 🔖 0"), (new, "👍 1 · 🔖 0")]
    clock.advance(days=31)
    empty = await posting.push("leaderboard month")
    assert isinstance(empty.content, Text) and "No 👍 or saves in this channel this month yet" in empty.content.body


async def test_at_most_ten_and_papers_missing_from_the_cache_are_skipped(posting, core, fake_hf, clock):
    await posting.push("subscribe zorblax")
    await core.poller.poll_once()
    ids = await post_papers(posting, core, fake_hf, clock, range(301, 313))
    for paper_id in ids:
        await posting.push(f"vote {paper_id}")
    assert len(board(await posting.push("leaderboard"))) == 10

    lost = ids[0]
    real = core.store.get_papers

    async def without_lost(paper_ids):
        return {k: v for k, v in (await real(paper_ids)).items() if k != lost}

    core.store.get_papers = without_lost
    try:
        listed = [paper_id for paper_id, _ in board(await posting.push("leaderboard"))]
    finally:
        core.store.get_papers = real
    assert lost not in listed and len(listed) == 9


@pytest.mark.parametrize("text", ["leaderboard year", "leaderboard week month", "leaderboard 7"])
async def test_a_bad_period_is_one_private_usage_error(chat, text):  # noqa: F811
    reply = await chat.push(text)
    assert reply.private and isinstance(reply.content, Error), reply.content
    first, usage = reply.content.message.split("\n")
    assert "week" in first and "month" in first
    assert usage.startswith("Usage: leaderboard [week|month]")


async def test_an_empty_channel_says_how_to_get_on_the_board(posting, core, fake_hf, clock):
    fresh = await posting.push("leaderboard", channel="never-seen")
    assert isinstance(fresh.content, Text)
    assert fresh.content.body.startswith(
        "No 👍 or saves in this channel this week yet: try 'vote <id>' or 'save <id>'")
    assert await core.store.get_channel(posting.channel("never-seen")) is None, "asking makes no channel"
    await posting.push("subscribe zorblax")
    await core.poller.poll_once()
    await post_papers(posting, core, fake_hf, clock, range(401, 403))
    quiet = await posting.push("leaderboard")
    assert isinstance(quiet.content, Text) and "No 👍 or saves" in quiet.content.body


async def test_a_vote_for_a_paper_never_posted_here_counts_on_the_board_as_in_its_reply(posting, core, clock):
    from paperboy_testing.seed import seed_id

    elsewhere = seed_id(7)  # on Hugging Face, never posted in this channel
    reply = await posting.push(f"vote {elsewhere}", user="U1")
    assert reply.content.body == f"👍 {elsewhere} (1 in this channel)"
    await posting.push(f"save {seed_id(8)}", user="U2")
    assert board(await posting.push("leaderboard")) == [(elsewhere, "👍 1 · 🔖 0"), (seed_id(8), "👍 0 · 🔖 1")]
    assert isinstance((await posting.push("leaderboard", channel="other")).content, Text), "only where voted"
    clock.advance(days=8)
    assert isinstance((await posting.push("leaderboard week")).content, Text), "voted before the week"
    assert board(await posting.push("leaderboard month"))[0] == (elsewhere, "👍 1 · 🔖 0")


@pytest.mark.parametrize("paper_id", ["2609.00001", "https://arxiv.org/abs/2609.00001v3"])
async def test_a_vote_for_a_paper_that_does_not_exist_is_refused_in_one_line(posting, core, fake_arxiv, paper_id):
    reply = await posting.push(f"vote {paper_id}")
    assert reply.private and isinstance(reply.content, Error), reply.content
    assert reply.content.message == "No paper 2609.00001 on Hugging Face Papers or arXiv."
    assert any(r.query.get("id_list") == "2609.00001" for r in fake_arxiv.requests), "arXiv was asked too"
    assert await core.store.get_channel(posting.channel()) is None, "nothing was recorded"
    assert isinstance((await posting.push("leaderboard")).content, Text)


async def test_a_vote_when_the_sources_are_down_says_so_and_counts_nothing(posting, core, fake_hf, fake_arxiv):
    await fake_hf.stop()
    reply = await posting.push("vote 2609.00002")
    assert isinstance(reply.content, Error) and "\n" not in reply.content.message
    assert reply.content.message.startswith("Cannot look up 2609.00002 to vote for it: cannot reach Hugging Face")
    assert await core.store.get_channel(posting.channel()) is None
