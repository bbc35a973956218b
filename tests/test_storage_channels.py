"""The storage contract on both backends, continued: channels, their settings, topics and baselines, state."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from storage.sqlite import Channel
from tests.test_storage import OTHER, REF, T0, store  # noqa: F401  (fixtures)


# --- channels and topics ---------------------------------------------------------------------------


async def test_ensure_channel_creates_once_with_model_defaults(store):
    assert await store.get_channel(REF) is None
    channel = await store.ensure_channel(REF)
    defaults = Channel(id=channel.id, ref=REF, created_at=channel.created_at)
    assert channel == defaults
    assert channel.created_at.tzinfo is not None
    assert await store.ensure_channel(REF) == channel
    assert await store.get_channel(REF) == channel
    assert await store.get_channel_by_id(channel.id) == channel
    assert await store.get_channel_by_id(channel.id + 100) is None
    other = await store.ensure_channel(OTHER)
    assert other.id != channel.id
    assert await store.list_channels() == [channel, other]


async def test_concurrent_ensure_channel_makes_one_row(store):
    channels = await asyncio.gather(*(store.ensure_channel(REF) for _ in range(20)))
    assert len({c.id for c in channels}) == 1
    assert len(await store.list_channels()) == 1


async def test_update_channel_every_setting(store):
    channel = await store.ensure_channel(REF)
    later = datetime(2024, 3, 14, 18, 30, tzinfo=timezone(timedelta(hours=2)))
    updated = await store.update_channel(
        channel.id, realtime=False, digest_time="08:30", timezone="Europe/Paris", top_n=10,
        min_upvotes=3, paused_reason="missing permission", last_digest_at=later,
    )
    assert (updated.realtime, updated.digest_time, updated.timezone, updated.top_n, updated.min_upvotes,
            updated.paused_reason) == (False, "08:30", "Europe/Paris", 10, 3, "missing permission")
    assert updated.last_digest_at == later and updated.last_digest_at.tzinfo == timezone.utc
    assert await store.get_channel(REF) == updated
    assert await store.paused_channels() == [updated]
    resumed = await store.update_channel(channel.id, paused_reason=None, digest_time=None)
    assert (resumed.paused_reason, resumed.digest_time, resumed.top_n) == (None, None, 10)
    assert await store.paused_channels() == []
    assert await store.update_channel(channel.id) == resumed


async def test_update_channel_refuses_other_keys_and_unknown_channels(store):
    channel = await store.ensure_channel(REF)
    with pytest.raises(ValueError, match="id"):
        await store.update_channel(channel.id, id=5)
    with pytest.raises(ValueError, match="platform"):
        await store.update_channel(channel.id, platform="slack", top_n=1)
    assert (await store.get_channel(REF)).top_n == channel.top_n
    with pytest.raises(LookupError):
        await store.update_channel(channel.id + 1, top_n=1)


async def test_topics_add_dedupe_list_remove(store):
    channel = await store.ensure_channel(REF)
    late = await store.add_topic(channel.id, "diffusion", "u1", at=T0 + timedelta(hours=1))
    early = await store.add_topic(channel.id, "LLM", "u2", at=T0)
    assert (early.query, early.added_by, early.added_at, early.baseline_taken) == ("LLM", "u2", T0, False)
    assert await store.add_topic(channel.id, "llm", "u3", at=T0 + timedelta(days=1)) == early
    other = await store.ensure_channel(OTHER)
    elsewhere = await store.add_topic(other.id, "LLM", "u9", at=T0)
    assert elsewhere.id != early.id
    # Listed by number, which follows the order of subscribing, whatever the timestamps say.
    assert await store.list_topics(channel.id) == [late, early]
    assert [t.number for t in (late, early, elsewhere)] == [1, 2, 1]
    await store.remove_topic(late.id)
    assert await store.list_topics(channel.id) == [early]
    assert (await store.list_topics(channel.id))[0].number == 2, "a topic keeps its number"
    newest = await store.add_topic(channel.id, "agents", "u4", at=T0)
    assert newest.number == 3
    assert await store.list_topics(other.id) == [elsewhere]


async def test_mark_baseline_taken(store):
    channel = await store.ensure_channel(REF)
    a = await store.add_topic(channel.id, "a", "u", at=T0)
    b = await store.add_topic(channel.id, "b", "u", at=T0)
    await store.mark_baseline_taken([a.id])
    assert [t.baseline_taken for t in await store.list_topics(channel.id)] == [True, False]
    await store.mark_baseline_taken([])
    await store.mark_baseline_taken([a.id, b.id])
    assert [t.baseline_taken for t in await store.list_topics(channel.id)] == [True, True]


async def test_active_topics_and_their_signature_follow_baselines_pauses_and_removals(store):
    quiet = await store.ensure_channel(OTHER)
    channel = await store.ensure_channel(REF)
    empty = await store.active_topics_signature()
    t1 = await store.add_topic(channel.id, "a", "u", at=T0)
    t2 = await store.add_topic(channel.id, "b", "u", at=T0 + timedelta(seconds=1))
    assert await store.active_topics() == [] and await store.active_topics_signature() == empty
    assert await store.topics_awaiting_baseline() == {channel.id: [t1.id, t2.id]}
    await store.mark_baseline_taken([t1.id, t2.id])
    assert await store.active_topics() == [(channel.id, t1.id, "a"), (channel.id, t2.id, "b")]
    assert await store.topics_awaiting_baseline() == {}
    both = await store.active_topics_signature()
    await store.update_channel(channel.id, paused_reason="gone")
    assert await store.active_topics() == [] and await store.active_topics_signature() == empty
    await store.update_channel(channel.id, paused_reason=None)
    await store.remove_topic(t1.id)
    assert await store.active_topics() == [(channel.id, t2.id, "b")]
    assert await store.active_topics_signature() not in (empty, both)
    assert await store.get_channels([channel.id, quiet.id, 999]) == {channel.id: channel, quiet.id: quiet}


# --- key-value state -------------------------------------------------------------------------------


async def test_state_set_get_overwrite_delete(store):
    assert await store.get_state("last_poll") is None
    await store.set_state("last_poll", "2024-03-14T09:00:00+00:00")
    await store.set_state("last_error", "boom")
    await store.set_state("last_poll", "2024-03-14T10:00:00+00:00")
    assert await store.get_state("last_poll") == "2024-03-14T10:00:00+00:00"
    await store.set_state("last_error", None)
    assert await store.get_state("last_error") is None
    await store.set_state("never_set", None)
    assert await store.get_state("last_poll") == "2024-03-14T10:00:00+00:00"


async def test_channels_having_answers_only_for_the_channels_asked(store):
    channel = await store.ensure_channel(REF)
    other = await store.ensure_channel(OTHER)
    await store.record_baseline(channel.id, ["p1", "p2"], at=T0)
    await store.enqueue(other.id, "p3", state="queued", why=None, topic_id=None, at=T0)
    assert await store.channels_having("p1", [channel.id, other.id]) == {channel.id}
    assert await store.channels_having("p3", [channel.id, other.id]) == {other.id}
    assert await store.channels_having("p3", [channel.id]) == set()
    assert await store.channels_having("p1", []) == set()
