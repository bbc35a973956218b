"""The storage contract, run against both backends (a real SQLite file, a real Postgres database):
papers and search, channels and topics, the delivery ledger, state. SQLite's own details are at the top."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model.channels import ChannelRef
from bot.model.paper import Paper
from bot.model.rows import Settlement
from storage.sqlite import Channel, Store
from storage.sqlite.versions import migrations
from storage.sqlite.papers import fts_query
from paperboy_testing.seed import seed_id, seed_titles_and_abstracts

T0 = datetime(2024, 3, 14, 9, 0, tzinfo=timezone.utc)
REF = ChannelRef(platform="discord", workspace="guild-1", channel="chan-1")
OTHER = ChannelRef(platform="slack", workspace="T1", channel="C1")


@pytest.fixture
async def sqlite_store(tmp_path):
    store = await Store.open(tmp_path / "paperboy.db")
    yield store
    await store.close()


@pytest.fixture
def store(any_store):
    """Every test below that takes `store` runs once on SQLite and once on Postgres."""
    return any_store


def seed_papers() -> list[Paper]:
    return [
        Paper(id=seed_id(i), title=title, abstract=abstract, daily_date=date(2024, 3, 1) + timedelta(days=i % 5))
        for i, (title, abstract) in enumerate(seed_titles_and_abstracts())
    ]


def full_paper(**overrides) -> Paper:
    fields = dict(
        id="2403.10001",
        title="Model Merging at Scale",
        authors=("Graham Neubig", "Zoë Kravitz-Müller"),
        abstract="We merge models.",
        ai_summary="Merging works.",
        ai_keywords=("model merging", "LLM"),
        upvotes=42,
        comments=3,
        github_repo="https://github.com/x/y",
        github_stars=100,
        project_page="https://x.github.io",
        organization="acme",
        published_at=T0 - timedelta(days=2),
        daily_date=date(2024, 3, 14),
        thumbnail="https://cdn/x.png",
        source="huggingface",
    )
    return Paper(**(fields | overrides))


def ids(papers) -> list[str]:
    return [p.id for p in papers]


# --- opening ---------------------------------------------------------------------------------------


async def test_open_turns_on_wal_and_foreign_keys(tmp_path, sqlite_store):
    with sqlite3.connect(tmp_path / "paperboy.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(sqlite3.IntegrityError):
        await sqlite_store.add_topic(999, "llm", "u1", at=T0)  # no channel 999: the foreign key must refuse


async def test_data_survives_close_and_reopen(tmp_path):
    async with await Store.open(tmp_path / "p.db") as store:
        await store.save_papers([full_paper()])
        channel = await store.ensure_channel(REF)
    async with await Store.open(tmp_path / "p.db") as store:
        assert await store.get_paper("2403.10001") == full_paper()
        assert await store.get_channel(REF) == channel


async def test_naive_datetimes_are_refused(store):
    channel = await store.ensure_channel(REF)
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.add_topic(channel.id, "llm", "u1", at=datetime(2024, 3, 14, 9, 0))


# --- papers ----------------------------------------------------------------------------------------


async def test_save_and_get_papers_round_trip_every_field(store):
    paper = full_paper()
    other = Paper(id="hep-th/9901001", title="Strings", source="arxiv")
    await store.save_papers([paper, other])
    assert await store.get_paper(paper.id) == paper
    assert await store.get_paper("2403.99999") is None
    assert await store.get_papers([paper.id, other.id, "2403.99999"]) == {paper.id: paper, other.id: other}
    assert await store.get_papers([]) == {}


async def test_save_papers_never_erases_known_fields(store):
    await store.save_papers([full_paper()])
    arxiv_only = Paper(id="2403.10001", title="Model Merging at Scale (v2)", abstract="Longer abstract.",
                       authors=("Graham Neubig",), source="arxiv")
    await store.save_papers([arxiv_only])
    merged = await store.get_paper("2403.10001")
    assert merged == full_paper(title="Model Merging at Scale (v2)", abstract="Longer abstract.",
                                authors=("Graham Neubig",))
    assert merged.source == "huggingface" and merged.url == merged.hf_url


async def test_save_papers_newer_values_win_including_zero(store):
    await store.save_papers([full_paper()])
    await store.save_papers([full_paper(upvotes=0, github_stars=250, ai_summary=None, ai_keywords=())])
    paper = await store.get_paper("2403.10001")
    assert (paper.upvotes, paper.github_stars) == (0, 250)
    assert (paper.ai_summary, paper.ai_keywords) == ("Merging works.", ("model merging", "LLM"))


async def test_save_papers_merges_duplicates_within_one_batch(store):
    await store.save_papers([
        Paper(id="2403.20000", title="T", upvotes=5),
        Paper(id="2403.20000", title="T", ai_summary="S"),
    ])
    paper = await store.get_paper("2403.20000")
    assert (paper.upvotes, paper.ai_summary) == (5, "S")


async def test_an_arxiv_record_upgrades_to_hugging_face(store):
    await store.save_papers([Paper(id="2403.20000", title="T", source="arxiv")])
    await store.save_papers([Paper(id="2403.20000", title="T", upvotes=7, source="huggingface")])
    assert (await store.get_paper("2403.20000")).source == "huggingface"


async def test_concurrent_saves_of_one_paper_lose_nothing(store):
    parts = [
        Paper(id="2403.10001", title="T", upvotes=1),
        Paper(id="2403.10001", title="T", ai_summary="S"),
        Paper(id="2403.10001", title="T", github_repo="https://github.com/a/b"),
        Paper(id="2403.10001", title="T", organization="org"),
        Paper(id="2403.10001", title="T", comments=9),
    ]
    await asyncio.gather(*(store.save_papers([p]) for p in parts * 4))
    paper = await store.get_paper("2403.10001")
    assert (paper.upvotes, paper.ai_summary, paper.github_repo, paper.organization, paper.comments) == (
        1, "S", "https://github.com/a/b", "org", 9)


async def test_papers_since_filters_and_orders_newest_day_first(store):
    await store.save_papers([
        Paper(id="2403.00001", title="a", daily_date=date(2024, 3, 10), upvotes=1),
        Paper(id="2403.00002", title="b", daily_date=date(2024, 3, 12), upvotes=1),
        Paper(id="2403.00003", title="c", daily_date=date(2024, 3, 12), upvotes=9),
        Paper(id="2403.00004", title="d", daily_date=date(2024, 3, 11)),
        Paper(id="2403.00005", title="e"),  # never on Daily Papers
    ])
    assert ids(await store.papers_since(date(2024, 3, 11))) == ["2403.00003", "2403.00002", "2403.00004"]
    assert await store.papers_since(date(2024, 3, 13)) == []


async def test_lists_keep_order_and_time_and_replace(store):
    papers = seed_papers()[:5]
    await store.save_papers(papers)
    assert await store.get_list("trending") == ([], None)
    order = [papers[3].id, papers[0].id, "2403.99999", papers[4].id]  # an uncached id is left out
    await store.save_list("trending", order, at=T0)
    listed, saved_at = await store.get_list("trending")
    assert ids(listed) == [papers[3].id, papers[0].id, papers[4].id]
    assert saved_at == T0
    await store.save_list("trending", [], at=T0 + timedelta(hours=1))
    assert await store.get_list("trending") == ([], T0 + timedelta(hours=1))
    assert await store.get_list("daily") == ([], None)


# --- search ----------------------------------------------------------------------------------------


async def test_search_phrase_ranks_title_hits_first(store):
    await store.save_papers(seed_papers())
    found = await store.search_papers(['"model merging"'])
    assert set(ids(found[:2])) == {seed_id(54), seed_id(90)}
    for paper in found:
        text = f"{paper.title} {paper.abstract}".lower()
        assert "model" in text and "merg" in text


async def test_search_folds_plurals_accents_and_case(store):
    await store.save_papers([
        Paper(id="2403.00001", title="A single model", authors=("Zoë Kravitz-Müller",)),
        Paper(id="2403.00002", title="Many MODELS", abstract="Café au lait"),
        Paper(id="2403.00003", title="Unrelated"),
    ])
    assert set(ids(await store.search_papers(["models"]))) == {"2403.00001", "2403.00002"}
    assert ids(await store.search_papers(["zoe"])) == ["2403.00001"]
    assert ids(await store.search_papers(["muller"])) == ["2403.00001"]
    assert ids(await store.search_papers(["cafe"])) == ["2403.00002"]
    assert ids(await store.search_papers(["Zoë"])) == ["2403.00001"]


async def test_search_prefix_and_any_of_terms(store):
    await store.save_papers(seed_papers())
    unlearn = set(ids(await store.search_papers(["unlearn*"])))
    assert {seed_id(13), seed_id(30), seed_id(32), seed_id(41), seed_id(68), seed_id(72)} <= unlearn
    assert seed_id(0) not in unlearn
    either = set(ids(await store.search_papers(["unlearn*", "boltzmann"])))
    assert either == unlearn | {seed_id(34)}


async def test_search_covers_keywords_summary_and_authors(store):
    await store.save_papers([Paper(id="2403.00001", title="T", ai_keywords=("zebrafish",),
                                   ai_summary="quokka study", authors=("Percy Liang",))])
    for term in ("zebrafish", "quokka", "liang"):
        assert ids(await store.search_papers([term])) == ["2403.00001"]


async def test_search_limit_and_empty_terms(store):
    await store.save_papers(seed_papers())
    assert len(await store.search_papers(["model"], limit=3)) == 3
    assert await store.search_papers([]) == []
    assert await store.search_papers(["", "  ", "*", '""']) == []


async def test_search_index_follows_updates(store):
    await store.save_papers([Paper(id="2403.00001", title="Old walrus title")])
    await store.save_papers([Paper(id="2403.00001", title="New narwhal title")])
    assert await store.search_papers(["walrus"]) == []
    assert ids(await store.search_papers(["narwhal"])) == ["2403.00001"]


HOSTILE = [
    '"', '""', '"""', "*", "**", "^", "^model", "model^", "NEAR", "NEAR(model merging, 2)", "AND", "OR", "NOT",
    "model AND", "(", ")", "(model", "model)", "title:model", "-model", "+model", "model OR", '"model',
    "model\"merging", "'; DROP TABLE papers; --", "\x00", "🙂", "模型", "a" * 5000, " ".join(["model"] * 1000),
    "{title abstract}: model", "col:", ":", "model*merging", "*model",
]


