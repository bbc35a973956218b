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
    assert [c.channel for c, p in chat.pop_posts()] == ["other"], "the new topic gets the new paper"
