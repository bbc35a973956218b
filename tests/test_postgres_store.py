"""What only the Postgres backend has (migrations under a lock, presence and leadership, lost connections, its
full-text search), against a real server, one fresh database per test. The shared contract is tests/test_storage.py.

Set PAPERBOY_TEST_POSTGRES_URL to run against another server (its user must be able to CREATE DATABASE).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

import asyncpg
import pytest

from bot.model.channels import ChannelRef
from bot.model.paper import Paper
from bot.ports.store import Store
from bot.ports.store_errors import DatabaseUnreachable, SchemaTooNewError, StorageUnavailable
from storage.sqlite.papers import SearchTooBroad
from storage.postgres import PostgresStore, open_store
from storage.postgres.migrate import latest_version
from paperboy_testing.seed import seed_id, seed_titles_and_abstracts
from tests.postgres import with_database

T0 = datetime(2024, 3, 14, 9, 0, tzinfo=timezone.utc)
REF = ChannelRef(platform="discord", workspace="guild-1", channel="chan-1")
OTHER = ChannelRef(platform="slack", workspace="T1", channel="C1")


@pytest.fixture
def database(postgres_url):
    """The URL of a new, empty database (tests/postgres.py), dropped after the test."""
    return postgres_url


@pytest.fixture
def server_url(postgres_server):
    return postgres_server


@pytest.fixture
async def store(database):
    store = await open_store(database)
    yield store
    await store.close()


def seed_papers() -> list[Paper]:
    return [
        Paper(id=seed_id(i), title=title, abstract=abstract, daily_date=date(2024, 3, 1) + timedelta(days=i % 5))
        for i, (title, abstract) in enumerate(seed_titles_and_abstracts())
    ]


def ids(papers) -> list[str]:
    return [p.id for p in papers]


# --- opening and migrations ------------------------------------------------------------------------


async def test_open_migrates_and_is_a_store(store):
    assert isinstance(store, Store)
    assert await store.schema_version() == latest_version()
    await store.check_alive()
    assert store.trouble is None and store.trouble_since is None


async def test_three_stores_opened_at_once_on_an_empty_database_migrate_once(database):
    stores = await asyncio.gather(*(open_store(database) for _ in range(3)))
    try:
        conn = await asyncpg.connect(database)
        try:
            versions = await conn.fetch("SELECT version FROM schema_version ORDER BY version")
        finally:
            await conn.close()
        assert [r[0] for r in versions] == list(range(1, latest_version() + 1))
        assert len({s.owner for s in stores}) == 3
    finally:
        for s in stores:
            await s.close()


async def test_a_newer_schema_is_refused(database):
    await (await open_store(database)).close()
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", latest_version() + 1)
    finally:
        await conn.close()
    with pytest.raises(SchemaTooNewError):
        await open_store(database)


async def test_unreachable_server_raises_one_line(tmp_path):
    with pytest.raises(DatabaseUnreachable) as raised:
        await open_store(f"postgresql://paperboy:s3cret@/paperboy?host={tmp_path}")
    message = str(raised.value)
    assert "\n" not in message and "s3cret" not in message and "cannot reach Postgres" in message
    with pytest.raises(DatabaseUnreachable) as raised:
        await open_store("postgresql://paperboy:s3cret@127.0.0.1:1/paperboy")
    assert "127.0.0.1:1" in str(raised.value) and "s3cret" not in str(raised.value)


async def test_a_missing_database_is_unreachable_too(server_url):
    with pytest.raises(DatabaseUnreachable, match="does not exist"):
        await open_store(with_database(server_url, "no_such_db_here"))


async def _terminate_others(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")
    finally:
        await conn.close()


async def test_a_connection_lost_mid_call_is_storage_unavailable_then_recovers(store, database):
    call = asyncio.ensure_future(store._fetchval("SELECT pg_sleep(5)"))
    await asyncio.sleep(0.3)
    await _terminate_others(database)
    with pytest.raises(StorageUnavailable):
        await call
    assert "database failing since" in store.trouble and store.trouble_since is not None
    for _ in range(3):  # any connection the pool still thinks alive fails once, then it reconnects
        try:
            await store.set_state("k", "v")
            break
        except StorageUnavailable:
            pass
    assert await store.get_state("k") == "v"
    assert store.trouble is None and store.trouble_since is None
    await store.check_alive()


# --- papers and search -----------------------------------------------------------------------------


async def test_papers_round_trip_merge_lists_and_since(store):
    paper = Paper(id="2499.90001", title="Model Merging", authors=("A", "B"), abstract="We merge.",
                  upvotes=42, published_at=T0, daily_date=date(2024, 3, 14), ai_keywords=("merging",))
    await store.save_papers([paper])
    assert await store.get_paper("2499.90001") == paper
    await store.save_papers([Paper(id="2499.90001", title="Model Merging", upvotes=0, source="arxiv")])
    merged = await store.get_paper("2499.90001")
    assert (merged.upvotes, merged.authors, merged.source) == (0, ("A", "B"), "huggingface")
    assert await store.get_paper("nope") is None
    await store.save_papers(seed_papers())
    assert set(await store.get_papers([seed_id(1), "nope"])) == {seed_id(1)}
    since = await store.papers_since(date(2024, 3, 5))
    assert since[0].id == "2499.90001" and all(p.daily_date >= date(2024, 3, 5) for p in since)
    await store.save_list("trending", [seed_id(3), "missing", seed_id(1)], at=T0)
    papers, saved = await store.get_list("trending")
    assert (ids(papers), saved) == ([seed_id(3), seed_id(1)], T0)
    await store.save_list("trending", [seed_id(2)], at=T0 + timedelta(hours=1))
    assert ids((await store.get_list("trending"))[0]) == [seed_id(2)]
    assert await store.get_list("never") == ([], None)


async def test_search_title_beats_abstract(store):
    await store.save_papers([
        Paper(id="a", title="Unrelated", abstract="A walrus appears here once."),
        Paper(id="b", title="The walrus paper", abstract="Nothing."),
        Paper(id="c", title="Nothing at all"),
    ])
    assert ids(await store.search_papers(["walrus"])) == ["b", "a"]
    assert ids(await store.search_papers(["WALRUSES"])) == ["b", "a"]


async def test_search_covers_keywords_summary_and_authors_and_follows_updates(store):
    await store.save_papers([Paper(id="2403.00001", title="Old walrus", ai_keywords=("zebrafish",),
                                   ai_summary="quokka study", authors=("Percy Liang",))])
    for term in ("zebrafish", "quokka", "liang"):
        assert ids(await store.search_papers([term])) == ["2403.00001"]
    await store.save_papers([Paper(id="2403.00001", title="New narwhal")])
    assert await store.search_papers(["walrus"]) == []
    assert ids(await store.search_papers(["narwhal"])) == ["2403.00001"]


HOSTILE = [
    "a & | ! ( :* ' \"", '"', '""', "*", "**", "^", "NEAR(model merging, 2)", "AND", "OR", "NOT", "(", ")",
    "model & merging", "model | !x", "!", "&", "|", "<->", "<2>", "model:*", ":*", "'", "''", "'model'",
    "\\", "\\'", "x:A", "a:*b", "'; DROP TABLE papers; --", "\x00", "🙂", "模型", "a" * 5000,
    " ".join(["model"] * 1000), "model*merging", "*model", "'model merg'*", "&*", "!*", "'*",
]


async def test_tsquery_operators_in_terms_never_raise(store):
    await store.save_papers(seed_papers())
    for term in HOSTILE:
        assert isinstance(await store.search_papers([term]), list), term
    assert isinstance(await store.search_papers(HOSTILE), list)
    either = await store.search_papers(["OR"])
    assert either, "stop words stay searchable"
    assert len(await store.get_papers([seed_id(0)])) == 1


async def test_search_limit_empty_terms_and_budget(store, database):
    await store.save_papers(seed_papers())
    assert len(await store.search_papers(["model"], limit=3)) == 3
    assert await store.search_papers([]) == []
    assert await store.search_papers(["", "  ", "*", '""']) == []
    slow = await PostgresStore.open(database, search_budget=0.001)
    try:
        conn = await asyncpg.connect(database)
        try:  # enough papers that ranking them takes well over a millisecond
            await conn.execute(
                """INSERT INTO papers (id, title, source, data)
                   SELECT 'x' || g, 'model ' || g, 'huggingface',
                          jsonb_build_object('id', 'x' || g, 'title', 'model ' || repeat('model merging ', 50))
                   FROM generate_series(1, 20000) g""")
        finally:
            await conn.close()
        with pytest.raises(SearchTooBroad):
            await slow.search_papers(["model", "merg*"])
    finally:
        await slow.close()


# --- channels and topics ---------------------------------------------------------------------------


async def test_channels_create_once_update_pause_and_list(store):
    channel = await store.ensure_channel(REF)
    assert (channel.realtime, channel.timezone, channel.top_n, channel.created_at is not None) == (
        True, "UTC", 5, True)
    again, other = await asyncio.gather(store.ensure_channel(REF), store.ensure_channel(OTHER))
    assert again.id == channel.id and other.id != channel.id
    assert await store.get_channel(REF) == channel
    assert await store.get_channel(ChannelRef("x", "y", "z")) is None
    assert await store.get_channel_by_id(channel.id) == channel
    updated = await store.update_channel(channel.id, realtime=False, digest_time="09:00", timezone="Europe/Paris",
                                         top_n=3, min_upvotes=2, last_digest_at=T0)
    assert (updated.realtime, updated.digest_time, updated.top_n, updated.last_digest_at) == (False, "09:00", 3, T0)
    with pytest.raises(ValueError):
        await store.update_channel(channel.id, platform="x")
    with pytest.raises(LookupError):
        await store.update_channel(999999, top_n=1)
    await store.update_channel(other.id, paused_reason="403")
    assert ids(await store.paused_channels()) == [other.id]
    assert ids(await store.list_channels()) == [channel.id, other.id]
    assert set(await store.get_channels([channel.id, other.id, 12345])) == {channel.id, other.id}


async def test_topics_numbering_case_and_baselines(store):
    channel = await store.ensure_channel(REF)
    paused = await store.ensure_channel(OTHER)
    llm = await store.add_topic(channel.id, "LLM", "ann", at=T0, added_by_id="U1")
    assert (llm.number, llm.added_by_id, llm.baseline_taken, llm.added_at) == (1, "U1", False, T0)
    assert (await store.add_topic(channel.id, "llm", "bob", at=T0)).id == llm.id
    second = await store.add_topic(channel.id, "merging", "ann", at=T0)
    third = await store.add_topic(channel.id, "agents", "ann", at=T0)
    assert (second.number, third.number) == (2, 3)
    await store.remove_topic(second.id)
    fourth = await store.add_topic(channel.id, "rl", "ann", at=T0)
    assert [t.number for t in await store.list_topics(channel.id)] == [1, 3, 4] and fourth.number == 4
    p = await store.add_topic(paused.id, "x", "ann", at=T0)
    assert (await store.add_topic(paused.id, "y", "ann", at=T0)).number == 2
    await store.update_channel(paused.id, paused_reason="gone")
    assert await store.topics_awaiting_baseline() == {channel.id: [llm.id, third.id, fourth.id]}
    assert await store.active_topics() == [] and await store.active_topics_signature() == (0, 0, 0)
    await store.mark_baseline_taken([llm.id, third.id, p.id])
    assert await store.active_topics() == [(channel.id, llm.id, "LLM"), (channel.id, third.id, "agents")]
    assert await store.active_topics_signature() == (2, llm.id + third.id, third.id)
    assert await store.topics_awaiting_baseline() == {channel.id: [fourth.id]}


async def test_concurrent_topic_adds_get_distinct_numbers(store):
    channel = await store.ensure_channel(REF)
    topics = await asyncio.gather(*(store.add_topic(channel.id, f"q{i}", "ann", at=T0) for i in range(8)))
    assert sorted(t.number for t in topics) == list(range(1, 9))


# --- the ledger and the outbox ---------------------------------------------------------------------


async def test_ledger_baseline_enqueue_and_whys(store):
    channel = await store.ensure_channel(REF)
    other = await store.ensure_channel(OTHER)
    assert await store.record_baseline(channel.id, ["a", "b", "a"], at=T0) == 2
    assert await store.record_baseline(channel.id, ["b", "c"], at=T0) == 1
    assert await store.record_baseline(channel.id, [], at=T0) == 0
    assert await store.ledger_paper_ids(channel.id) == {"a", "b", "c"}
    assert await store.enqueue(other.id, "a", state="queued", why="llm", topic_id=None, at=T0)
    assert not await store.enqueue(other.id, "a", state="queued", why="llm", topic_id=None, at=T0)
    with pytest.raises(ValueError):
        await store.enqueue(other.id, "z", state="sent", why=None, topic_id=None, at=T0)
    assert await store.channels_having("a", [channel.id, other.id, 999]) == {channel.id, other.id}
    assert await store.channels_having("a", []) == set()
    assert await store.delivery_counts(channel.id) == {"baseline": 3}
    assert await store.ledger_whys_many([(other.id, "a"), (other.id, "q")]) == {(other.id, "a"): "llm"}


async def test_enqueue_posts_flood_limit_rolls_up_the_rest(store):
    channel = await store.ensure_channel(REF)
    topic = await store.add_topic(channel.id, "llm", "ann", at=T0)
    matches = [(f"p{i}", "llm", topic.id) for i in range(5)] + [("p0", "dup", None)]
    assert await store.enqueue_posts(channel.id, matches, at=T0, max_per_hour=3) == [f"p{i}" for i in range(5)]
    due = await store.due_outbox(now=T0)
    assert [(e.kind, e.paper_ids) for e in due] == [
        ("paper", ("p0",)), ("paper", ("p1",)), ("paper", ("p2",)), ("rollup", ("p3", "p4"))]
    assert due[3].title.startswith("…and 2 more") and due[3].tag == "rollup:p3"
    assert await store.ledger_whys_many([(channel.id, "p0")]) == {(channel.id, "p0"): "llm"}
    assert await store.enqueue_posts(channel.id, matches, at=T0, max_per_hour=3) == []
    later = T0 + timedelta(minutes=30)
    assert await store.enqueue_posts(channel.id, [("p9", None, None)], at=later, max_per_hour=3) == ["p9"]
    assert (await store.outbox_in_state("pending", channel_id=channel.id))[-1].kind == "rollup"
    hour_on = T0 + timedelta(hours=2)
    await store.enqueue_posts(channel.id, [("p10", None, None)], at=hour_on, max_per_hour=3)
    assert (await store.outbox_in_state("pending"))[-1].tag == "paper:p10"


async def test_one_entry_is_read_as_it_is_now(any_store):
    """On both backends."""
    store = any_store
    channel = await store.ensure_channel(REF)
    await store.enqueue_posts(channel.id, [("p1", None, None)], at=T0, max_per_hour=10)
    (entry,) = await store.due_outbox(now=T0)
    await store.mark_outbox_sent(entry.id, message_ref="msg-1", at=T0, posted_states=None)
    now = await store.outbox_entry(entry.id)
    assert (now.id, now.state, now.message_ref) == (entry.id, "sent", "msg-1")
    assert await store.outbox_entry(entry.id + 1000) is None


async def test_sent_entries_mark_the_ledger_and_edits_keep_the_original(store):
    channel = await store.ensure_channel(REF)
    await store.enqueue_posts(channel.id, [("p1", None, None), ("p2", None, None)], at=T0, max_per_hour=10)
    first, second = await store.due_outbox(now=T0)
    assert await store.claim_outbox(first.id) and not await store.claim_outbox(first.id)
    await store.mark_outbox_sent(first.id, message_ref="msg-1", at=T0, posted_states={"p1": "code=0"})
    assert await store.delivery_counts(channel.id) == {"sent": 1, "pending": 1}
    [card] = await store.posted_cards(["p1", "p2"])
    assert (card.channel_id, card.paper_id, card.message_ref, card.posted_state) == (
        channel.id, "p1", "msg-1", "code=0")
    await store.mark_outbox_dead(second.id, error="HTTP 500")
    assert await store.outbox_counts(channel.id) == {"sent": 1, "dead": 1}
    [dead] = await store.outbox_in_state("dead")
    assert (dead.attempts, dead.last_error) == (1, "HTTP 500")
    assert await store.enqueue_update(channel.id, "p1", target_ref="msg-1", tag="update:p1:1", at=T0)
    assert not await store.enqueue_update(channel.id, "p1", target_ref="msg-1", tag="update:p1:1", at=T0)
    [update] = await store.due_outbox(now=T0)
    assert (update.kind, update.target_ref) == ("update", "msg-1")
    await store.claim_outbox(update.id)
    await store.mark_outbox_sent(update.id, message_ref="msg-1-edit", at=T0, posted_states={"p1": "code=1"})
    [card] = await store.posted_cards(["p1"])
    assert (card.message_ref, card.posted_state) == ("msg-1", "code=1")
    assert await store.outbox_counts() == {"sent": 2, "dead": 1}
    await store.mark_outbox_sent(999999, message_ref="x", at=T0)  # unknown: nothing happens