async def test_hostile_terms_never_raise(store):
    await store.save_papers(seed_papers())
    for term in HOSTILE:
        assert isinstance(await store.search_papers([term]), list), term
    assert isinstance(await store.search_papers(HOSTILE), list)
    # Operators are just words: NEAR(...) is the phrase "near model merging 2", OR is the word "or".
    assert await store.search_papers(["NEAR(model merging, 2)"]) == []
    either = await store.search_papers(["OR"])
    assert either and all(re.search(r"\bor\b", f"{p.title} {p.abstract}", re.I) for p in either)
    assert len(await store.get_papers([seed_id(0)])) == 1  # and the table is still there


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=6))
def test_any_text_makes_a_valid_fts_query(terms):
    with sqlite3.connect(":memory:") as conn:
        for migration in migrations():
            conn.executescript(migration.sql)
        query = fts_query(terms)
        if query:
            conn.execute("SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?", (query,)).fetchall()


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


# --- delivery ledger -------------------------------------------------------------------------------


async def test_baseline_counts_new_rows_only(store):
    channel = await store.ensure_channel(REF)
    assert await store.record_baseline(channel.id, ["p1", "p2", "p1"], at=T0) == 2
    assert await store.record_baseline(channel.id, iter(["p2", "p3"]), at=T0) == 1
    assert await store.record_baseline(channel.id, [], at=T0) == 0
    assert await store.ledger_paper_ids(channel.id) == {"p1", "p2", "p3"}
    assert await store.delivery_counts(channel.id) == {"baseline": 3}


