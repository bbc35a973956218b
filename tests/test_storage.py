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
from storage.sqlite import Store
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
