"""The outbox and its worker: floods, crash ambiguity, retries, pausing, edits, pacing."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.ports.adapter import DeliveryResult, DeliveryStatus, RateLimit
from bot.delivery.pacing import Pacer
from bot.delivery.worker import MAX_ATTEMPTS
from adapters.memory import MemoryAdapter
from paperboy_testing.seed import make_item


@pytest.fixture
def core(any_core):
    """This file's tests run on SQLite and on Postgres."""
    return any_core


@pytest.fixture
def chat(core):
    adapter = MemoryAdapter(core.engine)
    core.poller.adapters[adapter.platform] = adapter
    return adapter


def add_papers(fake_hf, clock, count: int, *, start: int = 1, title: str = "Unlearning step") -> list[str]:
    ids = []
    for n in range(start, start + count):
        paper_id = f"2411.{n:05d}"
        fake_hf.add(make_item(n, f"{title} {n}", "A study.", daily=clock().date(), paper_id=paper_id,
                              upvotes=100 + n))
        ids.append(paper_id)
    return ids


async def subscribed(chat, core, query: str = "unlearn*", channel: str = "general"):
    await chat.push(f"subscribe {query}", channel=channel)
    await core.poller.poll_once()
    return await core.store.get_channel(chat.channel(channel))


async def test_a_flood_becomes_singles_then_one_roll_up(chat, core, fake_hf, clock):
    core.poller.max_posts_per_hour = 3
    await subscribed(chat, core)
    ids = add_papers(fake_hf, clock, 5)
    await core.poller.poll_once()
    posts = [post for _, post in chat.pop_posts()]
    assert [p.tag.split(":")[0] for p in posts] == ["paper", "paper", "paper", "rollup"]
    roll_up = posts[-1]
    assert len(roll_up.paper_ids) == 2 and "2 more" in roll_up.content.title
    assert sorted(pid for p in posts for pid in p.paper_ids) == sorted(ids), "nothing lost, nothing twice"
    more = add_papers(fake_hf, clock, 1, start=10)
    await core.poller.poll_once()
    assert [p.tag for _, p in chat.pop_posts()] == [f"rollup:{more[0]}"], "still over the limit this hour"
    clock.advance(hours=1, minutes=1)
    later = add_papers(fake_hf, clock, 1, start=20)
    await core.poller.poll_once()
    assert [p.tag for _, p in chat.pop_posts()] == [f"paper:{later[0]}"]


async def test_an_ambiguous_send_found_on_the_platform_is_not_resent(chat, core, fake_hf, clock):
    channel = await subscribed(chat, core)
    (paper_id,) = add_papers(fake_hf, clock, 1)
    await core.poller.poll_once(deliver=False)
    (entry,) = await core.store.due_outbox(now=clock())
    # The process hands the post over and dies before recording it.
    assert await core.store.claim_outbox(entry.id)
    post, _ = await core.poller.worker._post(entry)
    await chat.send(channel.ref, post)
    chat.pop_posts()
    restarted = type(core.poller.worker)(store=core.store, adapters=core.poller.adapters, clock=clock)
    report = await restarted.drain()
    assert report.reconciled == 1 and chat.pop_posts() == []
    assert (await core.store.outbox_counts(channel.id)) == {"sent": 1}
    assert (await core.store.delivery_counts(channel.id)).get("sent") == 1


async def test_an_ambiguous_send_missing_on_the_platform_is_sent_once(chat, core, fake_hf, clock):
    await subscribed(chat, core)
    (paper_id,) = add_papers(fake_hf, clock, 1)
    await core.poller.poll_once(deliver=False)
    (entry,) = await core.store.due_outbox(now=clock())
    assert await core.store.claim_outbox(entry.id)  # died before the platform got it
    restarted = type(core.poller.worker)(store=core.store, adapters=core.poller.adapters, clock=clock)
    await restarted.drain()
    assert [p.paper_ids for _, p in chat.pop_posts()] == [(paper_id,)]
    await restarted.drain()
    assert chat.pop_posts() == []


