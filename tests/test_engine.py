"""Every engine command, through a real SQLite file and real HTTP to the fake sources."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.commands.registry import COMMANDS
from bot.model.replies import Error, PaperCard, PaperList, Text
from adapters.memory import MemoryAdapter
from paperboy_testing.seed import make_item, seed_id, seed_items, seed_titles_and_abstracts

MERGING = "What Matters for Model Merging at Scale?"


@pytest.fixture
def core(any_core):
    """This file's tests run on SQLite and on Postgres."""
    return any_core


@pytest.fixture
def chat(core):
    return MemoryAdapter(core.engine)


def titles(reply) -> list[str]:
    assert isinstance(reply.content, PaperList), reply.content
    return [card.paper.title for card in reply.content.cards]


async def test_help_lists_every_command_privately(chat):
    reply = await chat.push("/papers help")
    assert reply.private and isinstance(reply.content, Text)
    for spec in COMMANDS.values():
        assert spec.usage in reply.content.body


async def test_empty_command_is_help_and_unknown_command_is_a_private_error(chat):
    assert isinstance((await chat.push("/papers")).content, Text)
    reply = await chat.push("frobnicate now")
    assert reply.private and isinstance(reply.content, Error)
    assert "frobnicate" in reply.content.message and "help" in reply.content.message


async def test_trending_returns_the_sources_order_and_count(chat, fake_hf):
    reply = await chat.push("/papers trending 5")
    expected = [fake_hf.items[i]["paper"]["title"] for i in fake_hf.trending_ids[:5]]
    assert titles(reply) == expected
    assert not reply.private


@pytest.mark.parametrize("arg", ["0", "26", "abc", "-3", "99999999999"])
async def test_trending_rejects_bad_counts(chat, arg):
    reply = await chat.push(f"trending {arg}")
    assert isinstance(reply.content, Error) and reply.private
    assert "1 to 25" in reply.content.message or "from 1 to 25" in reply.content.message


async def test_today_shows_that_days_papers_by_upvotes(chat, clock):
    day = clock().date()
    reply = await chat.push(f"today {day.isoformat()}")
    assert isinstance(reply.content, PaperList)
    papers = [c.paper for c in reply.content.cards]
    assert papers and all(p.daily_date == day for p in papers)
    assert [p.upvotes for p in papers] == sorted((p.upvotes for p in papers), reverse=True)


async def test_today_rejects_a_malformed_date(chat):
    reply = await chat.push("today 2026-13-45")
    assert isinstance(reply.content, Error)
    assert "YYYY-MM-DD" in reply.content.message


async def test_search_finds_by_phrase_and_explains(chat):
    reply = await chat.push('search "model merging"')
    assert MERGING in titles(reply)
    card = next(c for c in reply.content.cards if c.paper.title == MERGING)
    assert card.why and "model merging" in card.why.lower()


async def test_search_with_a_5000_character_query_is_a_clear_error(chat, fake_hf):
    before = len(fake_hf.requests)
    reply = await chat.push("search " + "a" * 5000)
    assert isinstance(reply.content, Error)
    assert "300" in reply.content.message
    assert len(fake_hf.requests) == before  # refused before any request


async def test_search_with_a_malformed_query_says_what_is_wrong(chat):
    reply = await chat.push('search "model merging')
    assert isinstance(reply.content, Error)
    assert "quote" in reply.content.message.lower()


@pytest.mark.parametrize("form", [
    "2403.10005", "2403.10005v2", "arXiv:2403.10005", "https://arxiv.org/abs/2403.10005v2",
    "https://arxiv.org/pdf/2403.10005", "https://huggingface.co/papers/2403.10005",
])
async def test_show_accepts_every_id_form(chat, form):
    reply = await chat.push(f"show {form}")
    assert isinstance(reply.content, PaperCard)
    assert reply.content.paper.id == "2403.10005"
    assert reply.content.paper.title == seed_titles_and_abstracts()[4][0]


async def test_show_with_a_malformed_id_is_a_clear_error(chat, fake_hf):
    reply = await chat.push("show not-a-paper")
    assert isinstance(reply.content, Error)
    assert "not an arXiv id" in reply.content.message


