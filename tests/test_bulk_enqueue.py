"""`enqueue_matches` (a whole poll's matches in one transaction) queues exactly what `enqueue_posts` and
`enqueue` queue one channel at a time, on both backends."""

from __future__ import annotations

from datetime import timedelta

from bot.model.channels import ChannelRef
from tests.test_outbox_community import T0


def twin_refs(n: int) -> tuple[ChannelRef, ChannelRef]:
    return ChannelRef("slack", "T1", f"A{n}"), ChannelRef("slack", "T1", f"B{n}")


async def state_of(store, channel_id: int) -> tuple[list, list, dict]:
    """The channel's outbox (kind, tag, papers, title, mention), digest queue (paper, why, topic named) and
    ledger counts by state."""
    entries = [(e.kind, e.tag, e.paper_ids, e.title, e.mention)
               for e in await store.outbox_in_state("pending", channel_id=channel_id)]
    queued = [(d.paper_id, d.why, d.topic_id is not None) for d in await store.queued_deliveries(channel_id)]
    return entries, queued, await store.delivery_counts(channel_id)


async def twins(store, n: int, *, threads: bool = False, notify: str | None = None, sent_recently: int = 0):
    """Two channels alike: A fed one at a time, B through `enqueue_matches`; their topic ids, by channel."""
    made = []
    for ref in twin_refs(n):
        channel = await store.ensure_channel(ref)
        if threads:
            channel = await store.update_channel(channel.id, threads=True)
        topic = await store.add_topic(channel.id, "unlearning", "ann", at=T0, notify=notify, notify_name="team")
        if sent_recently:  # posts of the last hour count against the flood limit
            await store.enqueue_posts(channel.id, [(f"old{i}", None, None) for i in range(sent_recently)],
                                      at=T0 - timedelta(minutes=10), max_per_hour=100)
        made.append((channel, topic))
    return made


async def test_enqueue_matches_queues_what_enqueue_posts_and_enqueue_do(any_store):
    store = any_store
    cases = [dict(), dict(threads=True), dict(notify="S123"), dict(sent_recently=2), dict()]
    pairs = [await twins(store, n, **case) for n, case in enumerate(cases)]
    digest_pair = pairs.pop()  # the last pair waits for its digest: ledger rows only
    await store.record_baseline(pairs[0][0][0].id, ["p2"], at=T0)  # A already has p2: it is skipped
    await store.record_baseline(pairs[0][1][0].id, ["p2"], at=T0)
    matches = lambda topic: [(f"p{i}", f"why {i}", topic.id) for i in range(1, 6)] + [("p1", "again", topic.id)]

    expected = {}
    for (a, a_topic), _ in pairs:
        expected[a.id] = await store.enqueue_posts(a.id, matches(a_topic), at=T0, max_per_hour=3)
    (a, a_topic), (b, b_topic) = digest_pair
    expected[a.id] = [p for p, why, t in matches(a_topic)
                      if await store.enqueue(a.id, p, state="queued", why=why, topic_id=t, at=T0)]

    new = await store.enqueue_matches({b.id: matches(t) for _, (b, t) in pairs}, {b.id: matches(b_topic)},
                                      at=T0, max_per_hour=3)
    for (a, _), (b, _) in [*pairs, digest_pair]:
        assert new[b.id] == expected[a.id]
        a_state, b_state = await state_of(store, a.id), await state_of(store, b.id)
        assert b_state == a_state
    assert [e[0] for e in (await state_of(store, pairs[1][1][0].id))[0]][:2] == ["paper", "thread"]
    assert (await state_of(store, pairs[2][1][0].id))[0][0][4] == "S123", "a single post names its topic's group"
    assert (await state_of(store, pairs[3][1][0].id))[0][0][0] == "paper", "room for one single post"
    assert (await state_of(store, pairs[0][1][0].id))[2] == {"baseline": 1, "pending": 4}
    assert (await state_of(store, digest_pair[1][0].id))[1][0] == ("p1", "why 1", True), "the first match's why"


async def test_enqueue_matches_twice_queues_nothing_more(any_store):
    channel = await any_store.ensure_channel(ChannelRef("slack", "T1", "C1"))
    assert await any_store.enqueue_matches({channel.id: [("p1", "w", None)]}, {}, at=T0, max_per_hour=5) == {
        channel.id: ["p1"]}
    assert await any_store.enqueue_matches({channel.id: [("p1", "w", None)]}, {}, at=T0, max_per_hour=5) == {}
    assert await any_store.enqueue_matches({}, {}, at=T0, max_per_hour=5) == {}
    assert len(await any_store.outbox_in_state("pending", channel_id=channel.id)) == 1


async def test_enqueue_matches_in_parts_queues_the_same(any_store, monkeypatch):
    import storage.sqlite.bulk_enqueue

    monkeypatch.setattr(storage.sqlite.bulk_enqueue, "CHUNK", 2)  # a few channels per statement: parts meet parts
    await test_enqueue_matches_queues_what_enqueue_posts_and_enqueue_do(any_store)