async def test_when_the_platform_cannot_be_asked_the_entry_waits(chat, core, fake_hf, clock):
    class Blind(MemoryAdapter):
        async def find_post(self, channel, post):
            raise ConnectionError("history unavailable")

    blind = Blind(core.engine)
    core.poller.adapters[blind.platform] = blind
    channel = await subscribed(blind, core)
    add_papers(fake_hf, clock, 1)
    await core.poller.poll_once(deliver=False)
    (entry,) = await core.store.due_outbox(now=clock())
    await core.store.claim_outbox(entry.id)
    await core.poller.worker.drain()
    assert blind.attempts == 0, "never guesses"
    assert (await core.store.outbox_counts(channel.id)) == {"sending": 1}


async def test_transient_failures_back_off_then_die_with_the_reason(chat, core, fake_hf, clock):
    await subscribed(chat, core)
    add_papers(fake_hf, clock, 1)
    chat.results.extend([DeliveryResult(DeliveryStatus.TRANSIENT, reason="HTTP 502")] * MAX_ATTEMPTS)
    await core.poller.poll_once()
    for _ in range(MAX_ATTEMPTS):
        clock.advance(hours=2)
        await core.poller.worker.drain()
    assert chat.attempts == MAX_ATTEMPTS
    (dead,) = await core.store.outbox_in_state("dead")
    assert dead.last_error == "HTTP 502" and dead.attempts == MAX_ATTEMPTS
    assert "1 given up" in (await chat.push("status")).content.body


async def test_pausing_tells_the_subscriber_and_resume_delivers_what_waited(chat, core, fake_hf, clock):
    await subscribed(chat, core)
    ids = add_papers(fake_hf, clock, 2)
    chat.results.append(DeliveryResult(DeliveryStatus.PERMANENT, reason="channel_not_found"))
    report = await core.poller.poll_once()
    assert report.paused[0][1] == "channel_not_found"
    (notice,) = chat.notices
    assert notice[1] == "U1" and "resume" in notice[2] and "channel_not_found" in notice[2]
    await core.poller.poll_once()
    assert chat.pop_posts() == []
    await chat.push("resume")
    await core.poller.worker.drain()
    assert sorted(p.paper_ids[0] for _, p in chat.pop_posts()) == sorted(ids)


async def test_a_changed_paper_is_edited_in_place(chat, core, fake_hf, clock):
    core.poller.update_posts = True
    await subscribed(chat, core)
    (paper_id,) = add_papers(fake_hf, clock, 1)
    await core.poller.poll_once()
    ((_, post),) = chat.pop_posts()
    fake_hf.items[paper_id]["paper"]["githubRepo"] = "https://github.com/example/new-code"
    await core.poller.poll_once()
    ((_, ref, edited),) = chat.edits
    assert ref == "m1" and edited.content.paper.github_repo == "https://github.com/example/new-code"
    await core.poller.poll_once()
    assert len(chat.edits) == 1, "one edit per change"
    assert chat.pop_posts() == [], "an update is never a second post"


async def test_without_update_posts_a_changed_paper_is_left_alone(chat, core, fake_hf, clock):
    await subscribed(chat, core)
    (paper_id,) = add_papers(fake_hf, clock, 1)
    await core.poller.poll_once()
    fake_hf.items[paper_id]["paper"]["githubRepo"] = "https://github.com/example/new-code"
    await core.poller.poll_once()
    assert chat.edits == []


async def test_a_burst_for_one_channel_does_not_delay_another(chat, core, fake_hf, clock):
    order: list[str] = []

    class Recording(MemoryAdapter):
        async def send(self, channel, post):
            order.append(channel.channel)
            return await super().send(channel, post)

    paced = Recording(core.engine, platform="paced", limits=(RateLimit("channel", 1, 0.2),))
    core.poller.adapters[paced.platform] = paced
    core.poller.max_posts_per_hour = 100
    await paced.push("subscribe unlearn*", channel="busy")
    await paced.push("subscribe protein", channel="quiet")
    await core.poller.poll_once()
    add_papers(fake_hf, clock, 5)
    add_papers(fake_hf, clock, 1, start=50, title="Protein folding")
    await core.poller.poll_once()
    assert order.count("busy") == 5 and order.index("quiet") < 2


