"""Threads, group mentions, leaderboard posts and 👍 refreshes in the outbox, run against both backends."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from bot.model.channels import ChannelRef
from bot.model.rows import Settlement
from bot.ports.store import open_store
from tests.postgres import fresh_database

T0 = datetime(2024, 3, 14, 9, 0, tzinfo=timezone.utc)
REF = ChannelRef(platform="slack", workspace="T1", channel="C1")
OTHER = ChannelRef(platform="slack", workspace="T1", channel="C2")


def shape(entries) -> list[tuple[str, str, tuple[str, ...], str | None]]:
    return [(e.kind, e.tag, e.paper_ids, e.target_ref) for e in entries]


async def send_all(store, channel_id: int, *, at: datetime = T0) -> dict[str, str]:
    """Claim and settle the channel's due entries one at a time, as the worker does; return tag -> message ref."""
    refs = {}
    while due := await store.due_outbox(now=at, channel_id=channel_id):
        entry = due[0]
        assert await store.claim_outbox(entry.id)
        refs[entry.tag] = f"m-{entry.id}"
        await store.mark_outbox_sent(entry.id, message_ref=refs[entry.tag], at=at)
    return refs


# --- channel and topic settings -------------------------------------------------------------------


async def test_threads_and_leaderboard_schedule_round_trip(any_store):
    channel = await any_store.ensure_channel(REF)
    assert (channel.threads, channel.leaderboard_schedule) == (False, None)
    changed = await any_store.update_channel(channel.id, threads=True, leaderboard_schedule="mon 09:00 Europe/Paris")
    assert (changed.threads, changed.leaderboard_schedule) == (True, "mon 09:00 Europe/Paris")
    again = await any_store.get_channel(REF)
    assert (again.threads, again.leaderboard_schedule) == (True, "mon 09:00 Europe/Paris")
    off = await any_store.update_channel(channel.id, threads=False, leaderboard_schedule=None)
    assert (off.threads, off.leaderboard_schedule) == (False, None)
    assert (await any_store.get_channels([channel.id]))[channel.id] == off


async def test_a_topic_keeps_the_group_it_notifies(any_store):
    channel = await any_store.ensure_channel(REF)
    topic = await any_store.add_topic(channel.id, "unlearning", "ann", at=T0, notify="S123", notify_name="ml-team")
    plain = await any_store.add_topic(channel.id, "merging", "ann", at=T0)
    assert (topic.notify, topic.notify_name) == ("S123", "ml-team")
    assert (plain.notify, plain.notify_name) == (None, None)
    assert [(t.query, t.notify, t.notify_name) for t in await any_store.list_topics(channel.id)] == [
        ("unlearning", "S123", "ml-team"), ("merging", None, None)]
    same = await any_store.add_topic(channel.id, "Unlearning", "bob", at=T0, notify="S999", notify_name="other")
    assert (same.id, same.notify) == (topic.id, "S123"), "the existing topic keeps its group"


# --- enqueue_posts: mentions and threads ------------------------------------------------------------


async def test_a_post_mentions_its_topics_group_and_a_roll_up_nobody(any_store):
    channel = await any_store.ensure_channel(REF)
    loud = await any_store.add_topic(channel.id, "unlearning", "ann", at=T0, notify="S123", notify_name="ml")
    quiet = await any_store.add_topic(channel.id, "merging", "ann", at=T0)
    await any_store.enqueue_posts(
        channel.id, [("p1", "why", loud.id), ("p2", None, quiet.id), ("p3", None, None), ("p4", None, loud.id)],
        at=T0, max_per_hour=3)
    entries = await any_store.outbox_in_state("pending", channel_id=channel.id)
    assert [(e.kind, e.paper_ids, e.mention) for e in entries] == [
        ("paper", ("p1",), "S123"), ("paper", ("p2",), None), ("paper", ("p3",), None), ("rollup", ("p4",), None)]
    assert [e.mention for e in await any_store.due_outbox(now=T0, channel_id=channel.id)][:1] == ["S123"]


async def test_the_mention_stays_with_the_entry_from_when_it_was_queued(any_store):
    channel = await any_store.ensure_channel(REF)
    topic = await any_store.add_topic(channel.id, "unlearning", "ann", at=T0, notify="S123", notify_name="ml")
    await any_store.enqueue_posts(channel.id, [("p1", None, topic.id)], at=T0, max_per_hour=10)
    await any_store.remove_topic(topic.id)
    [entry] = await any_store.due_outbox(now=T0, channel_id=channel.id)
    assert await any_store.claim_outbox(entry.id)
    [sending] = await any_store.abandoned_outbox()
    assert sending.mention == "S123"


