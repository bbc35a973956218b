"""A hostile Hugging Face's bodies, parsed directly (issue 10): every field bounded and cleaned, an odd item set
aside alone, and whatever a hostile list holds, what parses can be stored (property-tested into SQLite)."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.sources import MalformedResponse
from bot.sources.hf_shapes import (
    ABSTRACT_MAX, AUTHORS_KEPT, COUNT_MAX, TITLE_MAX, parse_daily_items, parse_paper, parse_search_results,
)


# -- 1 again, on bodies: every field bounded and cleaned ------------------------------------------


def _item(pid: str, **paper: object) -> dict:
    return {"paper": {"id": pid, "title": f"Paper {pid}", **paper}}


def _body(items: list[dict], digits: int = 0) -> bytes:
    """JSON for *items*; each string "DIGITS" becomes a bare integer of *digits* digits."""
    return json.dumps(items).replace('"DIGITS"', "9" * digits).encode()


@pytest.mark.parametrize(("field", "value", "why"), [
    ("upvotes", 2**63, "upvotes: 9223372036854775808 is out of range"),
    ("upvotes", -1, "upvotes: -1 is out of range"),
    ("upvotes", COUNT_MAX + 1, "out of range (0 to 1,000,000,000)"),
    ("upvotes", "DIGITS", "upvotes: 5000-digit number"),
    ("githubStars", 2**70, "githubStars: 1180591620717411303424 is out of range"),
    ("upvotes", 1.5, "upvotes: 1.5 is not a count"),
    ("upvotes", True, "upvotes: True is not a count"),
])
def test_a_count_out_of_range_sets_only_its_item_aside_naming_it(field, value, why, caplog) -> None:
    body = _body([_item("2401.00001", **{field: value}), _item("2401.00002", upvotes=3)], digits=5000)
    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_shapes"):
        papers = parse_daily_items(body, where="HF test")
    assert [p.id for p in papers] == ["2401.00002"]
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith("skipping paper 2401.00001 (item 0) from HF test: ") and why in warning


def test_a_bad_comment_count_sets_its_item_aside_and_a_bad_total_is_only_unknown() -> None:
    items = [{**_item("2401.00001"), "numComments": "DIGITS"}, _item("2401.00002")]
    assert [p.id for p in parse_daily_items(_body(items, digits=40))] == ["2401.00002"]
    paper = parse_paper(_body([_item("2401.00003")["paper"] | {"numTotalModels": 2**63}])[1:-1])
    assert paper.linked_models_total is None


def test_a_long_number_where_nothing_is_read_costs_nothing() -> None:
    items = [_item("2401.00001", discussionId="DIGITS", submittedOnDailyBy={"followers": "DIGITS"})]
    [paper] = parse_daily_items(_body(items, digits=100_000))
    assert paper.id == "2401.00001"


def test_text_is_made_valid_and_bounded_and_the_fixes_are_logged(caplog) -> None:
    item = _item(
        "2401.00001",
        title="Lone \ud800 and \udfff surrogates,\x00 a NUL and an \x1b[31mescape " + "long " * 1000,
        summary="word " * 30_000,
        authors=[{"name": f"Author {n}"} for n in range(5000)] + [{"name": 7}, "odd"],
        ai_keywords=["ok", 5, None, "x" * 500],
        githubRepo="javascript:alert(1)",
        projectPage="https://example.org/a|<@everyone>",
        organization="not an object",
    )
    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_shapes"):
        [paper] = parse_daily_items(json.dumps([item]))
    assert paper.title.startswith("Lone \ufffd and \ufffd surrogates, a NUL and an [31mescape long")
    assert TITLE_MAX - 5 < len(paper.title) <= TITLE_MAX and paper.title.endswith("long…")
    assert ABSTRACT_MAX - 5 < len(paper.abstract) <= ABSTRACT_MAX
    assert paper.authors == tuple(f"Author {n}" for n in range(AUTHORS_KEPT))
    assert paper.ai_keywords == ("ok", "x" * 99 + "…")
    assert paper.github_repo is None and paper.project_page is None and paper.organization is None
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith("paper 2401.00001 from Hugging Face kept with fixes: title 2 lone surrogates")
    for part in ("2 control characters removed", "removed, cut to 1,000 characters from 5,048", "abstract cut to 10,000",
                 "authors kept the first 200 of 5,000", "githubRepo dropped 'javascript:alert(1)'"):
        assert part in warning


def test_dates_are_aware_and_in_sane_years_or_unknown() -> None:
    items = [_item("2401.00001", publishedAt="2024-03-01T10:00:00", submittedOnDailyAt="9999-12-31T23:59:59Z"),
             _item("2401.00002", publishedAt="0001-01-01T00:00:00+14:00")]
    naive, ancient = parse_daily_items(json.dumps(items))
    assert naive.published_at == datetime(2024, 3, 1, 10, tzinfo=timezone.utc) and naive.daily_date is None
    assert ancient.published_at is None


def test_bytes_that_are_not_utf8_cost_only_themselves(caplog) -> None:
    body = json.dumps([_item("2401.00001", title="Caf\u00e9 TITLE")]).encode().replace(b"TITLE", b"\xff\xfe")
    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_shapes"):
        [paper] = parse_daily_items(body)
    assert paper.title == "Café \ufffd\ufffd"
    assert "not UTF-8" in caplog.text


def test_json_nested_too_deeply_is_one_clear_error() -> None:
    with pytest.raises(MalformedResponse, match="nested too deeply"):
        parse_daily_items(b"[" * 200_000)


def test_search_results_are_cut_to_what_was_asked(caplog) -> None:
    items = [_item(f"2401.{n:05d}") for n in range(1, 8)]
    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_shapes"):
        papers = parse_search_results(json.dumps(items), limit=3)
    assert [p.id for p in papers] == ["2401.00001", "2401.00002", "2401.00003"]
    assert "7 items where at most 3 were asked for" in caplog.text


_json_text = st.text(st.characters(blacklist_categories=()), max_size=60)
_json_number = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False),
                         st.just("DIGITS"))


def _json_containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(children, max_size=4), st.dictionaries(_json_text, children, max_size=4))


_json_value = st.recursive(st.none() | st.booleans() | _json_number | _json_text, _json_containers, max_leaves=12)
_json_value = st.one_of(_json_value, st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()))
_field_names = st.sampled_from(["title", "summary", "upvotes", "githubStars", "githubRepo", "projectPage",
                                "ai_summary", "ai_keywords", "authors", "organization", "publishedAt",
                                "submittedOnDailyAt", "numTotalModels", "linkedModels", "thumbnailUrl"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(_field_names, _json_value, max_size=8), min_size=1, max_size=4),
       st.lists(st.dictionaries(st.sampled_from(["title", "summary", "numComments", "thumbnail"]), _json_value,
                                max_size=3), min_size=4, max_size=4))
def test_whatever_a_hostile_list_holds_what_parses_can_be_stored(papers, wrappers) -> None:
    items = [{**wrapper, "paper": {"id": f"2401.{n:05d}", **paper}}
             for n, (paper, wrapper) in enumerate(zip(papers, wrappers), start=1)]
    try:
        parsed = parse_daily_items(_body(items, digits=5000))
    except MalformedResponse:
        return  # every item bad: one clear error
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE papers (id TEXT, title TEXT, upvotes INTEGER, stars INTEGER, data TEXT)")
    for paper in parsed:
        assert paper.upvotes is None or 0 <= paper.upvotes <= COUNT_MAX
        assert len(paper.title) <= TITLE_MAX and len(paper.authors) <= AUTHORS_KEPT
        assert paper.published_at is None or paper.published_at.tzinfo is not None
        db.execute("INSERT INTO papers VALUES (?, ?, ?, ?, ?)",
                   (paper.id, paper.title, paper.upvotes, paper.github_stars, paper.model_dump_json()))
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == len(parsed)