async def test_pacer_keeps_every_window_within_its_limit():
    limits = (RateLimit("channel", 2, 0.3), RateLimit("global", 3, 0.3))
    pacer = Pacer()
    from bot.model.channels import ChannelRef

    channels = [ChannelRef("x", "w", str(n)) for n in range(3)]
    stamps: list[tuple[float, str]] = []

    async def send_many(channel):
        for _ in range(4):
            slot = await pacer.wait("x", channel, limits)
            await asyncio.sleep(0.01)  # the request itself
            pacer.done(slot)
            stamps.append((time.monotonic(), channel.channel))

    started = time.monotonic()
    await asyncio.gather(*(send_many(c) for c in channels))
    for at, _ in stamps:
        window = [s for s in stamps if at <= s[0] < at + 0.3]
        assert len(window) <= 3
        for name in {c for _, c in window}:
            assert sum(1 for _, c in window if c == name) <= 2
    # 12 sends at 3 per 0.3 s need at least 3 more windows after the first.
    assert time.monotonic() - started >= 0.9


async def test_a_burst_claims_and_settles_in_a_few_transactions_in_order(chat, core, fake_hf, clock):
    """Many channels sending at once share their claims and settlements; each channel stays in order."""
    batches: dict[str, list[int]] = {"claims": [], "settlements": []}
    store = core.store
    claim_many, settle_many = store.claim_outbox_many, store.mark_outbox_sent_many

    async def claims(ids):
        batches["claims"].append(len(ids))
        return await claim_many(ids)

    async def settlements(items):
        batches["settlements"].append(len(items))
        return await settle_many(items)

    core.poller.max_posts_per_hour = 100
    for n in range(30):
        await chat.push("subscribe unlearn*", channel=f"c{n}")
    await core.poller.poll_once()
    ids = add_papers(fake_hf, clock, 3)
    store.claim_outbox_many, store.mark_outbox_sent_many = claims, settlements
    try:
        report = await core.poller.poll_once()
    finally:
        store.claim_outbox_many, store.mark_outbox_sent_many = claim_many, settle_many
    assert report.sent == 90
    assert sum(batches["claims"]) == 90 and sum(batches["settlements"]) == 90
    assert len(batches["claims"]) <= 30 and len(batches["settlements"]) <= 30, batches  # vs 90 one by one
    by_channel: dict[str, list[str]] = {}
    for channel, post in chat.pop_posts():
        by_channel.setdefault(channel.channel, []).extend(post.paper_ids)
    assert len(by_channel) == 30
    queued = [e.paper_ids[0] for e in await store.outbox_in_state("sent", channel_id=(
        await store.get_channel(chat.channel("c0"))).id)]
    assert sorted(queued) == sorted(ids) and by_channel["c0"] == queued


def test_the_pacer_admits_at_once_only_when_nothing_would_wait():
    from bot.model.channels import ChannelRef

    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    limits = (RateLimit("channel", 1, 1.0), RateLimit("workspace", 2, 1.0))
    a, b, c = (ChannelRef("x", "w", name) for name in "abc")
    first = pacer.admit_now("x", a, limits)
    assert first is not None
    assert pacer.admit_now("x", a, limits) is None, "a's own window is full"
    pacer.done(first)
    assert pacer.admit_now("x", b, limits) is not None
    assert pacer.admit_now("x", c, limits) is None, "the workspace window is full"
    now[0] = 1.1
    assert pacer.admit_now("x", c, limits) is not None, "the windows slid on"


async def test_a_round_to_many_channels_reads_their_rows_in_one_go(chat, core, fake_hf, clock):
    """The worker reads the channels a round sends to together, not one read per channel."""
    reads: list[int] = []
    store = core.store
    get_channels, get_channel_by_id = store.get_channels, store.get_channel_by_id

    async def many(ids):
        reads.append(len(ids))
        return await get_channels(ids)

    async def one(channel_id):
        reads.append(1)
        return await get_channel_by_id(channel_id)

    for n in range(12):
        await chat.push("subscribe unlearn*", channel=f"c{n}")
    await core.poller.poll_once()
    add_papers(fake_hf, clock, 2)
    store.get_channels, store.get_channel_by_id = many, one
    try:
        report = await core.poller.poll_once()
    finally:
        store.get_channels, store.get_channel_by_id = get_channels, get_channel_by_id
    assert report.sent == 24
    assert {channel.channel for channel, _ in chat.pop_posts()} == {f"c{n}" for n in range(12)}
    assert reads and set(reads) == {12}  # the poll reads them too; one by one, there would be twelve 1s