async def test_without_threads_no_thread_entries(any_store):
    channel = await any_store.ensure_channel(REF)
    await any_store.enqueue_posts(channel.id, [("p1", None, None), ("p2", None, None)], at=T0, max_per_hour=10)
    assert [e.kind for e in await any_store.outbox_in_state("pending")] == ["paper", "paper"]


async def test_with_threads_each_post_is_followed_by_its_thread(any_store):
    channel = await any_store.ensure_channel(REF)
    await any_store.update_channel(channel.id, threads=True)
    new = await any_store.enqueue_posts(
        channel.id, [("p1", None, None), ("p2", None, None), ("p3", None, None)], at=T0, max_per_hour=2)
    assert new == ["p1", "p2", "p3"]
    entries = await any_store.outbox_in_state("pending", channel_id=channel.id)
    assert shape(entries) == [
        ("paper", "paper:p1", ("p1",), None), ("thread", "thread:p1", ("p1",), None),
        ("paper", "paper:p2", ("p2",), None), ("thread", "thread:p2", ("p2",), None),
        ("rollup", "rollup:p3", ("p3",), None),  # a roll-up gets no thread
    ]
    assert [e.id for e in entries[:4]] == list(range(entries[0].id, entries[0].id + 4)), "each thread is next"
    assert all(e.mention is None for e in entries if e.kind == "thread")


async def test_threads_count_not_towards_the_flood_limit(any_store):
    channel = await any_store.ensure_channel(REF)
    await any_store.update_channel(channel.id, threads=True)
    await any_store.enqueue_posts(channel.id, [("p1", None, None)], at=T0, max_per_hour=2)
    await any_store.enqueue_posts(channel.id, [("p2", None, None), ("p3", None, None)], at=T0, max_per_hour=2)
    assert [e.kind for e in await any_store.outbox_in_state("pending")] == ["paper", "thread", "paper", "thread",
                                                                          "rollup"]


async def test_sending_a_post_gives_its_thread_the_target(any_store):
    channel = await any_store.ensure_channel(REF)
    await any_store.update_channel(channel.id, threads=True)
    await any_store.enqueue_posts(channel.id, [("p1", None, None), ("p2", None, None)], at=T0, max_per_hour=10)
    first, thread = (await any_store.outbox_in_state("pending"))[:2]
    assert not await any_store.claim_outbox(thread.id), "the thread waits for its post"
    assert await any_store.claim_outbox(first.id)
    await any_store.mark_outbox_sent(first.id, message_ref="m-1", at=T0)
    pending = await any_store.outbox_in_state("pending")
    assert shape(pending) == [("thread", "thread:p1", ("p1",), "m-1"), ("paper", "paper:p2", ("p2",), None),
                              ("thread", "thread:p2", ("p2",), None)]
    assert await any_store.claim_outbox(pending[0].id)
    await any_store.mark_outbox_sent(pending[0].id, message_ref="t-1", at=T0)
    [sent_thread] = [e for e in await any_store.outbox_in_state("sent") if e.kind == "thread"]
    assert (sent_thread.target_ref, sent_thread.message_ref) == ("m-1", "t-1")
    assert (await any_store.delivery_counts(channel.id)).get("sent") == 1, "a thread is no delivery of its own"


async def test_settling_many_gives_each_thread_its_posts_target(any_store):
    channel = await any_store.ensure_channel(REF)
    other = await any_store.ensure_channel(OTHER)
    for c in (channel, other):
        await any_store.update_channel(c.id, threads=True)
        await any_store.enqueue_posts(c.id, [("p1", None, None)], at=T0, max_per_hour=10)
    posts = [e for e in await any_store.outbox_in_state("pending") if e.kind == "paper"]
    assert await any_store.claim_outbox_many([p.id for p in posts]) == {p.id for p in posts}
    await any_store.mark_outbox_sent_many([Settlement(p.id, f"m-{p.channel_id}", T0, None) for p in posts])
    threads = await any_store.outbox_in_state("pending")
    assert {(t.channel_id, t.target_ref) for t in threads} == {(channel.id, f"m-{channel.id}"),
                                                               (other.id, f"m-{other.id}")}


