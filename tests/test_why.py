"""`why <paper>` through the engine, one test per branch, on SQLite and on Postgres; `log` paging; bad input.

Every answer comes from the real state the poller and the delivery worker left behind: papers come
from the fake Hugging Face and arXiv servers, posts go to the memory chat, failures are scripted
delivery results.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from bot.ports.adapter import DeliveryResult, DeliveryStatus
from bot.model.replies import Error, Text
from bot.topics import parse_query
from bot.topics.misses import explain_miss
from bot.model.paper import Paper
from bot.delivery.worker import MAX_ATTEMPTS
from tests.fakes.seed import make_item
from tests.test_engine import chat, core  # noqa: F401  (fixtures: both backends, a memory chat)


@pytest.fixture
def posting(chat, core):  # noqa: F811
    """The memory chat, registered with the poller so its posts are delivered (and recorded as sent)."""
    core.poller.adapters[chat.platform] = chat
    return chat


def add(fake_hf, clock, n: int, title: str = "Zorblax ranking", upvotes: int | None = None) -> str:
    paper_id = f"2411.{n:05d}"
    fake_hf.add(make_item(n, f"{title} {n}", "A study of ranking.", daily=clock().date(), paper_id=paper_id,
                          upvotes=upvotes if upvotes is not None else 100 + n))
    return paper_id


async def why(chat, paper_id: str) -> str:
    reply = await chat.push(f"why {paper_id}")
    assert reply.private and isinstance(reply.content, Text), reply.content
    return reply.content.body


async def subscribed(chat, core, query: str = "zorblax") -> None:
    await chat.push(f"subscribe {query}")
    await core.poller.poll_once()  # the topic's baseline: what the lists hold now


async def test_posted_says_when_how_which_topic_and_why(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    paper_id = add(fake_hf, clock, 101)
    await core.poller.poll_once()
    assert [post.paper_ids for _, post in posting.pop_posts()] == [(paper_id,)]
    body = await why(posting, paper_id)
    assert body.splitlines()[0] == f"Why {paper_id} “Zorblax ranking 101” in this channel:"
    assert f"Matched topic 1 “zorblax” on {clock():%Y-%m-%d}: zorblax in title" in body
    assert f"Posted here {clock():%Y-%m-%d %H:%M} UTC as a realtime post of its own." in body


async def test_baseline_names_the_day(posting, core, fake_hf, clock):
    paper_id = add(fake_hf, clock, 102)
    await subscribed(posting, core)
    body = await why(posting, paper_id)
    assert f"Baseline: it was already listed on {clock():%Y-%m-%d}" in body and "never posted" in body


async def test_not_yet_seen_names_the_lists_and_categories_followed(posting, core, fake_hf, clock):
    core.arxiv._min_interval = 0.0  # the fake arXiv needs no 3 s between the category read and the look-up
    await subscribed(posting, core, "zorblax OR cat:cs.CL")
    body = await why(posting, "2411.09999")
    assert "Not yet seen: no source Paperboy reads has listed it." in body
    assert "No paper 2411.09999 on Hugging Face Papers or arXiv." in body
    assert f"Hugging Face's trending list (last read {clock():%Y-%m-%d %H:%M} UTC)" in body
    assert "arXiv's cs.CL (last read" in body


async def test_a_paper_only_on_arxiv_in_an_unfollowed_category(posting, core, fake_arxiv, clock):
    await subscribed(posting, core)
    fake_arxiv.add("2411.08888", title="Galaxy spectra", published="2026-11-30T00:00:00Z",
                   categories=["astro-ph.GA"])
    body = await why(posting, "2411.08888")
    assert "only on arXiv (not on Hugging Face Papers), in astro-ph.GA" in body
    assert "cat:astro-ph.GA would" in body


async def test_no_topic_matches_says_what_failed_for_each_topic(posting, core, fake_hf, clock):
    await posting.push('subscribe "model merging"')
    await posting.push("subscribe zorblax upvotes:>=500")
    await core.poller.poll_once()
    paper_id = add(fake_hf, clock, 103, upvotes=12)
    await core.poller.poll_once()
    body = await why(posting, paper_id)
    assert "Seen: in Hugging Face's trending list now" in body
    assert "No topic matches:" in body
    assert '1. "model merging": "model merging" not in title, abstract or keywords' in body
    assert "2. zorblax upvotes:>=500: upvotes 12 < 500" in body


async def test_held_below_the_threshold(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    await posting.push("threshold 500")
    paper_id = add(fake_hf, clock, 104, upvotes=120)
    await core.poller.poll_once()
    body = await why(posting, paper_id)
    assert "Matches topic 1 “zorblax”: zorblax in title" in body
    assert "Held: it has 120 upvotes, below this channel's threshold of 500" in body


async def test_waiting_for_the_digest_then_left_out_of_it(posting, core, fake_hf, clock):
    clock.now = datetime(2026, 12, 7, 6, 0, tzinfo=timezone.utc)
    await subscribed(posting, core)
    await posting.push("digest 09:00 UTC top 1")
    low, high = add(fake_hf, clock, 105, upvotes=10), add(fake_hf, clock, 106, upvotes=90)
    await core.poller.poll_once()
    body = await why(posting, low)
    assert "Held: waiting for the digest at 2026-12-07 09:00 UTC" in body and "top 1 by upvotes" in body
    clock.now = datetime(2026, 12, 7, 9, 1, tzinfo=timezone.utc)
    await core.poller.poll_once()
    assert "Held: left out of the digest of 2026-12-07, which takes only the top 1" in await why(posting, low)
    assert "as part of the digest “Paperboy digest for Mon 07 Dec: 1 new paper" in await why(posting, high)


async def test_rolled_up_by_the_hourly_cap_then_posted(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    core.poller.max_posts_per_hour = 1
    ids = [add(fake_hf, clock, n) for n in (107, 108, 109)]
    await core.poller.poll_once(deliver=False)
    rolled = [pid for pid in ids if "roll-up" in await why(posting, pid)]
    assert len(rolled) == 2
    body = await why(posting, rolled[0])
    assert "Held: folded into a roll-up by the hourly cap on single posts" in body
    assert "Queued: pending since" in body and "0 failed attempts" in body
    await core.poller.worker.drain()
    assert "as part of a roll-up (the hourly cap on single posts had been reached)" in await why(posting, rolled[0])


async def test_queued_with_attempts_and_the_last_error_then_dead(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    paper_id = add(fake_hf, clock, 110)
    posting.results.extend([DeliveryResult(DeliveryStatus.TRANSIENT, reason="HTTP 502")] * MAX_ATTEMPTS)
    await core.poller.poll_once()
    body = await why(posting, paper_id)
    assert "Queued: pending since" in body and "(1 failed attempt; last error: HTTP 502; next try" in body
    for _ in range(MAX_ATTEMPTS):
        clock.advance(hours=2)
        await core.poller.worker.drain()
    assert f"Given up (dead) after {MAX_ATTEMPTS} failed attempts: HTTP 502." in await why(posting, paper_id)


async def test_a_paused_channel_says_why_and_resume(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    paper_id = add(fake_hf, clock, 111)
    posting.results.append(DeliveryResult(DeliveryStatus.PERMANENT, reason="channel_not_found"))
    await core.poller.poll_once()
    body = await why(posting, paper_id)
    assert "Paused: this channel is paused (channel_not_found)" in body and "'resume'" in body


async def test_rank_interest_gives_the_rank_and_how(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    await posting.push("rank interest")
    low, high = add(fake_hf, clock, 112, upvotes=5), add(fake_hf, clock, 113, upvotes=900)
    await core.poller.poll_once()
    body = await why(posting, high)
    assert "Rank: 1 of " in body and "candidates now. Ranked by upvotes until this channel has 3" in body
    assert "Rank: 1 of " not in await why(posting, low)


async def test_log_pages_with_more(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    core.poller.max_posts_per_hour = 100
    for n in range(120, 145):
        add(fake_hf, clock, n)
    await core.poller.poll_once()
    posted = [post.paper_ids[0] for _, post in posting.pop_posts()]
    first = await posting.push("log 25")
    assert first.private and first.content.title == "This channel's deliveries, newest first (1–10 of 25)"
    lines = first.content.body.splitlines()
    assert len(lines) == 11 and lines[-1] == "Type 'more' for the next 10."
    assert f" · post · {posted[-1]} “" in lines[0] and lines[0].endswith(" · sent")  # the newest first
    second = await posting.push("more")
    assert second.private and second.content.title.endswith("(11–20 of 25)")
    third = await posting.push("more")
    assert third.content.title.endswith("(21–25 of 25)") and third.content.body.endswith("That is all.")
    assert "Nothing more to show" in (await posting.push("more")).content.body
    default = await posting.push("log")
    assert default.content.title.endswith("(1–10 of 10)") and len(default.content.body.splitlines()) == 10


async def test_log_shows_a_failure_and_its_reason(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    add(fake_hf, clock, 150)
    posting.results.append(DeliveryResult(DeliveryStatus.TRANSIENT, reason="HTTP 502"))
    await core.poller.poll_once()
    (line,) = (await posting.push("log")).content.body.splitlines()
    assert "· post · 2411.00150 “Zorblax ranking 150” · pending, 1 failed attempt, last error: HTTP 502" in line


async def test_an_empty_log(posting):
    reply = await posting.push("log", channel="quiet")
    assert reply.private and reply.content.body == "Nothing has been posted or queued in this channel yet."


@pytest.mark.parametrize("text", ["why", "why not-a-paper", "why " + "x" * 5000, "log abc", "log 51",
                                  "log " + "9" * 5000])
async def test_bad_input_is_one_private_line(posting, text):
    reply = await posting.push(text)
    assert reply.private and isinstance(reply.content, Error), reply.content
    message = reply.content.message
    assert message.count("\n") == 1 and message.splitlines()[1].startswith("Usage: ")  # one line, then usage
    assert len(message) < 300 and "Traceback" not in message


def test_each_failed_part_of_a_topic_in_words():
    paper = Paper(id="2401.00001", title="Sparse experts", abstract="We study diffusion models.", upvotes=12,
                  categories=("cs.LG",))
    said = {q: explain_miss(parse_query(q), paper) for q in (
        '"model merging"', "upvotes:>=20", "cat:cs.CL", "experts -diffusion", "merging OR unlearning",
        "has:code", "experts", "title:diffusion")}
    assert said == {
        '"model merging"': '"model merging" not in title, abstract or keywords',
        "upvotes:>=20": "upvotes 12 < 20",
        "cat:cs.CL": "cat:cs.CL but its categories are cs.LG",
        "experts -diffusion": "excluded -diffusion: diffusion in abstract",
        "merging OR unlearning": "no alternative passes: merging not in title, abstract or keywords | "
                                 "unlearning not in title, abstract or keywords",
        "has:code": "has:code but it links no code",
        "experts": None,
        "title:diffusion": "diffusion not in title",
    }
    unknown = Paper(id="2401.00002", title="Sparse experts")
    assert explain_miss(parse_query("cat:cs.CL"), unknown) == (
        "cat:cs.CL but its arXiv categories are unknown (Hugging Face does not give them)")
    assert explain_miss(parse_query("upvotes:>=5"), unknown) == "upvotes:>=5 but its upvotes are unknown"


async def test_a_post_on_discord_links_to_its_message(core, fake_hf, clock):  # noqa: F811
    from pydantic import SecretStr

    from adapters.discord.adapter import DiscordAdapter
    from adapters.memory import MemoryAdapter
    from bot.model.channels import ChannelRef

    chat = MemoryAdapter(core.engine, platform="discord")  # delivers as Discord would, message refs m1, m2…
    core.platforms.add(chat)
    await subscribed(chat, core)
    paper_id = add(fake_hf, clock, 160)
    await core.poller.poll_once()
    discord = DiscordAdapter(core.settings.model_copy(update={"discord_token": SecretStr("t")}), core.engine)
    core.platforms.add(discord)  # not started: only asked for links
    body = await why(chat, paper_id)
    assert "as a realtime post of its own: https://discord.com/channels/team/general/m1" in body
    assert discord.message_link(ChannelRef("discord", "dm", "55"), "66") == "https://discord.com/channels/@me/55/66"


async def test_a_new_topic_waits_for_its_baseline(posting, core, fake_hf, clock):
    await posting.push("trending")  # the lists as Paperboy last read them
    paper_id = add(fake_hf, clock, 170)
    down = {"on": True}
    fake_hf.fail_next(*["500"] * 30, when=lambda request: down["on"])
    await posting.push("subscribe zorblax")  # the lists cannot be read: the baseline waits for a poll
    down["on"] = False
    body = await why(posting, paper_id)
    assert "Matches topic 1 “zorblax”" in body and "Topic 1 is new: its baseline" in body


async def test_listed_and_matched_but_not_polled_yet(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    polled = clock()
    paper_id = add(fake_hf, clock, 171)
    assert "Not queued: it is not in the lists as Paperboy last read them" in await why(posting, paper_id)
    clock.advance(minutes=10)
    await posting.push("trending")  # the look-up reads the list again, and keeps it; the poller has not run
    body = await why(posting, paper_id)
    assert "Seen: in Hugging Face's trending list now" in body
    assert f"Not handled yet: the next poll queues it (last successful poll {polled:%Y-%m-%d %H:%M} UTC)" in body


async def test_picks_and_the_weekly_leaderboard_are_how_it_was_posted(posting, core, fake_hf, clock):
    clock.now = datetime(2026, 12, 7, 6, 0, tzinfo=timezone.utc)  # a Monday
    await subscribed(posting, core, "nothing-matches-this")
    await posting.push("picks 1")
    await posting.push("leaderboard weekly mon 10:00 UTC")
    paper_id = add(fake_hf, clock, 172, upvotes=5000)  # the best candidate by upvotes
    await core.poller.poll_once()
    clock.now = datetime(2026, 12, 7, 9, 1, tzinfo=timezone.utc)
    await core.poller.poll_once()
    await posting.push(f"vote {paper_id}")
    clock.now = datetime(2026, 12, 7, 10, 1, tzinfo=timezone.utc)
    await core.poller.poll_once()
    body = await why(posting, paper_id)
    assert "Picked for this channel by its interest." in body
    assert "Posted here 2026-12-07 09:01 UTC as one of the day's picks." in body
    assert "Also in the weekly leaderboard posted 2026-12-07 10:01 UTC." in body
    assert "Rank: 1 of " in body  # picks on: its rank among the candidates now


async def test_a_trained_channel_gives_the_score(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    await posting.push("rank interest")
    liked = [add(fake_hf, clock, n) for n in (180, 181, 182)]
    await core.poller.poll_once()
    for paper_id in liked:
        await posting.push(f"vote {paper_id}")
    fake_hf.add(make_item(183, "Zorblax ranking again", "A study of ranking.", daily=clock().date(),
                          paper_id="2411.00183"))
    body = await why(posting, "2411.00183")
    assert re.search(r"Rank: \d+ of \d+ among this channel's candidates now, score -?\d+\.\d{3} by its interest "
                     r"model\.", body), body


async def test_a_removed_topic_is_named_as_such(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    paper_id = add(fake_hf, clock, 190)
    await core.poller.poll_once()
    await posting.push("unsubscribe 1")
    body = await why(posting, paper_id)
    assert f"Matched a topic since removed on {clock():%Y-%m-%d}: zorblax in title" in body
    assert "as a realtime post of its own" in body and "Picked" not in body


async def test_a_post_being_sent(posting, core, fake_hf, clock):
    await subscribed(posting, core)
    paper_id = add(fake_hf, clock, 191)
    await core.poller.poll_once(deliver=False)
    (entry,) = await core.store.due_outbox(now=clock())
    assert await core.store.claim_outbox(entry.id)  # handed to the platform, not settled (as after a crash)
    body = await why(posting, paper_id)
    assert "Queued: being sent since" in body and "checks the channel before sending it again" in body
