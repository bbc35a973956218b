"""Daily picks and digests ranked by interest, end to end on a fake clock: memory adapter, SQLite and Postgres."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from adapters.memory import MemoryAdapter
from bot.delivery.poller import Poller
from bot.model.replies import Error, PaperList, Text
from paperboy_testing.seed import make_item, seed_id
from tests.test_recommend import DIFFUSION, about_diffusion, like_diffusion


@pytest.fixture
def core(any_core):
    """This file's tests run on SQLite and on Postgres."""
    return any_core


@pytest.fixture
def chat(core):
    adapter = MemoryAdapter(core.engine)
    core.poller.adapters[adapter.platform] = adapter
    return adapter


def at(clock, hour: int, minute: int = 0, *, days: int = 0) -> None:
    """Set the fake clock to *hour*:*minute* UTC, *days* after the real today (the seed's Daily Papers are recent)."""
    today = datetime.now(timezone.utc).date() + timedelta(days=days)
    clock.now = datetime(today.year, today.month, today.day, hour, minute, tzinfo=timezone.utc)


def picks_posts(chat) -> list:
    return [post for _, post in chat.pop_posts() if post.tag.startswith("picks:")]


async def test_picks_go_out_once_a_day_at_nine_led_by_what_the_channel_likes(chat, core, clock):
    at(clock, 8)
    await core.poller.poll_once()
    await like_diffusion(chat)
    set_up = await chat.push("picks 3", channel="lab")
    assert "every day at 09:00 UTC, the 3 papers" in set_up.content.body
    assert "Picks on" in set_up.content.body and "ranked by" not in set_up.content.body
    await core.poller.poll_once()
    assert picks_posts(chat) == [], "not before 09:00"

    at(clock, 9, 1)
    await core.poller.poll_once()
    (post,) = picks_posts(chat)
    assert post.tag == f"picks:{clock().date().isoformat()}"
    assert isinstance(post.content, PaperList) and post.content.title == "Today's picks for this channel"
    cards = post.content.cards
    assert len(cards) == 3 and sum(map(about_diffusion, cards)) >= 2, [c.paper.title for c in cards]
    assert all(c.why and "close to: “" in c.why for c in cards)
    assert [a.kind for a in cards[0].actions] == ["save", "vote", "downvote"]
    assert not {c.paper.id for c in cards} & {seed_id(i) for i in DIFFUSION}, "nothing it signalled"

    at(clock, 15)
    await core.poller.poll_once()
    assert picks_posts(chat) == [], "once a day"
    at(clock, 9, 5, days=1)
    await core.poller.poll_once()
    (tomorrow,) = picks_posts(chat)
    assert not {c.paper.id for c in tomorrow.content.cards} & {c.paper.id for c in cards}, "new papers each day"
    settings = await chat.push("settings", channel="lab")
    assert "Daily picks: 3 a day at 09:00 UTC" in settings.content.body

    assert "Picks off" in (await chat.push("picks off", channel="lab")).content.body
    at(clock, 9, 5, days=2)
    await core.poller.poll_once()
    assert picks_posts(chat) == []


async def test_picks_follow_the_digest_time_and_say_when_they_rank_by_upvotes(chat, core, clock):
    at(clock, 6)
    await chat.push("digest 07:30 Europe/Paris", channel="lab")  # 06:30 UTC in winter, 05:30 in summer
    await chat.push(f"vote {seed_id(0)}", channel="lab")
    reply = await chat.push("picks 2", channel="lab")
    assert "at 07:30 Europe/Paris" in reply.content.body
    assert "Until this channel has 3 👍 or saves (it has 1), they are ranked by upvotes." in reply.content.body
    at(clock, 7, days=1)
    await core.poller.poll_once()
    (post,) = picks_posts(chat)
    assert post.content.title == ("Today's picks for this channel (ranked by upvotes until this channel has 3 👍 "
                                  "or saves; it has 1)")
    upvotes = [c.paper.upvotes or 0 for c in post.content.cards]
    assert len(upvotes) == 2 and upvotes == sorted(upvotes, reverse=True)


async def test_picks_are_posted_once_across_a_crash_and_a_restart(chat, core, clock):
    at(clock, 8)
    await core.poller.poll_once()
    await like_diffusion(chat)
    await chat.push("picks 2", channel="lab")
    at(clock, 9, 1)
    await core.poller.poll_once(deliver=False)
    (entry,) = [e for e in await core.store.due_outbox(now=clock()) if e.tag.startswith("picks:")]
    # The process hands the picks over and dies before recording them.
    assert await core.store.claim_outbox(entry.id)
    channel = await core.store.get_channel(chat.channel("lab"))
    post, _ = await core.poller.worker._post(entry)
    await chat.send(channel.ref, post)
    assert len(picks_posts(chat)) == 1
    restarted = Poller(store=core.store, hf=core.hf, adapters=core.poller.adapters, clock=clock)
    report = await restarted.poll_once()
    assert report.picks == 0 and report.delivery.reconciled == 1 and picks_posts(chat) == []
    assert await core.store.outbox_counts(channel.id) == {"sent": 1}
    at(clock, 10)
    await restarted.poll_once()
    assert picks_posts(chat) == []


async def test_rank_interest_orders_the_digest_by_what_the_channel_likes(chat, core, clock, fake_hf):
    at(clock, 8)
    await core.poller.poll_once()
    await chat.push("subscribe widgets", channel="lab")
    await chat.push("digest 09:00 UTC 2", channel="lab")
    await like_diffusion(chat)
    not_allowed = await chat.push("rank interest", channel="lab", can_manage=False)
    assert isinstance(not_allowed.content, Error)
    reply = await chat.push("rank interest", channel="lab")
    assert "by this channel's interest" in reply.content.body
    assert "Digest order: interest" in (await chat.push("settings", channel="lab")).content.body
    papers = [("Unlearning widgets for language models", 100), ("Diffusion models of widgets", 1),
              ("Masked diffusion widgets: sampling faster", 2)]
    for n, (title, upvotes) in enumerate(papers):
        fake_hf.add(make_item(500 + n, title, "A study of widgets.", daily=clock().date(),
                              paper_id=f"2412.{500 + n:05d}", upvotes=upvotes))
    await core.poller.poll_once()
    at(clock, 9, 1)
    await core.poller.poll_once()
    (digest,) = [post for _, post in chat.pop_posts() if post.tag.startswith("digest:")]
    assert [c.paper.title for c in digest.content.cards] == [papers[2][0], papers[1][0]] or \
        [c.paper.title for c in digest.content.cards] == [papers[1][0], papers[2][0]]
    assert "(the top 2 of 3)" in digest.content.title and "upvotes" not in digest.content.title

    assert "Hugging Face upvotes" in (await chat.push("rank upvotes", channel="lab")).content.body
    usage = await chat.push("rank best", channel="lab")
    assert isinstance(usage.content, Error) and "rank interest" in usage.content.message
    assert isinstance((await chat.push("picks 11", channel="lab")).content, Error)
    assert isinstance((await chat.push("picks", channel="lab")).content, Error)
    assert isinstance((await chat.push("settings", channel="lab")).content, Text)