async def test_one_ledger_row_per_channel_and_paper(store):
    channel = await store.ensure_channel(REF)
    other = await store.ensure_channel(OTHER)
    topic = await store.add_topic(channel.id, "llm", "u", at=T0)
    assert await store.enqueue(channel.id, "p1", state="queued", why="matches llm", topic_id=topic.id, at=T0)
    assert not await store.enqueue(channel.id, "p1", state="queued", why=None, topic_id=None, at=T0)
    assert await store.enqueue_posts(channel.id, [("p1", None, None)], at=T0, max_per_hour=10) == []
    assert await store.record_baseline(channel.id, ["p1"], at=T0) == 0
    await store.record_baseline(channel.id, ["p2"], at=T0)
    assert not await store.enqueue(channel.id, "p2", state="queued", why=None, topic_id=None, at=T0)
    assert await store.enqueue(other.id, "p1", state="queued", why=None, topic_id=None, at=T0)
    assert await store.delivery_counts(channel.id) == {"queued": 1, "baseline": 1}
    [row] = await store.queued_deliveries(channel.id)
    assert (row.channel_id, row.paper_id, row.state, row.why, row.topic_id, row.attempts, row.created_at) == (
        channel.id, "p1", "queued", "matches llm", topic.id, 0, T0)


async def test_concurrent_enqueue_adds_one_row(store):
    channel = await store.ensure_channel(REF)
    added = await asyncio.gather(*(
        store.enqueue_posts(channel.id, [("p1", None, None)], at=T0, max_per_hour=10) for _ in range(20)
    ))
    assert added.count(["p1"]) == 1
    assert await store.delivery_counts(channel.id) == {"pending": 1}
    assert await store.outbox_counts(channel.id) == {"pending": 1}


