"""How the worker overlaps a channel's steps (issue 27): the last post's settlement is written while the next
waits for its slot, and never after the next one's claim; on SQLite each batch is one trip to the database thread."""

from __future__ import annotations

import asyncio

import pytest

from adapters.memory import MemoryAdapter
from bot.model.rows import Settlement
from bot.ports.adapter import RateLimit
from bot.ports.store_errors import StorageUnavailable
from tests.test_outbox import add_papers


@pytest.fixture
def core(any_core):
    """On SQLite and on Postgres."""
    return any_core


async def test_a_channel_waits_for_its_next_slot_while_its_last_post_is_settled(core, fake_hf, clock):
    events: list[tuple[str, tuple]] = []
    store = core.store
    claim_many, settle_many = store.claim_outbox_many, store.mark_outbox_sent_many

    async def claims(ids):
        events.append(("claim", tuple(ids)))
        return await claim_many(ids)

    async def settlements(items):
        ids = tuple(s.entry_id for s in items)
        events.append(("settling", ids))
        await asyncio.sleep(0.05)  # a database busy with others: the next slot's wait starts meanwhile
        await settle_many(items)
        events.append(("settled", ids))

    paced = MemoryAdapter(core.engine, platform="paced", limits=(RateLimit("channel", 1, 0.02),))
    pacer = core.poller.worker.pacer
    admit_now = pacer.admit_now

    def admitting(platform, channel, limits):
        events.append(("slot", ()))
        return admit_now(platform, channel, limits)

    core.poller.adapters[paced.platform] = paced
    core.poller.max_posts_per_hour = 100
    await paced.push("subscribe unlearn*", channel="busy")
    await core.poller.poll_once()
    ids = add_papers(fake_hf, clock, 3)
    store.claim_outbox_many, store.mark_outbox_sent_many, pacer.admit_now = claims, settlements, admitting
    try:
        report = await core.poller.poll_once()
    finally:
        store.claim_outbox_many, store.mark_outbox_sent_many, pacer.admit_now = claim_many, settle_many, admit_now

    assert report.sent == 3 and sorted(pid for _, post in paced.pop_posts() for pid in post.paper_ids) == sorted(ids)
    claimed = [ids for kind, ids in events if kind == "claim"]
    assert len(claimed) == 3
    for first, second in zip(claimed, claimed[1:]):
        settled = events.index(("settled", first))
        assert events.index(("slot", ()), events.index(("claim", first))) < settled, \
            "the next slot is waited for while the last post is settled"
        assert settled < events.index(("claim", second)), "a channel's next claim only once its last post is settled"
    assert await store.outbox_counts() == {"sent": 3}


async def test_a_settlement_that_fails_still_stops_the_channel_and_is_retried(core, fake_hf, clock):
    store = core.store
    settle_many = store.mark_outbox_sent_many
    failures = [StorageUnavailable("the disk is full")]

    async def settlements(items):
        if failures:
            raise failures.pop()
        await settle_many(items)

    chat = MemoryAdapter(core.engine)
    core.poller.adapters[chat.platform] = chat
    core.poller.max_posts_per_hour = 100
    await chat.push("subscribe unlearn*", channel="general")
    await core.poller.poll_once()
    add_papers(fake_hf, clock, 2)
    store.mark_outbox_sent_many = settlements
    try:
        await core.poller.poll_once()
        assert len(chat.pop_posts()) == 1, "nothing more goes out while the first post's settlement is unwritten"
        assert core.poller.worker.sending == 0, "no send is left in flight"
        assert (await store.outbox_counts()).get("sending") == 1
        await core.poller.worker.drain()  # the next round finds it ambiguous: the post is there, so it is not resent
    finally:
        store.mark_outbox_sent_many = settle_many
    assert len(chat.pop_posts()) == 1 and await store.outbox_counts() == {"sent": 2}