async def test_a_thread_already_targeted_keeps_its_target(any_store):
    channel = await any_store.ensure_channel(REF)
    await any_store.update_channel(channel.id, threads=True)
    await any_store.enqueue_posts(channel.id, [("p1", None, None)], at=T0, max_per_hour=10)
    post, _ = await any_store.outbox_in_state("pending")
    assert await any_store.claim_outbox(post.id)
    await any_store.mark_outbox_sent(post.id, message_ref="m-1", at=T0)
    await any_store.mark_outbox_sent(post.id, message_ref="m-2", at=T0)  # settled twice (a crash's leftovers)
    [thread] = await any_store.outbox_in_state("pending")
    assert thread.target_ref == "m-1"


# --- enqueue_post ----------------------------------------------------------------------------------


async def test_enqueue_post_queues_once_per_tag(any_store):
    channel = await any_store.ensure_channel(REF)
    assert await any_store.enqueue_post(channel.id, kind="leaderboard", tag="leaderboard:2024-W11",
                                        paper_ids=["p1", "p2"], title="This week's most 👍", at=T0)
    assert not await any_store.enqueue_post(channel.id, kind="leaderboard", tag="leaderboard:2024-W11",
                                            paper_ids=["p3"], at=T0)
    [entry] = await any_store.outbox_in_state("pending", channel_id=channel.id)
    assert (entry.kind, entry.tag, entry.paper_ids, entry.title, entry.target_ref, entry.mention) == (
        "leaderboard", "leaderboard:2024-W11", ("p1", "p2"), "This week's most 👍", None, None)
    other = await any_store.ensure_channel(OTHER)
    assert await any_store.enqueue_post(other.id, kind="leaderboard", tag="leaderboard:2024-W11", paper_ids=[],
                                        at=T0), "a tag is unique per channel only"


# --- enqueue_refresh -------------------------------------------------------------------------------


async def test_refreshing_an_unknown_or_unsent_post_queues_nothing(any_store):
    channel = await any_store.ensure_channel(REF)
    assert not await any_store.enqueue_refresh(channel.id, target_ref="m-nowhere", at=T0)
    await any_store.enqueue_posts(channel.id, [("p1", None, None)], at=T0, max_per_hour=10)
    refs = await send_all(any_store, channel.id)
    other = await any_store.ensure_channel(OTHER)
    assert not await any_store.enqueue_refresh(other.id, target_ref=refs["paper:p1"], at=T0), "another channel's"
    assert await any_store.outbox_counts() == {"sent": 1}


async def test_refreshing_a_sent_post_queues_one_edit_at_a_time(any_store):
    channel = await any_store.ensure_channel(REF)
    await any_store.enqueue_posts(channel.id, [("p1", None, None)], at=T0, max_per_hour=10)
    ref = (await send_all(any_store, channel.id))["paper:p1"]

    assert await any_store.enqueue_refresh(channel.id, target_ref=ref, at=T0)
    assert not await any_store.enqueue_refresh(channel.id, target_ref=ref, at=T0), "one edit is pending already"
    [edit] = await any_store.outbox_in_state("pending")
    assert (edit.kind, edit.paper_ids, edit.target_ref, edit.title) == ("update", ("p1",), ref, None)

    later = T0 + timedelta(minutes=1)
    await send_all(any_store, channel.id, at=later)
    assert await any_store.enqueue_refresh(channel.id, target_ref=ref, at=later), "the first was sent"
    [second] = await any_store.outbox_in_state("pending")
    assert (second.kind, second.paper_ids, second.target_ref) == ("update", ("p1",), ref)
    assert second.tag != edit.tag and second.tag.startswith("refresh:")


async def test_refreshing_a_digest_copies_its_title_and_papers(any_store):
    channel = await any_store.ensure_channel(REF)
    await any_store.enqueue_digest(channel.id, tag="digest:2024-03-14", title="Today's papers", top=["p1", "p2"],
                                   skipped=[], at=T0)
    ref = (await send_all(any_store, channel.id))["digest:2024-03-14"]
    assert await any_store.enqueue_refresh(channel.id, target_ref=ref, at=T0)
    [edit] = await any_store.outbox_in_state("pending")
    assert (edit.kind, edit.paper_ids, edit.title, edit.target_ref) == ("update", ("p1", "p2"), "Today's papers", ref)


