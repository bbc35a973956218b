"""Acting on posts through the core, on both backends: buttons, clicks, live 👍 counts, threads, notify, weekly boards.

The memory adapter stands in for a platform with buttons, threads and files; the Slack and Discord
files run the same paths through the real libraries.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from adapters.memory import MemoryAdapter
from bot.model.actions import Action, action_id, parse_action_id
from bot.model.channels import Caller, Group
from bot.ports.adapter import BUTTONS, DeliveryResult, DeliveryStatus
from bot.model.replies import CardAction, Error, PaperCard, PaperList, Text
from tests.test_outbox import add_papers, chat, core, subscribed  # noqa: F401  (fixtures: both backends)


def labels(card: PaperCard) -> list[str]:
    return [action.label for action in card.actions]


async def posted_paper(chat, core, fake_hf, clock, *, channel: str = "general") -> tuple[str, str]:
    """Subscribe, let one paper arrive and be posted; return (paper id, message ref)."""
    await subscribed(chat, core, channel=channel)
    (paper_id,) = add_papers(fake_hf, clock, 1)
    await core.poller.poll_once()
    (sent,) = [post for _, post in chat.pop_posts() if post.tag == f"paper:{paper_id}"]
    return paper_id, f"m{len(chat.history)}"


async def test_a_post_carries_save_and_vote_buttons_only_where_the_platform_has_them(chat, core, fake_hf, clock):
    paper_id, _ = await posted_paper(chat, core, fake_hf, clock)
    (_, post), = [item for item in chat.history if item[1].tag == f"paper:{paper_id}"]
    assert post.content.actions == (CardAction("save", paper_id, "🔖 Save"), CardAction("vote", paper_id, "👍"),
                                    CardAction("downvote", paper_id, "👎"))
    assert parse_action_id(action_id(post.content.actions[1])) == ("vote", paper_id)

    plain = MemoryAdapter(core.engine, platform="plain", capabilities=frozenset())
    core.poller.adapters["plain"] = plain
    await plain.push("subscribe unlearn*")
    await core.poller.poll_once()
    add_papers(fake_hf, clock, 1, start=2)
    await core.poller.poll_once()
    assert plain.history and all(not p.content.actions for _, p in plain.history)


async def test_a_save_click_is_answered_privately_and_lands_on_the_reading_list(chat, core, fake_hf, clock):
    paper_id, ref = await posted_paper(chat, core, fake_hf, clock)
    reply = await chat.click("save", paper_id, message_ref=ref, user="U7")
    assert reply.private and "Saved" in reply.content.body
    listed = await chat.push("saved", user="U7")
    assert [c.paper.id for c in listed.content.cards] == [paper_id]
    assert not chat.edits, "a save changes no count on the post"


async def test_three_votes_show_as_three_on_the_edited_post_and_a_second_click_takes_one_back(
        chat, core, fake_hf, clock):
    paper_id, ref = await posted_paper(chat, core, fake_hf, clock)
    for user in ("U1", "U2", "U3"):
        reply = await chat.click("vote", paper_id, message_ref=ref, user=user)
        assert reply.private and isinstance(reply.content, Text)
    await core.poller.worker.drain()
    # The clicks came together: one edit, paced like every send, showing the count when it went out.
    assert [(r, labels(p.content)) for _, r, p in chat.edits] == [(ref, ["🔖 Save", "👍 3", "👎"])]

    again = await chat.click("vote", paper_id, message_ref=ref, user="U2")
    assert "Took back" in again.content.body and "(2 in this channel)" in again.content.body
    await core.poller.worker.drain()
    assert labels(chat.edits[-1][2].content) == ["🔖 Save", "👍 2", "👎"]
    channel = await core.store.get_channel(chat.channel())
    assert await core.store.vote_counts(channel.id, [paper_id]) == {paper_id: 2}


async def test_the_vote_command_updates_the_papers_post_in_that_channel(chat, core, fake_hf, clock):
    paper_id, ref = await posted_paper(chat, core, fake_hf, clock)
    await chat.push(f"vote {paper_id}", user="U9")
    await core.poller.worker.drain()
    assert [(r, labels(p.content)) for _, r, p in chat.edits] == [(ref, ["🔖 Save", "👍 1", "👎"])]


async def test_a_vote_on_a_digest_edits_the_whole_digest(chat, core, fake_hf, clock):
    await chat.push("subscribe unlearn*")
    await chat.push("digest 09:00 UTC 5")
    await core.poller.poll_once()
    ids = add_papers(fake_hf, clock, 3)
    await core.poller.poll_once()
    clock.advance(days=1)
    await core.poller.poll_once()
    (digest,) = [p for _, p in chat.history if p.tag.startswith("digest:")]
    ref = f"m{[p.tag for _, p in chat.history].index(digest.tag) + 1}"
    await chat.click("vote", ids[1], message_ref=ref)
    await core.poller.worker.drain()
    ((_, edited_ref, edited),) = chat.edits
    assert edited_ref == ref and isinstance(edited.content, PaperList)
    assert edited.content.title == digest.content.title
    assert {c.paper.id: labels(c)[1] for c in edited.content.cards} == {
        pid: ("👍 1" if pid == ids[1] else "👍") for pid in digest.paper_ids}


async def test_a_public_look_up_has_buttons_with_the_channels_counts_and_a_private_list_none(
        chat, core, fake_hf, clock):
    paper_id, ref = await posted_paper(chat, core, fake_hf, clock)
    await chat.click("vote", paper_id, message_ref=ref)
    shown = await chat.push(f"show {paper_id}")
    assert not shown.private and labels(shown.content) == ["🔖 Save", "👍 1", "👎"]
    await chat.push(f"save {paper_id}")
    assert all(not c.actions for c in (await chat.push("saved")).content.cards)


@pytest.mark.parametrize("kind,paper", [("launch", "2411.00001"), ("vote", "not an id"), ("save", "x" * 5000)])
async def test_a_strange_click_gets_one_private_line(chat, core, kind, paper):
    reply = await core.engine.act(Action(kind, paper, Caller("U1", "ada"), chat.channel(), "m1"))
    assert reply.private and isinstance(reply.content, Error)
    assert len(reply.content.message) < 300 and "Traceback" not in reply.content.message


async def test_threads_on_opens_one_thread_per_paper_post_with_the_abstract(chat, core, fake_hf, clock):
    assert "Threads on" in (await chat.push("threads on")).content.body
    paper_id, ref = await posted_paper(chat, core, fake_hf, clock)
    ((_, parent, opened),) = chat.threads
    assert parent == ref and opened.tag == f"thread:{paper_id}"
    assert opened.content.detail and opened.content.paper.id == paper_id
    await core.poller.poll_once()
    assert len(chat.threads) == 1 and [p.tag for _, p in chat.history].count(f"paper:{paper_id}") == 1
    assert "Threads: on" in (await chat.push("settings")).content.body

    await chat.push("threads off")
    add_papers(fake_hf, clock, 1, start=2)
    await core.poller.poll_once()
    assert len(chat.threads) == 1, "threads off: the next paper gets none"


async def test_a_thread_left_in_flight_by_a_crash_is_found_not_opened_twice(chat, core, fake_hf, clock):
    await chat.push("threads on")
    await subscribed(chat, core)
    ids = add_papers(fake_hf, clock, 2)
    await core.poller.poll_once(deliver=False)
    worker = core.poller.worker
    for _ in range(2):  # paper 1, then its thread, go out; the thread's send is never recorded
        (entry,) = [e for e in await core.store.due_outbox(now=clock()) if e.id == min(
            x.id for x in await core.store.due_outbox(now=clock()))]
        assert await core.store.claim_outbox(entry.id)
        channel = await core.store.get_channel_by_id(entry.channel_id)
        post, _ = await worker._post(entry, chat)
        if entry.kind == "paper":
            result = await chat.send(channel.ref, post)
            await core.store.mark_outbox_sent(entry.id, message_ref=result.message_ref, at=clock())
        else:
            fresh = [e for e in await core.store.outbox_in_state("sending") if e.id == entry.id][0]
            await chat.open_thread(channel.ref, fresh.target_ref, post)  # ...and the process dies here
    assert len(chat.threads) == 1
    await worker.drain()
    assert len(chat.threads) == 2, "paper 2's thread, and no second one for paper 1"
    assert sorted(p.tag for _, p in chat.history) == [f"paper:{ids[0]}", f"paper:{ids[1]}"]
    assert sorted(opened.tag for _, _, opened in chat.threads) == [f"thread:{ids[0]}", f"thread:{ids[1]}"]
    assert (await core.store.outbox_counts()).get("pending", 0) == 0


async def test_a_thread_whose_post_is_gone_is_given_up_without_pausing_the_channel(chat, core, fake_hf, clock):
    await chat.push("threads on")
    await subscribed(chat, core)
    add_papers(fake_hf, clock, 1)
    chat.results.extend([DeliveryResult(DeliveryStatus.SENT),
                         DeliveryResult(DeliveryStatus.PERMANENT, reason="message_not_found")])
    await core.poller.poll_once()
    channel = await core.store.get_channel(chat.channel())
    assert channel.paused_reason is None and not chat.threads
    assert (await core.store.outbox_counts()).get("dead") == 1
    add_papers(fake_hf, clock, 1, start=2)
    await core.poller.poll_once()
    assert len(chat.threads) == 1, "the channel goes on"


async def test_threads_need_a_platform_with_threads(core, fake_hf, clock):
    plain = MemoryAdapter(core.engine, platform="plain", capabilities=frozenset({BUTTONS}))
    core.poller.adapters["plain"] = plain
    reply = await plain.push("threads on")
    assert reply.private and "no threads" in reply.content.message
    assert "realtime" not in reply.content.message


async def test_a_notify_topic_mentions_its_group_and_no_other_post_does(chat, core, fake_hf, clock):
    group = Group("S0ML", "ml-team")
    reply = await chat.push("subscribe unlearn* notify @ml-team", groups=(group,))
    assert "mentions @ml-team" in reply.content.note
    await chat.push("subscribe diffusion")
    await core.poller.poll_once()
    add_papers(fake_hf, clock, 1)
    add_papers(fake_hf, clock, 1, start=2, title="Diffusion models")
    await core.poller.poll_once()
    mentions = {p.tag: p.mention for _, p in chat.history}
    assert mentions == {"paper:2411.00001": "S0ML", "paper:2411.00002": None}
    listed = (await chat.push("topics")).content.body
    assert "notifies @ml-team" in listed and "S0ML" not in listed
    # A 👍 edit keeps the post's text, mention included (an edit pings nobody again).
    ref = f"m{[p.tag for _, p in chat.history].index('paper:2411.00001') + 1}"
    await chat.click("vote", "2411.00001", message_ref=ref)
    await core.poller.worker.drain()
    assert [(r, p.mention) for _, r, p in chat.edits] == [(ref, "S0ML")]


async def test_notify_names_a_group_the_platform_resolved_and_needs_a_manager(chat, core):
    unknown = await chat.push("subscribe unlearn* notify @ml-team")
    assert unknown.private and "cannot tell which group @ml-team" in unknown.content.message
    refused = await chat.push("subscribe unlearn* notify @ml-team", can_manage=False, groups=(Group("S1", "ml-team"),))
    assert refused.private and "Only people who can manage" in refused.content.message
    # A query that merely contains the word is a query.
    plain = await chat.push("subscribe notify systems")
    assert "Subscribed to notify systems" in plain.content.title


async def test_a_weekly_leaderboard_is_posted_once_per_week_at_its_local_time(chat, core, fake_hf, clock):
    clock.now = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)  # a Monday
    paper_id, ref = await posted_paper(chat, core, fake_hf, clock)
    await chat.click("vote", paper_id, message_ref=ref, user="U2")
    reply = await chat.push("leaderboard weekly fri 17:00 Europe/Paris")
    assert "Next one: Fri 04 Dec 17:00 CET" in reply.content.body
    assert "Weekly leaderboard: fri 17:00 Europe/Paris" in (await chat.push("settings")).content.body
    chat.pop_posts()

    clock.now = datetime(2026, 12, 4, 15, 59, tzinfo=timezone.utc)
    await core.poller.poll_once()
    assert not [p for _, p in chat.pop_posts() if p.tag.startswith("leaderboard:")]
    clock.now += timedelta(minutes=2)  # 17:01 in Paris
    await core.poller.poll_once()
    await core.poller.poll_once()
    (board,) = [p for _, p in chat.pop_posts() if p.tag.startswith("leaderboard:")]
    assert board.tag == "leaderboard:2026-12-04" and [c.paper.id for c in board.content.cards] == [paper_id]
    assert board.content.cards[0].why == "👍 1"

    clock.now += timedelta(days=7)  # a week without a 👍: nothing to rank, nothing posted
    await core.poller.poll_once()
    assert not [p for _, p in chat.pop_posts() if p.tag.startswith("leaderboard:")]
    assert "off" in (await chat.push("leaderboard off")).content.body
    assert "Weekly leaderboard: off" in (await chat.push("settings")).content.body


async def test_a_schedule_set_after_this_weeks_time_waits_for_next_week(chat, core, fake_hf, clock):
    clock.now = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)  # a Saturday, after Friday's time
    paper_id, ref = await posted_paper(chat, core, fake_hf, clock)
    await chat.click("vote", paper_id, message_ref=ref)
    await chat.push("leaderboard weekly friday 17:00 UTC")
    await core.poller.poll_once()
    assert not [p for _, p in chat.pop_posts() if p.tag.startswith("leaderboard:")]


@pytest.mark.parametrize("text,words", [
    ("leaderboard weekly someday 17:00", "day of the week"),
    ("leaderboard weekly fri 25:00", "time of day"),
    ("leaderboard weekly fri 17:00 Mars/Olympus", "Mars/Olympus"),
    ("leaderboard weekly", "Say when"),
])
async def test_a_bad_weekly_leaderboard_is_one_usage_line(chat, core, text, words):
    reply = await chat.push(text)
    assert reply.private and isinstance(reply.content, Error) and words in reply.content.message


async def test_only_a_manager_schedules_the_leaderboard(chat, core):
    reply = await chat.push("leaderboard weekly fri 17:00", can_manage=False)
    assert reply.private and "manage this channel" in reply.content.message
    assert isinstance((await chat.push("leaderboard week", can_manage=False)).content, (Text, PaperList))
