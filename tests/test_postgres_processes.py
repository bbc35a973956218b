"""What only the Postgres backend has, continued: several processes on one database (claims, one deliverer per
channel, leadership), copying a database, and connections the server terminates."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bot.model.channels import ChannelRef
from bot.model.paper import Paper
from bot.model.rows import Reader
from bot.ports.store import PORTABLE_TABLES
from storage.postgres import open_store
from paperboy_testing.seed import seed_id
from tests.postgres import fresh_database
from tests.test_postgres_store import (  # noqa: F401  (fixtures)
    OTHER, REF, T0, database, ids, seed_papers, server_url, store,
)


# --- several processes -----------------------------------------------------------------------------


async def test_abandoned_outbox_sees_gone_claimers_not_live_ones(store, database):
    for i in range(4):  # a channel each: only a channel's oldest unsettled entry can be claimed
        channel = await store.ensure_channel(ChannelRef("discord", "guild-1", f"chan-{i}"))
        await store.enqueue_posts(channel.id, [(f"p{i}", None, None)], at=T0, max_per_hour=10)
    mine, live, gone, unknown = await store.due_outbox(now=T0)
    other = await open_store(database)
    closed = await open_store(database)
    try:
        assert await store.claim_outbox(mine.id)
        assert await other.claim_outbox(live.id)
        assert await closed.claim_outbox(gone.id)
        assert not await other.claim_outbox(gone.id)
        await closed.close()
        conn = await asyncpg.connect(database)
        try:
            await conn.execute("UPDATE outbox SET state = 'sending', claimed_by = NULL WHERE id = $1", unknown.id)
        finally:
            await conn.close()
        assert ids(await store.abandoned_outbox()) == [mine.id, unknown.id], "gone, but its lease runs on"
        conn = await asyncpg.connect(database)
        try:  # the gone claimer's lease runs out
            await conn.execute("UPDATE outbox SET claimed_at = now() - interval '31 seconds' WHERE id = $1", gone.id)
        finally:
            await conn.close()
        assert ids(await store.abandoned_outbox()) == [mine.id, gone.id, unknown.id]
        assert ids(await other.abandoned_outbox()) == [live.id, gone.id, unknown.id]
        assert {e.id for e in await store.outbox_in_state("sending")} == {mine.id, live.id, gone.id, unknown.id}
    finally:
        await other.close()
    assert ids(await store.abandoned_outbox()) == [mine.id, gone.id, unknown.id], "live just closed: its lease runs"
    store.claim_lease = 0
    assert ids(await store.abandoned_outbox()) == [mine.id, live.id, gone.id, unknown.id]


async def test_a_worker_looks_again_when_a_crashed_stores_holds_run_out(store, database):
    """A store that died holds a claim and a channel: the worker looks again as each runs out, not after `idle`."""
    from datetime import datetime, timezone

    from adapters.memory import MemoryAdapter
    from bot.delivery.worker import DeliveryWorker

    papers = seed_papers()[:2]
    await store.save_papers(papers)
    channel = await store.ensure_channel(ChannelRef("memory", "team", "held"))
    await store.enqueue_posts(channel.id, [(p.id, "matched", None) for p in papers],
                              at=datetime.now(timezone.utc), max_per_hour=10)
    first, _ = await store.due_outbox(now=datetime.now(timezone.utc))
    crashed = await open_store(database)
    assert await crashed.claim_outbox(first.id)
    owner = crashed.owner
    await crashed.close()  # its presence lock goes, as when a process dies
    conn = await asyncpg.connect(database)
    try:  # as a crash leaves it: the channel still its own for a moment (a clean stop lets go)
        await conn.execute("INSERT INTO channel_senders (channel_id, owner, until) "
                           "VALUES ($1, $2, now() + interval '1.5 seconds')", channel.id, owner)
    finally:
        await conn.close()
    store.claim_lease = 0.5
    assert await store.held_for() == pytest.approx(0.5, abs=0.4)
    chat = MemoryAdapter()
    worker = DeliveryWorker(store=store, adapters={chat.platform: chat})
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, idle=60))
    try:
        for _ in range(300):  # the claim's lease, then the channel's: seconds, not the minute of `idle`
            if len(chat.posts) == 2:
                break
            await asyncio.sleep(0.02)
        assert [post.paper_ids for _, post in chat.posts] == [(papers[0].id,), (papers[1].id,)]
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
    assert await store.outbox_counts() == {"sent": 2} and await store.held_for() is None


async def test_one_store_at_a_time_delivers_a_channel(store, database):
    """Another process leaves a channel to the one delivering it, until that one's lease runs out or it stops."""
    channel = await store.ensure_channel(REF)
    elsewhere = await store.ensure_channel(ChannelRef("discord", "guild-1", "chan-2"))
    await store.enqueue_posts(channel.id, [(f"p{i}", None, None) for i in range(4)], at=T0, max_per_hour=10)
    await store.enqueue_posts(elsewhere.id, [("q", None, None)], at=T0, max_per_hour=10)
    first, second, third, fourth, other_channel = await store.due_outbox(now=T0)
    other = await open_store(database)
    try:
        assert await store.claim_outbox_many([first.id]) == {first.id}
        await store.mark_outbox_sent(first.id, message_ref="m1", at=T0)
        assert await other.claim_outbox_many([second.id, other_channel.id]) == {other_channel.id}, \
            "the channel is the first store's while it delivers there"
        assert await store.claim_outbox_many([second.id]) == {second.id}, "its lease is renewed by its claims"
        await store.mark_outbox_sent(second.id, message_ref="m2", at=T0)
        conn = await asyncpg.connect(database)
        try:  # the first store's lease runs out (it went quiet, or died)
            await conn.execute("UPDATE channel_senders SET until = now() - interval '1 second'")
        finally:
            await conn.close()
        assert await other.claim_outbox_many([third.id]) == {third.id}
        await other.mark_outbox_sent(third.id, message_ref="m3", at=T0)
        assert await store.claim_outbox_many([fourth.id]) == set(), "now the other store's"
        await other.close()  # a clean stop lets go of its channels at once
        assert await store.claim_outbox_many([fourth.id]) == {fourth.id}
    finally:
        await other.close()


