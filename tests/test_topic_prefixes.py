"""Prefix terms: a word holds every prefix term its longest indexed prefix's closure names, through any changes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model.paper import Paper
from bot.topics import parse_query
from bot.topics.index import TopicIndex
from bot.topics.prefixes import Prefixes

LETTERS = st.text("abc", min_size=1, max_size=6)


def brute(filed: dict[str, set[int]], words: list[str]) -> set[int]:
    """Every term whose token starts one of *words*: what `Prefixes.held` must give, found the obvious way."""
    return {number for token, numbers in filed.items() for number in numbers for w in words if w.startswith(token)}


# Tokens over three letters nest deeply (a, ab, abc, ...): adds and removals in any order, checked after each step.
@given(st.lists(st.tuples(st.booleans(), LETTERS, st.integers(0, 5)), max_size=40), st.lists(LETTERS, max_size=8))
@settings(max_examples=200, deadline=None)
def test_held_prefix_terms_equal_the_brute_force_after_every_add_and_removal(steps, words):
    prefixes, filed = Prefixes(), {}
    for adding, token, number in steps:
        here = filed.setdefault(token, set())
        if adding and number not in here:
            prefixes.add(token, number)
            here.add(number)
        elif not adding and number in here:
            prefixes.remove(token, number)
            here.discard(number)
        held = set().union(*prefixes.held(words))
        assert held == brute(filed, words)
        assert bool(prefixes) == any(filed.values())
    assert {token: set(numbers) for token, numbers in prefixes.terms.items()} == {t: n for t, n in filed.items() if n}


def test_a_word_is_cut_only_down_to_its_longest_indexed_prefix():
    prefixes = Prefixes()
    for number, token in enumerate(["lea", "learn", "learni", "unl"]):
        prefixes.add(token, number)
    assert sorted(set().union(*prefixes.held(["learning", "leap", "le", "unlearning"]))) == [0, 1, 2, 3]
    assert prefixes.held(["learning"]) == [(0, 1, 2)]  # one look-up that hits: learni's closure
    prefixes.remove("learn", 1)
    assert prefixes.held(["learning", "learns"]) == [(0, 2), (0,)]


LEARNING = Paper(id="2401.00001", title="Learning to unlearn", abstract="Learners learn; unlearning is learnt.")
NOTHING = Paper(id="2401.00002", title="Leaves", abstract="Nothing else here.")


def test_the_index_keeps_nested_prefix_topics_right_as_they_come_and_go():
    topics = {"lea": "lea*", "learn": "learn* -leaves", "learni": "title:learni*", "learnt": "learnt*", "unl": "unl*"}
    index: TopicIndex[str] = TopicIndex()
    for key, text in topics.items():
        index.add(key, parse_query(text))
    assert index.matches(LEARNING).keys() == ["lea", "learn", "learni", "learnt", "unl"]
    assert index.matches(NOTHING).keys() == ["lea"]
    index.remove("lea")
    index.remove("learni")
    assert index.matches(LEARNING).keys() == ["learn", "learnt", "unl"]
    assert index.matches(NOTHING).keys() == []
    index.add("le", parse_query("le*"))  # a shorter one added later still reaches every word starting with it
    assert index.matches(LEARNING).keys() == ["learn", "learnt", "unl", "le"]
    assert index.matches(NOTHING).keys() == ["le"]
    for key in ("learn", "learnt", "unl", "le"):
        index.remove(key)
    assert len(index) == 0 and index.matches(LEARNING) == []
