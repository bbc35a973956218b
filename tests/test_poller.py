"""The poller: baselines, exactly-once delivery, thresholds, digests, failures."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.ports.adapter import DeliveryResult, DeliveryStatus
from bot.model.replies import PaperCard, PaperList
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


def new_paper(fake_hf, clock, n: int, title: str, abstract: str = "A study.", *, upvotes: int = 50) -> str:
    paper_id = f"2411.{n:05d}"
    fake_hf.add(make_item(n, title, abstract, daily=clock().date(), paper_id=paper_id, upvotes=upvotes))
    return paper_id


def posted_ids(chat) -> list[str]:
    ids = []
    for _, post in chat.pop_posts():
        ids += list(post.paper_ids)
    return ids


async def test_subscribe_then_only_new_matches_are_posted_exactly_once(chat, core, fake_hf, clock):
    reply = await chat.push("subscribe unlearn* OR \"model merging\"")
    assert reply.content.cards, "the reply shows what matches now"
    await core.poller.poll_once()
    assert posted_ids(chat) == [], "the backlog is never posted"

    wanted = new_paper(fake_hf, clock, 1, "Fast unlearning for LLMs")
    also = new_paper(fake_hf, clock, 2, "Model merging, revisited")
    new_paper(fake_hf, clock, 3, "A paper about protein folding")
    report = await core.poller.poll_once()
    assert sorted(posted_ids(chat)) == sorted([wanted, also])
    assert report.sent == 2
    await core.poller.poll_once()
    assert posted_ids(chat) == []


async def test_a_post_says_why_it_matched(chat, core, fake_hf, clock):
    await chat.push("subscribe unlearn*")
    new_paper(fake_hf, clock, 1, "Fast unlearning for LLMs")
    await core.poller.poll_once()
    (_, post), = chat.pop_posts()
    assert isinstance(post.content, PaperCard)
    assert "unlearn* in title" in post.content.why
    assert post.tag == "paper:2411.00001"


async def test_subscribing_while_the_source_is_down_baselines_at_the_first_poll(chat, core, fake_hf, clock):
    port = int(fake_hf.base_url.rsplit(":", 1)[1])
    await fake_hf.stop()
    reply = await chat.push("subscribe unlearn*")
    assert "topic 1" in reply.content.title and reply.content.note
    await fake_hf.start(port=port)
    await core.poller.poll_once()
    assert posted_ids(chat) == [], "the first poll takes the baseline"
    wanted = new_paper(fake_hf, clock, 1, "Unlearning, again")
    await core.poller.poll_once()
    assert posted_ids(chat) == [wanted]


async def test_a_second_topic_does_not_hide_a_new_match_of_the_first(chat, core, fake_hf, clock):
    await chat.push("subscribe unlearn*")
    await core.poller.poll_once()
    wanted = new_paper(fake_hf, clock, 1, "Unlearning in one step")
    channel = await core.store.get_channel(chat.channel())
    # A topic added without a baseline (as when the source was down at subscribe time).
    await core.store.add_topic(channel.id, "protein", "ada", at=clock())
    await core.poller.poll_once()
    assert posted_ids(chat) == [wanted]


async def test_channels_only_get_their_own_matches(chat, core, fake_hf, clock):
    await chat.push("subscribe unlearn*", channel="a")
    await chat.push("subscribe protein", channel="b")
    await core.poller.poll_once()
    unlearning = new_paper(fake_hf, clock, 1, "Unlearning for all")
    protein = new_paper(fake_hf, clock, 2, "Protein design at scale")
    await core.poller.poll_once()
    by_channel = {(ref.channel, post.paper_ids[0]) for ref, post in chat.pop_posts()}
    assert by_channel == {("a", unlearning), ("b", protein)}


async def test_threshold_holds_back_papers_until_they_have_enough_upvotes(chat, core, fake_hf, clock):
    await chat.push("subscribe unlearn*")
    await chat.push("threshold 40")
    await core.poller.poll_once()
    paper_id = new_paper(fake_hf, clock, 1, "Unlearning slowly", upvotes=3)
    await core.poller.poll_once()
    assert posted_ids(chat) == []
    fake_hf.items[paper_id]["paper"]["upvotes"] = 45
    await core.poller.poll_once()
    assert posted_ids(chat) == [paper_id]


async def test_dry_run_records_and_sends_nothing(chat, core, fake_hf, clock):
    from bot.delivery.dry_run import dry_run

    await chat.push("subscribe unlearn*")
    await core.poller.poll_once()
    paper_id = new_paper(fake_hf, clock, 1, "Unlearning, dry")
    report, would_send = await dry_run(core)
    assert [p.id for _, p, _ in report.enqueued] == [paper_id]
    assert [w.post.paper_ids for w in would_send] == [(paper_id,)]
    assert posted_ids(chat) == []
    await core.poller.poll_once()
    assert posted_ids(chat) == [paper_id], "a dry run leaves the paper to the real run"


async def test_a_transient_failure_is_retried_later_and_sent_once(chat, core, fake_hf, clock):
    await chat.push("subscribe unlearn*")
    await core.poller.poll_once()
    paper_id = new_paper(fake_hf, clock, 1, "Unlearning under failure")
    chat.results.append(DeliveryResult(DeliveryStatus.TRANSIENT, reason="HTTP 502"))
    await core.poller.poll_once()
    assert posted_ids(chat) == []
    await core.poller.poll_once()
    assert posted_ids(chat) == [], "not retried before its retry time"
    clock.advance(hours=2)
    await core.poller.poll_once()
    assert posted_ids(chat) == [paper_id]
    clock.advance(hours=2)
    await core.poller.poll_once()
    assert posted_ids(chat) == []


async def test_rate_limited_send_waits_retry_after(chat, core, fake_hf, clock):
    await chat.push("subscribe unlearn*")
    await core.poller.poll_once()
    paper_id = new_paper(fake_hf, clock, 1, "Unlearning in a hurry")
    chat.results.append(DeliveryResult(DeliveryStatus.RATE_LIMITED, retry_after=30))
    await core.poller.poll_once()
    clock.advance(seconds=31)
    await core.poller.worker.drain()
    assert posted_ids(chat) == [paper_id]


async def test_a_permanent_failure_pauses_the_channel_without_retrying(chat, core, fake_hf, clock):
    await chat.push("subscribe unlearn*")
    await core.poller.poll_once()
    new_paper(fake_hf, clock, 1, "Unlearning, unseen")
    chat.results.append(DeliveryResult(DeliveryStatus.PERMANENT, reason="channel_not_found"))
    report = await core.poller.poll_once()
    assert report.paused and report.paused[0][1] == "channel_not_found"
    attempts = chat.attempts
    clock.advance(hours=5)
    new_paper(fake_hf, clock, 2, "Unlearning, twice unseen")
    await core.poller.poll_once()
    assert chat.attempts == attempts, "a paused channel is not retried in a loop"
    status = await chat.push("status")
    assert "channel_not_found" in status.content.body
    assert "PAUSED" in (await chat.push("settings")).content.body


async def test_a_crashing_adapter_does_not_stop_other_channels(core, fake_hf, clock):
    class Broken(MemoryAdapter):
        async def send(self, channel, post):
            raise RuntimeError("boom")

    good, bad = MemoryAdapter(core.engine), Broken(core.engine, platform="broken")
    core.poller.adapters.update({good.platform: good, bad.platform: bad})
    await good.push("subscribe unlearn*")
    await bad.push("subscribe unlearn*")
    await core.poller.poll_once()
    paper_id = new_paper(fake_hf, clock, 1, "Unlearning, robustly")
    await core.poller.poll_once()
    assert posted_ids(good) == [paper_id]


async def test_digest_sends_the_top_n_once_at_the_local_hour(chat, core, fake_hf, clock):
    clock.now = datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc)  # 07:00 in Paris
    await chat.push("subscribe unlearn*")
    await chat.push("digest 09:00 Europe/Paris 2")
    await core.poller.poll_once()
    low = new_paper(fake_hf, clock, 1, "Unlearning A", upvotes=5)
    top = new_paper(fake_hf, clock, 2, "Unlearning B", upvotes=500)
    mid = new_paper(fake_hf, clock, 3, "Unlearning C", upvotes=50)
    await core.poller.poll_once()
    assert chat.pop_posts() == [], "digest channels wait for their hour"
    clock.advance(hours=2, minutes=1)  # 09:01 in Paris
    await core.poller.poll_once()
    (_, post), = chat.pop_posts()
    assert isinstance(post.content, PaperList)
    assert [c.paper.id for c in post.content.cards] == [top, mid]
    assert all(c.why for c in post.content.cards)
    clock.advance(hours=1)
    await core.poller.poll_once()
    assert chat.pop_posts() == [], "one digest a day"
    clock.advance(days=1)
    await core.poller.poll_once()
    assert chat.pop_posts() == [], "an empty digest is not posted; the skipped paper never comes back"
    channel = await core.store.get_channel(chat.channel())
    assert (await core.store.delivery_counts(channel.id)).get("skipped") == 1
    assert low in await core.store.ledger_paper_ids(channel.id)


async def test_poll_with_the_source_failing_reports_and_does_not_crash(chat, core, fake_hf):
    await fake_hf.stop()
    report = await core.poller.poll_once()
    assert report.errors and "cannot reach Hugging Face" in report.errors[0]
    assert "cannot reach Hugging Face" in (await chat.push("status")).content.body
