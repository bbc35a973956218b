"""The poll at scale: every channel's matches queued at once, and a poll with nothing new does no matching."""

from __future__ import annotations

import pytest

from adapters.memory import MemoryAdapter
from tests.test_poller import new_paper, posted_ids


@pytest.fixture
def core(any_core):
    return any_core


def counting(store, name: str) -> list[int]:
    """Count the calls of the store's method *name* (it still runs)."""
    calls, method = [0], getattr(store, name)

    async def counted(*args, **kwargs):
        calls[0] += 1
        return await method(*args, **kwargs)

    setattr(store, name, counted)
    return calls


async def test_many_channels_are_queued_in_one_go_and_a_quiet_poll_matches_nothing(core, fake_hf, clock):
    chat = MemoryAdapter(core.engine)
    for n in range(6):
        await chat.push("subscribe unlearn*", channel=f"c{n}")
    core.poller.adapters[chat.platform] = chat
    await core.poller.poll_once(deliver=False)
    paper_id = new_paper(fake_hf, clock, 1, "Unlearning at scale")
    queued, looked_up = counting(core.store, "enqueue_matches"), counting(core.store, "channels_having")
    report = await core.poller.poll_once(deliver=False)
    assert sorted(c.ref.channel for c, p, _ in report.enqueued if p.id == paper_id) == [f"c{n}" for n in range(6)]
    assert {why for _, _, why in report.enqueued} == {"unlearn* in title, keywords"}
    assert queued[0] <= 2, "one call per list that arrived, not one per channel"
    before = looked_up[0]
    report = await core.poller.poll_once(deliver=False)
    assert report.enqueued == [] and report.fetched
    assert looked_up[0] == before, "papers already handled, unchanged, are not matched again"


async def test_a_lowered_threshold_posts_a_paper_held_back_before(core, fake_hf, clock):
    chat = MemoryAdapter(core.engine)
    core.poller.adapters[chat.platform] = chat
    await chat.push("subscribe unlearn*")
    await chat.push("threshold 40")
    await core.poller.poll_once()
    paper_id = new_paper(fake_hf, clock, 1, "Unlearning slowly", upvotes=3)
    await core.poller.poll_once()
    assert posted_ids(chat) == []
    await chat.push("threshold 0")
    await core.poller.poll_once()
    assert posted_ids(chat) == [paper_id], "the same paper, unchanged, is matched again: the floor held it"


async def test_a_new_topic_gets_what_an_unchanged_paper_matches_after_its_baseline(core, fake_hf, clock):
    chat = MemoryAdapter(core.engine)
    core.poller.adapters[chat.platform] = chat
    await chat.push("subscribe unlearn*")
    await core.poller.poll_once()
    new_paper(fake_hf, clock, 1, "Unlearning slowly")
    await core.poller.poll_once()
    assert len(posted_ids(chat)) == 1
    await chat.push("subscribe slowly", channel="other")
    await core.poller.poll_once()  # the new topic's baseline holds the paper: it matched already
    assert posted_ids(chat) == []
    fresh = new_paper(fake_hf, clock, 2, "Slowly but surely")
    await core.poller.poll_once()
    assert [(c.channel, p.paper_ids) for c, p in chat.pop_posts()] == [("other", (fresh,))], \
        "the new topic gets the new paper"


async def subscribed(core, *commands: str) -> MemoryAdapter:
    """A chat on the memory platform that follows ``unlearn*`` (and ran *commands*), after its baseline poll."""
    chat = MemoryAdapter(core.engine)
    core.poller.adapters[chat.platform] = chat
    await chat.push("subscribe unlearn*")
    for command in commands:
        await chat.push(command)
    await core.poller.poll_once()
    return chat


def restarted(core, clock):
    """A new poller on the same database: what a restarted process has, nothing kept in memory."""
    from bot.delivery.poller import Poller

    return Poller(store=core.store, hf=core.hf, adapters=core.poller.adapters, clock=clock)


async def test_a_restarted_poller_does_not_match_again_what_the_last_one_handled(core, fake_hf, clock):
    chat = await subscribed(core)
    first = new_paper(fake_hf, clock, 1, "Unlearning at scale")
    await core.poller.poll_once()
    assert posted_ids(chat) == [first]
    poller = restarted(core, clock)
    looked_up = counting(core.store, "channels_having")
    second = new_paper(fake_hf, clock, 2, "Unlearning again")
    await poller.poll_once()
    assert posted_ids(chat) == [second]
    assert looked_up[0] == 1, "only the new paper is matched: the last process handled the others"


async def test_a_paper_that_changed_while_the_bot_was_down_is_matched_again(core, fake_hf, clock):
    chat = await subscribed(core, "threshold 40")
    paper_id = new_paper(fake_hf, clock, 1, "Unlearning slowly", upvotes=3)
    await core.poller.poll_once()
    assert posted_ids(chat) == []
    new_paper(fake_hf, clock, 1, "Unlearning slowly", upvotes=45)  # the same paper, upvoted since
    await restarted(core, clock).poll_once()
    assert posted_ids(chat) == [paper_id]


async def test_a_damaged_saved_list_of_handled_papers_costs_time_not_posts(core, fake_hf, clock, caplog):
    chat = await subscribed(core)
    first = new_paper(fake_hf, clock, 1, "Unlearning at scale")
    await core.poller.poll_once()
    assert posted_ids(chat) == [first]
    await core.store.set_state("poll.settled", "{not json")
    second = new_paper(fake_hf, clock, 2, "Unlearning again")
    await restarted(core, clock).poll_once()
    assert posted_ids(chat) == [second], "the first paper is not posted twice"
    assert "unreadable" in caplog.text
