"""`enqueue_matches` when a row it queues is there already: the ledger's, or an outbox tag's, or another
process's queueing the same matches at the same moment. Postgres copies a part in at once and queues it
row by row only then; whichever way, what is queued is what one-at-a-time queueing queues."""

from __future__ import annotations

import asyncio

from bot.model.channels import ChannelRef
from bot.ports.store import open_store
from tests.test_outbox_community import T0


async def _channels(store, count: int) -> list[int]:
    return [(await store.ensure_channel(ChannelRef("slack", "T1", f"C{n}"))).id for n in range(count)]


async def _pending(store, channel_id: int) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(e.kind, e.tag, e.paper_ids) for e in await store.outbox_in_state("pending", channel_id=channel_id)]


async def test_an_outbox_tag_already_there_is_skipped_and_the_rest_queued(any_store):
    store = any_store
    taken, free = await _channels(store, 2)
    # An entry with a post's tag but no ledger row: the ledger rows are new, that one post is not.
    assert await store.enqueue_post(taken, kind="leaderboard", tag="paper:p1", paper_ids=["p9"], at=T0)
    matches = [("p1", "w1", None), ("p2", "w2", None)]

    new = await store.enqueue_matches({taken: matches, free: matches}, {}, at=T0, max_per_hour=5)

    assert new == {taken: ["p1", "p2"], free: ["p1", "p2"]}
    assert await _pending(store, taken) == [("leaderboard", "paper:p1", ("p9",)), ("paper", "paper:p2", ("p2",))]
    assert await _pending(store, free) == [("paper", "paper:p1", ("p1",)), ("paper", "paper:p2", ("p2",))]
    assert await store.delivery_counts(taken) == {"pending": 2}


async def test_a_ledger_row_already_there_keeps_the_rest_of_its_part(any_store):
    store = any_store
    (channel,) = await _channels(store, 1)
    topic = (await store.add_topic(channel, "unlearning", "ann", at=T0)).id
    await store.record_baseline(channel, ["p2"], at=T0)
    new = await store.enqueue_matches({}, {channel: [("p1", "w1", topic), ("p2", "w2", topic), ("p3", "w3", None)]},
                                      at=T0, max_per_hour=5)
    assert new == {channel: ["p1", "p3"]}
    assert [(d.paper_id, d.why, d.topic_id) for d in await store.queued_deliveries(channel)] == [
        ("p1", "w1", topic), ("p3", "w3", None)]
    assert await store.delivery_counts(channel) == {"baseline": 1, "queued": 2}


async def test_two_processes_queueing_the_same_matches_queue_each_once(postgres_url):
    first, second = await open_store(postgres_url), await open_store(postgres_url)
    try:
        posting, waiting = await _channels(first, 2)
        matches = {c: [(f"p{i}", f"why {i}", None) for i in range(4)] for c in (posting, waiting)}
        news = await asyncio.gather(*(store.enqueue_matches({posting: matches[posting]}, {waiting: matches[waiting]},
                                                            at=T0, max_per_hour=2) for store in (first, second)))
    finally:
        await first.close()
        await second.close()
    store = await open_store(postgres_url)
    try:
        # One of them queued everything; the other, finding it all there once the first committed, nothing.
        assert sorted(news, key=len) == [{}, {posting: ["p0", "p1", "p2", "p3"], waiting: ["p0", "p1", "p2", "p3"]}]
        assert [e[:2] for e in await _pending(store, posting)] == [
            ("paper", "paper:p0"), ("paper", "paper:p1"), ("rollup", "rollup:p2")]
        assert await store.delivery_counts(posting) == {"pending": 4}
        assert await store.delivery_counts(waiting) == {"queued": 4}
    finally:
        await store.close()