async def test_show_falls_back_to_arxiv_when_hugging_face_has_no_page(chat, fake_arxiv):
    fake_arxiv.entries["2401.00001"] = {"title": "An arXiv-only paper", "summary": "Only on arXiv.",
                                        "authors": ["Ada Lovelace"]}
    reply = await chat.push("show 2401.00001")
    assert isinstance(reply.content, PaperCard)
    assert reply.content.paper.source == "arxiv"
    assert reply.content.paper.title == "An arXiv-only paper"
    assert "arXiv" in (reply.content.note or "") and reply.content.why is None


async def test_show_unknown_everywhere_is_an_error(chat):
    reply = await chat.push("show 2401.99999")
    assert isinstance(reply.content, Error)
    assert "2401.99999" in reply.content.message


async def test_lookups_come_from_the_cache_when_the_source_is_down(chat, fake_hf, clock):
    assert titles(await chat.push("trending 3"))
    clock.advance(minutes=6)
    await fake_hf.stop()
    reply = await chat.push("trending 3")
    assert len(titles(reply)) == 3
    assert "cannot reach Hugging Face" in reply.content.note
    shown = await chat.push(f"show {seed_id(0)}")
    assert isinstance(shown.content, PaperCard) and shown.content.paper.id == seed_id(0)
    found = await chat.push("search unlearn*")
    assert titles(found), "local search works from the cache"


async def test_a_slow_source_is_answered_from_cache_within_the_deadline(chat, fake_hf, core, clock):
    await chat.push("trending 3")
    clock.advance(minutes=6)
    fake_hf.delay = 10
    started = time.monotonic()
    reply = await chat.push("trending 3")
    assert time.monotonic() - started < core.engine.lookups.answer_timeout + 1.5
    assert len(titles(reply)) == 3 and "no answer within" in reply.content.note


async def test_subscribe_shows_current_matches_and_topics_lists_it(chat):
    reply = await chat.push("subscribe unlearn*")
    assert isinstance(reply.content, PaperList)
    assert "topic 1" in reply.content.title
    assert any("Unlearning" in t for t in titles(reply))
    assert all(card.why for card in reply.content.cards)
    topics = await chat.push("topics")
    assert "1. unlearn*" in topics.content.body


async def test_subscribing_twice_to_the_same_topic_is_refused(chat):
    await chat.push("subscribe unlearn*")
    reply = await chat.push("subscribe  unlearn* ")
    assert isinstance(reply.content, Error) and "already" in reply.content.message


async def test_unsubscribe_by_number_text_and_label(chat):
    await chat.push('subscribe "model merging"')
    await chat.push("subscribe unlearn*")
    await chat.push("subscribe diffusion -image")
    assert "Unsubscribed" in (await chat.push("unsubscribe 2")).content.body
    assert "Unsubscribed" in (await chat.push('unsubscribe "model merging"')).content.body
    assert "Unsubscribed" in (await chat.push("unsubscribe 3. diffusion -image")).content.body
    assert "no topics" in (await chat.push("topics")).content.body.lower()


async def test_unsubscribe_unknown_topic_lists_the_real_ones(chat):
    await chat.push("subscribe unlearn*")
    reply = await chat.push("unsubscribe 7")
    assert isinstance(reply.content, Error) and "no topic 7" in reply.content.message
    reply = await chat.push("unsubscribe transformers")
    assert isinstance(reply.content, Error) and "unlearn*" in reply.content.message


@pytest.mark.parametrize("text", ["subscribe unlearn*", "unsubscribe 1", "digest 09:00", "realtime off",
                                  "threshold 5"])
async def test_managing_commands_need_permission(chat, text):
    reply = await chat.push(text, can_manage=False)
    assert isinstance(reply.content, Error) and reply.private
    assert "manage" in reply.content.message


async def test_lookups_need_no_permission(chat):
    reply = await chat.push("trending 2", can_manage=False)
    assert len(titles(reply)) == 2