async def test_try_lead_one_holder_until_it_closes(store, database):
    second = await open_store(database)
    try:
        assert await store.try_lead("poll")
        assert await store.try_lead("poll"), "the holder keeps it"
        assert not await second.try_lead("poll")
        assert await second.try_lead("other-role")
        await store.close()
        assert await second.try_lead("poll")
    finally:
        await second.close()


async def test_try_lead_retakes_the_role_after_a_lost_session(store, database):
    assert await store.try_lead("poll")
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()")
    finally:
        await conn.close()
    await asyncio.sleep(0.1)
    owner = store.owner
    assert await store.try_lead("poll")
    assert store.owner == owner, "claims made before the loss stay this store's"
    other = await open_store(database)
    try:
        assert not await other.try_lead("poll")
    finally:
        await other.close()


# --- installations, state, copying -----------------------------------------------------------------


async def test_dump_and_load_round_trip_keeps_ids_and_moves_sequences(store, server_url):
    channel = await store.ensure_channel(REF)
    topic = await store.add_topic(channel.id, "llm", "ann", at=T0, added_by_id="U1")
    await store.save_papers(seed_papers()[:5] + [Paper(id="x", title="X", published_at=T0)])
    await store.save_list("daily", [seed_id(0), seed_id(1)], at=T0)
    await store.record_baseline(channel.id, [seed_id(2)], at=T0)
    await store.enqueue_posts(channel.id, [(seed_id(0), "llm", topic.id)], at=T0, max_per_hour=5)
    [entry] = await store.due_outbox(now=T0)
    await store.claim_outbox(entry.id)
    await store.mark_outbox_sent(entry.id, message_ref="m", at=T0, posted_states={seed_id(0): "s"})
    await store.set_state("last_poll", "yesterday")
    await store.save_installation("bot", enterprise_id="", team_id="T", user_id="", data="{}", at=T0)
    await store.save_oauth_state("st", expires_at=T0)
    await store.save_paper(Reader("discord", "guild-1", "U1"), seed_id(0), channel_id=channel.id, at=T0)
    await store.toggle_vote(channel.id, seed_id(0), "U1", at=T0)
    await store.reset_feed_key('["channel", 1]', at=T0)  # generation 2: a URL reset before the copy stays reset
    await store.reset_feed_key('["channel", 1]', at=T0)
    dumped = {table: await store.dump_table(table) for table in PORTABLE_TABLES}
    assert len(dumped["saves"]) == len(dumped["votes"]) == 1
    assert dumped["outbox"][0]["paper_ids"] == [seed_id(0)] and dumped["topics"][0]["baseline_taken"] is False
    assert dumped["papers"][0]["daily_date"] is None or isinstance(dumped["papers"][0]["daily_date"], str)
    assert all(isinstance(row["data"], str) for row in dumped["papers"])

    async with fresh_database(server_url) as other:
        await _check_loaded_copy(other, store, dumped, channel, topic)


async def _check_loaded_copy(url, store, dumped, channel, topic) -> None:
    copy = await open_store(url)
    try:
        for table in PORTABLE_TABLES:
            await copy.load_table(table, dumped[table])
        await copy.load_table("state", [])
        for table in PORTABLE_TABLES:
            assert await copy.dump_table(table) == dumped[table], table
        assert await copy.get_paper("x") == await store.get_paper("x")
        assert ids(await copy.search_papers(["X"])) == ["x"]
        newer = await copy.ensure_channel(OTHER)
        assert newer.id == channel.id + 1, "the identity sequence moved past the loaded ids"
        assert (await copy.add_topic(newer.id, "q", "b", at=T0)).id == topic.id + 1
        assert (await copy.feed_key_by_id(1)).generation == 2
        assert (await copy.feed_key('["channel", 2]', at=T0)).id == 2, "the feeds' ids moved past the loaded ones"
    finally:
        await copy.close()


def test_a_client_confused_by_a_terminated_connection_is_storage_trouble_not_a_crash():
    from storage.postgres.connection import storage_reason

    assert storage_reason(asyncpg.InternalClientError("cannot switch to state 15")) == \
        "the connection to the database server was lost"
    assert storage_reason(ValueError("a bug")) is None