async def test_refreshing_leaderboards_and_roll_ups_but_not_threads_or_edits(any_store):
    channel = await any_store.ensure_channel(REF)
    await any_store.update_channel(channel.id, threads=True)
    await any_store.enqueue_posts(channel.id, [("p1", None, None), ("p2", None, None)], at=T0, max_per_hour=1)
    await any_store.enqueue_post(channel.id, kind="leaderboard", tag="lb:1", paper_ids=["p1"], title="Top", at=T0)
    refs = await send_all(any_store, channel.id)
    assert not await any_store.enqueue_refresh(channel.id, target_ref=refs["thread:p1"], at=T0)
    assert await any_store.enqueue_refresh(channel.id, target_ref=refs["rollup:p2"], at=T0)
    assert await any_store.enqueue_refresh(channel.id, target_ref=refs["lb:1"], at=T0)
    edits = await any_store.outbox_in_state("pending")
    assert [(e.paper_ids, e.target_ref) for e in edits] == [(("p2",), refs["rollup:p2"]), (("p1",), refs["lb:1"])]
    refs = await send_all(any_store, channel.id)
    assert not await any_store.enqueue_refresh(channel.id, target_ref=refs[edits[0].tag], at=T0), \
        "an edit's own message is no post to refresh"


async def test_two_processes_refreshing_one_post_queue_one_edit(postgres_url):
    stores = [await open_store(postgres_url) for _ in range(2)]
    try:
        first, second = stores
        channel = await first.ensure_channel(REF)
        await first.update_channel(channel.id, threads=True)
        await first.enqueue_posts(channel.id, [("p1", None, None)], at=T0, max_per_hour=10)
        ref = (await send_all(first, channel.id))["paper:p1"]
        for _ in range(5):
            results = await asyncio.gather(*(s.enqueue_refresh(channel.id, target_ref=ref, at=T0)
                                             for s in (first, second, first, second)))
            assert results.count(True) == 1
            await send_all(first, channel.id)  # the channel is leased to the store that sent first
        edits = await first.outbox_in_state("sent", channel_id=channel.id)
        assert len({e.tag for e in edits if e.kind == "update"}) == 5
    finally:
        for store in stores:
            await store.close()


# --- vote_counts_many -------------------------------------------------------------------------------


async def test_vote_counts_many(any_store):
    channel = await any_store.ensure_channel(REF)
    other = await any_store.ensure_channel(OTHER)
    for user in ("U1", "U2"):
        await any_store.toggle_vote(channel.id, "p1", user, at=T0)
    await any_store.toggle_vote(other.id, "p1", "U1", at=T0)
    await any_store.toggle_vote(other.id, "p2", "U1", at=T0)
    counts = await any_store.vote_counts_many([(channel.id, "p1"), (channel.id, "p2"), (other.id, "p1"),
                                               (other.id, "p1"), (other.id, "p3")])
    assert counts == {(channel.id, "p1"): 2, (other.id, "p1"): 1}
    assert await any_store.vote_counts_many([]) == {}


# --- db copy ----------------------------------------------------------------------------------------


async def test_the_new_columns_are_dumped(any_store):
    channel = await any_store.ensure_channel(REF)
    await any_store.update_channel(channel.id, threads=True, leaderboard_schedule="fri 17:00 UTC")
    topic = await any_store.add_topic(channel.id, "unlearning", "ann", at=T0, notify="S1", notify_name="ml")
    await any_store.enqueue_posts(channel.id, [("p1", None, topic.id)], at=T0, max_per_hour=10)
    [row] = await any_store.dump_table("channels")
    assert (row["threads"], row["leaderboard_schedule"]) == (True, "fri 17:00 UTC")
    [row] = await any_store.dump_table("topics")
    assert (row["notify"], row["notify_name"]) == ("S1", "ml")
    assert [(r["kind"], r["mention"]) for r in await any_store.dump_table("outbox")] == [("paper", "S1"),
                                                                                       ("thread", None)]


async def test_the_new_columns_copy_to_either_backend(any_store, tmp_path, postgres_server):
    channel = await any_store.ensure_channel(REF)
    await any_store.update_channel(channel.id, threads=True, leaderboard_schedule="fri 17:00 UTC")
    topic = await any_store.add_topic(channel.id, "unlearning", "ann", at=T0, notify="S1", notify_name="ml")
    await any_store.enqueue_posts(channel.id, [("p1", None, topic.id)], at=T0, max_per_hour=10)
    tables = ("channels", "topics", "outbox")
    dumped = {table: await any_store.dump_table(table) for table in tables}

    async def check_copy(database: str) -> None:
        copy = await open_store(database)
        try:
            for table in tables:
                await copy.load_table(table, dumped[table])
            assert {table: await copy.dump_table(table) for table in tables} == dumped
            assert (await copy.get_channel(REF)).threads
            assert [(e.kind, e.mention) for e in await copy.due_outbox(now=T0)] == [("paper", "S1"), ("thread", None)]
        finally:
            await copy.close()

    await check_copy(str(tmp_path / "copy.db"))
    async with fresh_database(postgres_server) as url:
        await check_copy(url)
