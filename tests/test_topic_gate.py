"""The trending gate: a paper that misses a topic's filter is looked at again each poll, and posted once it passes."""

from __future__ import annotations

from paperboy_testing.seed import make_item
from tests.test_outbox import chat, core  # noqa: F401  (fixtures: both backends, a memory chat)


def merging(clock, upvotes: int) -> dict:
    return make_item(1, "Model merging at scale", "We merge models.", daily=clock().date(),
                     paper_id="2411.00001", upvotes=upvotes)


async def test_a_paper_is_posted_on_the_poll_where_it_reaches_the_threshold(chat, core, fake_hf, clock):
    fake_hf.add(merging(clock, 5))  # listed already when the topic is added, below the gate
    reply = await chat.push('subscribe "model merging" upvotes:>=20')
    assert "2411.00001" not in [c.paper.id for c in reply.content.cards]
    await core.poller.poll_once()
    assert chat.pop_posts() == []
    fake_hf.add(merging(clock, 19))
    await core.poller.poll_once()
    assert chat.pop_posts() == []
    fake_hf.add(merging(clock, 23))
    await core.poller.poll_once()
    ((_, post),) = chat.pop_posts()
    assert post.tag == "paper:2411.00001" and "upvotes 23 ≥ 20" in post.content.why
    fake_hf.add(merging(clock, 40))
    await core.poller.poll_once()
    assert chat.pop_posts() == [], "posted once"


async def test_a_paper_that_matched_when_subscribing_stays_the_baseline(chat, core, fake_hf, clock):
    fake_hf.add(merging(clock, 30))
    reply = await chat.push('subscribe "model merging" upvotes:>=20')
    assert "2411.00001" in [c.paper.id for c in reply.content.cards], "shown in the reply instead"
    fake_hf.add(merging(clock, 60))
    await core.poller.poll_once()
    assert chat.pop_posts() == []


async def test_has_code_posts_a_paper_on_the_poll_where_it_links_code(chat, core, fake_hf, clock):
    fake_hf.add(merging(clock, 5))  # listed already, without code
    await chat.push('subscribe "model merging" has:code')
    await core.poller.poll_once()
    assert chat.pop_posts() == []
    item = merging(clock, 6)
    item["paper"]["githubRepo"] = "https://github.com/example/merging"
    fake_hf.add(item)
    await core.poller.poll_once()
    ((_, post),) = chat.pop_posts()
    assert post.tag == "paper:2411.00001" and "code" in post.content.why
    await core.poller.poll_once()
    assert chat.pop_posts() == [], "posted once"