async def test_sqlite_claims_and_settles_each_batch_in_one_trip_to_its_thread(core, fake_hf, clock, monkeypatch):
    if not hasattr(core.store, "_conn"):
        pytest.skip("SQLite's connection thread")
    chat = MemoryAdapter(core.engine)
    core.poller.adapters[chat.platform] = chat
    await chat.push("subscribe unlearn*", channel="general")
    await core.poller.poll_once()
    add_papers(fake_hf, clock, 1)
    await core.poller.poll_once()
    [entry] = await core.store.outbox_in_state("sent")
    await core.store.release_outbox(entry.id)
    conn = core.store._conn
    trips: list[object] = []
    execute = conn._execute

    async def counted(fn, *args, **kwargs):
        trips.append(fn)
        return await execute(fn, *args, **kwargs)

    monkeypatch.setattr(conn, "_execute", counted)
    assert await core.store.claim_outbox_many([entry.id]) == {entry.id}
    assert len(trips) == 1
    await core.store.mark_outbox_sent_many([Settlement(entry.id, "general/1", clock(), None)])
    assert len(trips) == 2
    assert [e.id for e in await core.store.outbox_in_state("sent")] == [entry.id]


async def test_a_stop_ends_the_waits_for_a_slot_and_leaves_the_rest_pending(core, clock):
    from bot.delivery.worker import DeliveryWorker
    from bot.model.channels import ChannelRef
    from paperboy_testing.seed import seed_papers

    store = core.store
    papers = seed_papers()[:3]
    await store.save_papers(papers)
    slow = MemoryAdapter(core.engine, platform="slow", limits=(RateLimit("channel", 1, 60.0),))
    channel = await store.ensure_channel(ChannelRef("slow", "team", "busy"))
    await store.enqueue_posts(channel.id, [(p.id, "matched", None) for p in papers], at=clock(), max_per_hour=100)
    worker = DeliveryWorker(store=store, adapters={slow.platform: slow}, clock=clock)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, idle=30, grace=30))
    for _ in range(200):  # the first post goes out at once; the next waits a minute for its slot
        if slow.posts:
            break
        await asyncio.sleep(0.02)
    assert len(slow.posts) == 1
    stop.set()
    await asyncio.wait_for(running, 5)  # not the minute of the slot, nor the grace: the wait is cancelled
    assert worker.sending == 0
    assert await store.outbox_counts() == {"sent": 1, "pending": 2}


async def test_a_round_starts_its_first_channels_before_it_reads_the_rest(core, clock, monkeypatch):
    import bot.delivery.worker as worker_module
    from bot.delivery.worker import DeliveryWorker
    from bot.model.channels import ChannelRef
    from paperboy_testing.seed import seed_papers

    monkeypatch.setattr(worker_module, "FIRST_CHANNELS", 2)
    store = core.store
    papers = seed_papers()[:2]
    await store.save_papers(papers)
    chat = MemoryAdapter(core.engine, platform="many")
    names = [f"c{n}" for n in range(5)]
    for name in names:
        channel = await store.ensure_channel(ChannelRef("many", "team", name))
        await store.enqueue_posts(channel.id, [(p.id, "matched", None) for p in papers], at=clock(), max_per_hour=100)
    worker = DeliveryWorker(store=store, adapters={chat.platform: chat}, clock=clock)
    reads: list[tuple[int, int]] = []  # (channels in the read, posts sent by the time it ended)
    read_round = worker._read_round

    async def counted(entries):
        for _ in range(250 if reads else 0):  # the rest's read waits until the first channels' posts went out
            if len(chat.posts) >= 2:
                break
            await asyncio.sleep(0.02)
        reads.append((len({e.channel_id for e in entries}), len(chat.posts)))
        return await read_round(entries)

    monkeypatch.setattr(worker, "_read_round", counted)
    report = await worker.drain()
    assert report.sent == 10
    assert sorted(ref.channel for ref, _ in chat.posts) == sorted(names * 2)
    assert [channels for channels, _ in reads[:2]] == [2, 3], "the first two channels, then the other three"
    assert reads[0][1] == 0 and reads[1][1] >= 2, "the first two channels' posts went out while the rest were read"
    assert await store.outbox_counts() == {"sent": 10}