async def test_enqueue_refuses_other_states(store):
    channel = await store.ensure_channel(REF)
    for state in ("sent", "baseline", "skipped", "bogus"):
        with pytest.raises(ValueError):
            await store.enqueue(channel.id, "p1", state=state, why=None, topic_id=None, at=T0)
    assert await store.delivery_counts(channel.id) == {}


async def test_due_outbox_respects_state_retry_time_pause_and_order(store):
    channel = await store.ensure_channel(REF)
    paused = await store.ensure_channel(OTHER)
    await store.enqueue_posts(channel.id, [("early", None, None), ("mid", None, None), ("late", None, None)],
                              at=T0, max_per_hour=10)
    await store.enqueue(channel.id, "digest", state="queued", why=None, topic_id=None, at=T0)
    await store.enqueue_posts(paused.id, [("blocked", None, None)], at=T0, max_per_hour=10)
    await store.update_channel(paused.id, paused_reason="403")
    now = T0 + timedelta(hours=1)
    due = await store.due_outbox(now=now)
    assert [d.paper_ids for d in due] == [("early",), ("mid",), ("late",)]
    assert [d.tag for d in await store.due_outbox(now=now, limit=2)] == ["paper:early", "paper:mid"]

    await store.mark_outbox_retry(due[0].id, error="HTTP 503", retry_at=now + timedelta(minutes=5))
    assert await store.due_outbox(now=now) == [], "a channel's later posts never overtake a waiting one"
    later = await store.due_outbox(now=now + timedelta(minutes=5))
    retried = later[0]
    assert (retried.state, retried.attempts, retried.last_error, retried.next_attempt_at) == (
        "pending", 1, "HTTP 503", now + timedelta(minutes=5))
    await store.update_channel(paused.id, paused_reason=None)
    assert "paper:blocked" in [d.tag for d in await store.due_outbox(now=now)]


async def test_sent_outbox_entries_mark_the_ledger(store):
    channel = await store.ensure_channel(REF)
    await store.enqueue_posts(channel.id, [("p1", None, None), ("p2", None, None)], at=T0, max_per_hour=10)
    first, second = await store.due_outbox(now=T0)
    assert await store.claim_outbox(first.id) and not await store.claim_outbox(first.id)
    await store.mark_outbox_sent(first.id, message_ref="msg-1", at=T0, posted_states={"p1": "code=0"})
    assert await store.delivery_counts(channel.id) == {"sent": 1, "pending": 1}
    [card] = await store.posted_cards(["p1", "p2"])
    assert (card.paper_id, card.message_ref, card.posted_state) == ("p1", "msg-1", "code=0")
    await store.mark_outbox_dead(second.id, error="HTTP 500")
    assert await store.outbox_counts(channel.id) == {"sent": 1, "dead": 1}


