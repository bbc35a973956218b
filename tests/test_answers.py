"""Answers that do not depend on history: OR search, `more`, stable topic numbers, `subscribe *`, dry runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapters.memory import MemoryAdapter
from bot.runtime.app import open_core
from bot.model.channels import Caller, ChannelRef, parse_command
from bot.delivery.dry_run import dry_run
from bot.model.replies import PaperCard, PaperList, Text
from bot.topics import parse_query
from paperboy_testing.seed import make_item

README_QUERY = '"model merging" OR unlearning -diffusion'


@pytest.fixture
def chat(core):
    adapter = MemoryAdapter(core.engine)
    core.poller.adapters[adapter.platform] = adapter
    return adapter


def ids(reply) -> list[str]:
    assert isinstance(reply.content, PaperList), reply.content
    return [card.paper.id for card in reply.content.cards]


async def all_pages(chat, first: str, **where) -> list[str]:
    """Run *first*, then `more` until the list is done; return every paper id shown, in order."""
    reply = await chat.push(first, **where)
    shown = ids(reply)
    while "more" in (reply.content.note or ""):
        reply = await chat.push("more", **where)
        shown += ids(reply)
    return shown


async def test_or_search_finds_both_branches_on_a_fresh_database(chat, fake_hf):
    found = await all_pages(chat, f"search {README_QUERY}")
    query = parse_query(README_QUERY)
    papers = {pid: fake_hf.items[pid]["paper"] for pid in found}
    merging = [p for p in papers.values() if "model merging" in (p["title"] + p["summary"]).lower()]
    unlearning = [p for p in papers.values() if "unlearning" in (p["title"] + p["summary"]).lower()]
    assert merging and unlearning, "each OR branch is searched upstream"
    assert not any("diffusion" in (p["title"] + p["summary"]).lower() for p in papers.values())
    searched = {r.query["q"] for r in fake_hf.requests if r.path == "/api/papers/search"}
    assert searched == {"model merging", "unlearning"}
    assert all(query.match(_paper(p)) for p in papers.values())


def _paper(raw: dict):
    from bot.model.paper import Paper

    return Paper(id=raw["id"], title=raw["title"], abstract=raw["summary"])


async def test_the_same_query_gives_the_same_answer_whatever_was_searched_before(settings, chat, clock):
    fresh = await all_pages(chat, f"search {README_QUERY}")
    other = settings.model_copy(update={"database": str(Path(settings.database).with_name("other.db"))})
    async with open_core(other, clock=clock) as core:
        elsewhere = MemoryAdapter(core.engine)
        await elsewhere.push('search "model merging"')
        await elsewhere.push("search unlearning")
        await elsewhere.push("trending 25")
        after = await all_pages(elsewhere, f"search {README_QUERY}")
    assert len(fresh) > 1
    assert after == fresh, "same papers, same order"


async def test_search_orders_by_strength_then_upvotes(chat, fake_hf, clock):
    today = clock().date()
    fake_hf.add(make_item(900, "Zebra crossings", "We study zebra models.", daily=today, paper_id="2411.00900",
                          upvotes=500))
    fake_hf.add(make_item(901, "Zebra zebra", "Zebra crossings.", daily=today,
                          paper_id="2411.00901", upvotes=1))
    fake_hf.add(make_item(902, "Stripes", "About zebra stripes.", daily=today, paper_id="2411.00902",
                          upvotes=400))
    reply = await chat.push("search zebra stripes OR zebra")
    # Both terms (one in the title) beat one; equal strength falls back to upvotes.
    assert ids(reply)[:3] == ["2411.00902", "2411.00900", "2411.00901"]


async def test_more_continues_a_long_list_per_caller_and_channel(chat, core):
    first = await chat.push("trending")
    assert "(1–10 of 50)" in first.content.title and "type 'more'" in first.content.note.lower()
    # Someone else, or the same person elsewhere, has no list waiting.
    other = await core.engine.handle(parse_command("more", caller=Caller("U2", "bob"), channel=chat.channel()))
    assert isinstance(other.content, Text) and "Nothing more" in other.content.body
    assert "Nothing more" in (await chat.push("more", channel="random")).content.body
    second = await chat.push("more")
    assert "(11–20 of 50)" in second.content.title and second.content.start == 11
    assert not set(ids(first)) & set(ids(second))
    everything = ids(first) + ids(second)
    while "more" in (page := await chat.push("more")).content.note:
        everything += ids(page)
    everything += ids(page)
    assert "that is all" in page.content.note.lower()
    assert len(everything) == len(set(everything)) == 50
    assert "Nothing more" in (await chat.push("more")).content.body


async def test_a_short_list_needs_no_more(chat):
    reply = await chat.push("trending 5")
    assert len(ids(reply)) == 5 and "(1–5 of 50)" in reply.content.title


async def test_topic_numbers_are_stable_and_unsubscribe_says_what_it_removed(chat):
    for query in ("alpha", "beta", "gamma", "delta"):
        await chat.push(f"subscribe {query}")
    removed = (await chat.push("unsubscribe 1")).content.body
    assert removed.startswith("Unsubscribed from topic 1: alpha.") and "3 topics" in removed
    assert (await chat.push("unsubscribe 3")).content.body.startswith("Unsubscribed from topic 3: gamma.")
    listing = (await chat.push("topics")).content.body
    assert [line.split("  ")[0] for line in listing.splitlines()] == ["2. beta", "4. delta"]
    missing = (await chat.push("unsubscribe 1")).content.message
    assert "no topic 1" in missing and "2. beta" in missing
    assert "topic 5" in (await chat.push("subscribe epsilon")).content.title


async def test_subscribe_star_follows_every_paper_over_the_threshold(chat, core, fake_hf, clock):
    await chat.push("threshold 50")
    reply = await chat.push("subscribe *")
    assert "Subscribed to * (topic 1)" in reply.content.title
    assert "every new paper with at least 50 upvotes" in reply.content.note
    await core.poller.poll_once()
    assert chat.pop_posts() == [], "the backlog is the baseline"
    today = clock().date()
    fake_hf.add(make_item(900, "Popular", "Anything at all.", daily=today, paper_id="2411.00900", upvotes=60))
    fake_hf.add(make_item(901, "Quiet", "Anything else.", daily=today, paper_id="2411.00901", upvotes=3))
    await core.poller.poll_once()
    (_, post), = chat.pop_posts()
    assert isinstance(post.content, PaperCard) and post.content.paper.id == "2411.00900"
    assert post.content.why == "every paper"
    assert "already follows *" in (await chat.push("subscribe  * ")).content.message


async def test_dry_run_sends_exactly_what_the_real_poll_sends(settings, core, fake_hf, clock, tmp_path):
    channels = [ChannelRef("console", "local", "console"), ChannelRef("slack", "T1", "C1"),
                ChannelRef("discord", "1", "2")]
    for ref in channels:
        await core.engine.handle(parse_command("subscribe flood OR merging", caller=Caller("U1", "ada"), channel=ref))
    await core.engine.handle(parse_command("digest 00:00 UTC 3", caller=Caller("U1", "ada"), channel=channels[2]))
    await core.poller.poll_once(deliver=False)
    today = clock().date()
    for n in range(14):  # more than the hourly cap of 10: a roll-up
        fake_hf.add(make_item(900 + n, f"Flood paper {n}", "Flood.", daily=today, paper_id=f"2411.{900 + n:05d}"))
    clock.advance(days=1)  # the digest is due
    real_db, trial_db = tmp_path / "real.db", tmp_path / "trial.db"
    await core.store.copy_to(real_db)
    shutil.copy(real_db, trial_db)

    async with open_core(settings.model_copy(update={"database": trial_db}), clock=clock) as trial:
        report, would_send = await dry_run(trial)
        assert await trial.store.outbox_counts() == await _counts(real_db, settings, clock)
    async with open_core(settings.model_copy(update={"database": real_db}), clock=clock) as real:
        recorders = {p: MemoryAdapter(platform=p) for p in ("console", "slack", "discord")}
        real.poller.adapters.update(recorders)
        await real.poller.poll_once()
        sent = sorted((str(ch), post.tag, post.paper_ids) for r in recorders.values() for ch, post in r.history)
    dry = sorted((str(w.channel), w.post.tag, w.post.paper_ids) for w in would_send)
    assert dry == sent
    kinds = {tag.split(":")[0] for _, tag, _ in sent}
    assert {"paper", "rollup", "digest"} <= kinds, kinds
    assert all("[dry run, not sent]" in w.describe() for w in would_send)


async def _counts(path, settings, clock) -> dict:
    async with open_core(settings.model_copy(update={"database": path}), clock=clock) as core:
        return await core.store.outbox_counts()


async def test_hugging_face_down_is_one_line_saying_why(settings, clock):
    from paperboy_testing.hf_server import FakeHuggingFace

    dead = FakeHuggingFace()
    url = await dead.start()
    await dead.stop()  # nothing listens there now: connections are refused
    async with open_core(settings.model_copy(update={"hf_api_url": url}), clock=clock) as core:
        chat = MemoryAdapter(core.engine)
        for command in ("trending", "today", "search merging"):
            reply = await chat.push(command)
            message = reply.content.message
            assert reply.private and "\n" not in message
            assert f"cannot reach Hugging Face at {url}: connection refused" in message, message
            assert message.count("Hugging Face") == 1 and "nothing is cached yet" in message


def test_transport_reasons_name_what_happened():
    import socket

    import httpx

    from bot.sources.http import transport_reason

    def caused(error: BaseException) -> httpx.ConnectError:
        wrapped = httpx.ConnectError(str(error))
        wrapped.__cause__ = error
        return wrapped

    assert transport_reason(caused(socket.gaierror(-2, "Name or service not known"))) == \
        "cannot resolve the host name"
    assert transport_reason(httpx.ConnectError("[Errno -3] Temporary failure in name resolution")) == \
        "cannot resolve the host name"
    assert transport_reason(caused(ConnectionRefusedError(111, "Connection refused"))) == "connection refused"
    assert transport_reason(httpx.ReadTimeout("slow")) == "timed out"


async def test_status_tells_a_current_error_from_a_past_one(chat, core, fake_hf, clock):
    fake_hf.failure_rate = 1.0
    await core.poller.poll_once()
    status = (await chat.push("status")).content.body
    assert "Current error (no successful poll since): Hugging Face" in status
    fake_hf.failure_rate = 0.0
    clock.advance(minutes=15)
    await core.poller.poll_once()
    status = (await chat.push("status")).content.body
    assert "Last error (past; a later poll succeeded): " in status


async def test_internal_errors_never_reach_the_user_as_usage_errors(chat, core, monkeypatch):
    async def broken(*args, **kwargs):
        raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")

    monkeypatch.setattr(core.store, "search_papers", broken)
    reply = await chat.push("search merging")
    assert reply.private and "Exceeds" not in reply.content.message and "Usage" not in reply.content.message
    assert "Something went wrong on Paperboy's side" in reply.content.message
    bad = await chat.push("digest 25:99")  # a deliberate usage error still says how to fix it
    assert "not a time of day" in bad.content.message and "Usage: digest" in bad.content.message
