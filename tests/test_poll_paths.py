"""The poll's cheaper paths (issue 27): scheduled channels only, an index updated topic by topic, matches made
only where asked. Speed itself lives in bench/; these check that the short cuts give the same answers."""

from __future__ import annotations

import gc
import logging
from datetime import datetime, timezone

import pytest

import bot.topics.active as active_topics
from bot.topics.active import ActiveTopics
from bot.model.channels import ChannelRef
from bot.runtime.collector import collector_paused
from bot.model.paper import Paper
from bot.topics import PaperText, parse_query
from bot.topics.index import TopicIndex

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


async def test_scheduled_channels_are_the_unpaused_ones_with_a_digest_a_leaderboard_or_picks(any_store):
    made = [await any_store.ensure_channel(ChannelRef("memory", "w", f"c{n}")) for n in range(6)]
    await any_store.update_channel(made[1].id, digest_time="09:00")
    await any_store.update_channel(made[2].id, leaderboard_schedule="mon 09:00 UTC")
    await any_store.update_channel(made[3].id, picks=3)
    await any_store.update_channel(made[4].id, digest_time="09:00", paused_reason="lost access")
    await any_store.update_channel(made[5].id, picks=0)
    scheduled = await any_store.scheduled_channels()
    assert [c.id for c in scheduled] == [made[1].id, made[2].id, made[3].id]
    assert scheduled == [c for c in await any_store.list_channels() if c.id in {made[1].id, made[2].id, made[3].id}]


class Rows:
    """The two store methods `ActiveTopics` reads, over a list that a test changes."""

    def __init__(self, rows: list[tuple[int, int, str]]) -> None:
        self.rows = rows

    async def active_topics_signature(self) -> tuple[int, int, int]:
        return len(self.rows), sum(t for _, t, _ in self.rows), hash(tuple(self.rows))

    async def active_topics(self) -> list[tuple[int, int, str]]:
        return sorted(self.rows, key=lambda row: row[1])


PAPERS = [
    Paper(id="1", title="Model merging for large language models", abstract="We merge models.",
          categories=("cs.CL",)),
    Paper(id="2", title="Diffusion transformers", abstract="Image generation with diffusion.",
          categories=("cs.CV",)),
    Paper(id="3", title="Unlearning in language models", abstract="Forgetting data.", categories=("cs.LG",)),
]


def full_matches(rows: list[tuple[int, int, str]]) -> list[list[tuple[tuple[int, int], str]]]:
    """What an index built afresh from *rows* finds for each paper, with each match's explanation."""
    index: TopicIndex[tuple[int, int]] = TopicIndex()
    for channel_id, topic_id, text in sorted(rows, key=lambda row: row[1]):
        query = parse_query(text)
        if not query.everything:
            index.add((channel_id, topic_id), query)
    return [sorted((key, match.explain()) for key, match in index.matches(PaperText.of(p))) for p in PAPERS]


def matches_of(topics: ActiveTopics) -> list[list[tuple[tuple[int, int], str]]]:
    return [sorted((key, match.explain()) for key, match in topics.index.matches(PaperText.of(p))) for p in PAPERS]


async def test_a_change_of_topics_parses_only_the_new_ones_and_matches_as_a_fresh_build(monkeypatch):
    rows = Rows([(1, 1, '"model merging"'), (2, 2, "diffusion cat:cs.CV"), (3, 3, "*"), (4, 4, "language -diffusion")])
    topics = ActiveTopics()
    await topics.refresh(rows)
    assert matches_of(topics) == full_matches(rows.rows)
    assert topics.every_paper == [(3, 3)]
    assert topics.categories == {(2, 2): frozenset({"cs.CV"})}

    parsed: list[str] = []
    real = active_topics.parse_query
    monkeypatch.setattr(active_topics, "parse_query", lambda text: parsed.append(text) or real(text))
    await topics.refresh(rows)
    assert parsed == [], "nothing changed: nothing is read again"

    rows.rows = [(1, 1, '"model merging"'), (4, 4, "language -diffusion"), (5, 5, "unlearning OR diffusion"),
                 (6, 6, "*"), (2, 7, "cat:cs.LG")]
    await topics.refresh(rows)
    assert sorted(parsed) == ["*", "cat:cs.LG", "unlearning OR diffusion"]
    assert matches_of(topics) == full_matches(rows.rows)
    assert topics.every_paper == [(6, 6)]
    assert topics.categories == {(2, 7): frozenset({"cs.LG"})}
    assert (2, 2) not in topics.index and (3, 3) not in topics.index


async def test_a_stored_topic_that_no_longer_parses_is_skipped_and_said_once(caplog):
    rows = Rows([(1, 1, "merging"), (2, 2, 'unclosed "quote')])
    topics = ActiveTopics()
    with caplog.at_level(logging.WARNING, logger="bot.topics.active"):
        await topics.refresh(rows)
        rows.rows.append((3, 3, "diffusion"))
        await topics.refresh(rows)
    assert sorted(topics.index.matches(PaperText.of(PAPERS[1])).keys()) == [(3, 3)]
    assert [r.getMessage() for r in caplog.records] == ["stored topic 'unclosed \"quote' no longer parses; skipping it"]


def test_groups_name_every_matching_key_and_match_at_explains_one_query():
    index: TopicIndex[str] = TopicIndex()
    for key, text in [("a", "language"), ("b", "merging"), ("c", "language"), ("d", "diffusion")]:
        index.add(key, parse_query(text))
    found = index.matches(PaperText.of(PAPERS[0]))
    groups = list(found.groups())
    assert [list(keys) for _, keys in groups] == [["a", "c"], ["b"]]
    assert [key for _, keys in groups for key in keys] == found.keys()
    pairs = list(found)
    for position, keys in groups:
        assert all(found.match_at(position) == match for key, match in pairs if key in keys)
    assert found.match_at(1).explain() == parse_query("merging").match(PAPERS[0]).explain()


@pytest.mark.parametrize("text", ["language", "*"])
async def test_unchanged_topics_keep_the_same_index(text):
    rows = Rows([(1, 1, text)])
    topics = ActiveTopics()
    await topics.refresh(rows)
    before = (topics.index, list(topics.every_paper))
    await topics.refresh(rows)
    assert (topics.index, topics.every_paper) == before


def test_overlapping_pauses_resume_the_collector_when_the_last_ends():
    assert gc.isenabled()
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()  # another task pauses meanwhile, and the first ends before it
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_pause_leaves_a_collector_that_was_off_off():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