async def test_digest_settings_and_errors(chat):
    reply = await chat.push("digest 9:00 europe/paris 3")
    assert "09:00 Europe/Paris" in reply.content.body and "top 3" in reply.content.body
    settings = await chat.push("settings")
    assert settings.private and "daily digest at 09:00 Europe/Paris, top 3" in settings.content.body
    for bad, words in [("digest 25:00", "time of day"), ("digest 09:00 Mars/Olympus", "time zone"),
                       ("digest 09:00 UTC 99", "1 to 25"), ("digest", "digest off")]:
        reply = await chat.push(bad)
        assert isinstance(reply.content, Error), bad
        assert words in reply.content.message, (bad, reply.content.message)
    await chat.push("digest off")
    assert "each paper as it appears" in (await chat.push("settings")).content.body


async def test_realtime_and_threshold(chat):
    assert "nothing is posted" in (await chat.push("realtime off")).content.body.lower()
    assert "off (no digest set)" in (await chat.push("settings")).content.body
    await chat.push("realtime on")
    await chat.push("threshold 10")
    assert "Minimum upvotes: 10" in (await chat.push("settings")).content.body
    assert isinstance((await chat.push("threshold -1")).content, Error)
    assert isinstance((await chat.push("realtime maybe")).content, Error)


async def test_preview_explains_each_match(chat):
    reply = await chat.push("preview diffusion -image -video")
    assert reply.private
    papers = [c.paper for c in reply.content.cards]
    assert papers
    for card in reply.content.cards:
        text = f"{card.paper.title} {card.paper.abstract}".lower()
        assert "image" not in text.split() and "video" not in text.split()
        assert "diffusion" in card.why


async def test_status_reports_polls_and_paused_channels(chat, core):
    reply = await chat.push("status")
    assert "never" in reply.content.body
    await core.poller.poll_once()
    assert "ago" in (await chat.push("status")).content.body
    channel = await core.store.ensure_channel(chat.channel("gone"))
    await core.store.update_channel(channel.id, paused_reason="Paperboy lost access (403)")
    assert "gone: Paperboy lost access (403)" in (await chat.push("status")).content.body


async def test_engine_survives_concurrent_commands(chat):
    texts = ["trending 3", "search unlearn*", "show 2403.10001", "today", "topics", "status"] * 5
    replies = await asyncio.gather(*(chat.push(t, user=f"U{n // 2}") for n, t in enumerate(texts)))
    assert not any(isinstance(r.content, Error) for r in replies)


async def test_a_new_paper_on_the_fake_is_found(chat, fake_hf, clock):
    fake_hf.add(make_item(500, "Model merging for everyone", "We merge models.", daily=clock().date(),
                          paper_id="2411.00500", upvotes=999))
    reply = await chat.push("trending 1")
    assert titles(reply) == ["Model merging for everyone"]
    assert len(seed_items()) == 92


async def test_resume_turns_a_paused_channel_back_on(chat, core):
    assert "not paused" in (await chat.push("resume")).content.body
    channel = await core.store.ensure_channel(chat.channel())
    await core.store.update_channel(channel.id, paused_reason="Paperboy lost access (403)")
    assert isinstance((await chat.push("resume", can_manage=False)).content, Error)
    reply = await chat.push("resume")
    assert "lost access (403)" in reply.content.body
    assert (await core.store.get_channel(chat.channel())).paused_reason is None


async def test_a_fresh_trending_list_answers_without_asking_the_source(chat, fake_hf, clock):
    await chat.push("trending 3")
    asked = len(fake_hf.requests)
    clock.advance(minutes=4)
    assert len(titles(await chat.push("trending 3"))) == 3
    assert len(fake_hf.requests) == asked
    clock.advance(minutes=2)
    await chat.push("trending 3")
    assert len(fake_hf.requests) == asked + 1


async def test_a_crowd_asking_at_once_costs_the_source_one_request(chat, fake_hf):
    fake_hf.delay = 0.5
    replies = await asyncio.gather(*(chat.push("show 2403.10007", user=f"U{n}") for n in range(30)))
    assert all(isinstance(r.content, PaperCard) for r in replies)
    assert fake_hf.paths().count("/api/papers/2403.10007") == 1