async def test_only_a_channels_oldest_unsettled_entry_can_be_claimed(store):
    """Whoever sends (this process or another), a channel's posts go out in the order they were queued."""
    channel = await store.ensure_channel(REF)
    other = await store.ensure_channel(OTHER)
    await store.enqueue_posts(channel.id, [("p1", "llm", None), ("p2", None, None)], at=T0, max_per_hour=10)
    await store.enqueue_posts(other.id, [("p1", "rl", None)], at=T0, max_per_hour=10)
    first, second, elsewhere = await store.due_outbox(now=T0)
    assert await store.claim_outbox_many([second.id, elsewhere.id]) == {elsewhere.id}, "p2 waits for p1"
    assert await store.claim_outbox_many([first.id, second.id]) == {first.id}
    assert await store.claim_outbox_many([first.id, 999999]) == set(), "taken, or unknown"
    assert not await store.claim_outbox(second.id), "p1 is in flight"

    await store.mark_outbox_sent_many([
        Settlement(first.id, "msg-1", T0, {"p1": "code=0"}),
        Settlement(elsewhere.id, "msg-9", T0 + timedelta(minutes=1), {"p1": "code=1"}),
        Settlement(999999, "nowhere", T0),  # unknown: ignored
    ])
    cards = {(c.channel_id, c.paper_id): (c.message_ref, c.posted_state) for c in await store.posted_cards(["p1"])}
    assert cards == {(channel.id, "p1"): ("msg-1", "code=0"), (other.id, "p1"): ("msg-9", "code=1")}
    assert await store.outbox_counts() == {"sent": 2, "pending": 1}
    assert await store.claim_outbox_many([second.id]) == {second.id}, "p1 is settled: p2 may go"
    await store.mark_outbox_retry(second.id, error="HTTP 503", retry_at=T0)
    assert await store.claim_outbox_many([]) == set()
    await store.mark_outbox_sent_many([])


async def test_due_outbox_for_some_platforms_and_a_few_per_channel(store):
    channel = await store.ensure_channel(REF)
    other = await store.ensure_channel(OTHER)
    await store.enqueue_posts(channel.id, [(f"d{i}", f"why d{i}", None) for i in range(5)], at=T0, max_per_hour=10)
    await store.enqueue_posts(other.id, [("s0", None, None), ("s1", None, None)], at=T0, max_per_hour=10)
    tags = lambda entries: [e.tag for e in entries]  # noqa: E731
    assert tags(await store.due_outbox(now=T0, per_channel=2)) == ["paper:d0", "paper:d1", "paper:s0", "paper:s1"]
    assert tags(await store.due_outbox(now=T0, platforms=["slack"])) == ["paper:s0", "paper:s1"]
    assert tags(await store.due_outbox(now=T0, platforms=["discord"], per_channel=1)) == ["paper:d0"]
    assert await store.due_outbox(now=T0, platforms=[]) == []
    whys = await store.ledger_whys_many([(channel.id, "d1"), (channel.id, "d4"), (other.id, "s0"),
                                         (other.id, "d1"), (channel.id, "nope")])
    assert whys == {(channel.id, "d1"): "why d1", (channel.id, "d4"): "why d4", (other.id, "s0"): None}


async def test_digest_takes_the_top_and_skips_the_rest(store):
    channel = await store.ensure_channel(REF)
    other = await store.ensure_channel(OTHER)
    for minute, paper in enumerate(["q1", "q2", "q3"]):
        await store.enqueue(channel.id, paper, state="queued", why="digest", topic_id=None,
                            at=T0 + timedelta(minutes=minute))
    await store.enqueue(other.id, "q1", state="queued", why=None, topic_id=None, at=T0)
    queued = await store.queued_deliveries(channel.id)
    assert [d.paper_id for d in queued] == ["q1", "q2", "q3"]
    assert all(d.state == "queued" and d.why == "digest" for d in queued)
    assert await store.enqueue_digest(channel.id, tag="digest:1", title="t", top=["q2"], skipped=["q1", "q3"],
                                      at=T0)
    assert not await store.enqueue_digest(channel.id, tag="digest:1", title="t", top=[], skipped=[], at=T0)
    assert await store.queued_deliveries(channel.id) == []
    assert await store.delivery_counts(channel.id) == {"pending": 1, "skipped": 2}
    assert (await store.get_channel_by_id(channel.id)).last_digest_at == T0
    [digest] = await store.due_outbox(now=T0)
    assert (digest.kind, digest.paper_ids) == ("digest", ("q2",))
    assert [d.paper_id for d in await store.queued_deliveries(other.id)] == ["q1"]


async def test_removing_a_topic_keeps_its_deliveries(store):
    channel = await store.ensure_channel(REF)
    topic = await store.add_topic(channel.id, "llm", "u", at=T0)
    await store.enqueue(channel.id, "p1", state="queued", why="llm", topic_id=topic.id, at=T0)
    await store.remove_topic(topic.id)
    [row] = await store.queued_deliveries(channel.id)
    assert (row.paper_id, row.topic_id) == ("p1", None)
    assert await store.ledger_paper_ids(channel.id) == {"p1"}


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
