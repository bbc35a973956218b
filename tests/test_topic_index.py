"""The topic index: it must give exactly what testing every topic gives, while testing fewer."""

from __future__ import annotations

import gc

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model.paper import Paper
from bot.topics import Hit, Match, PaperText, QueryError, parse_query
from bot.topics.matcher import Term
from bot.topics.index import PAIR, PREFIX, WORD, TopicIndex, guard_of
from bot.topics.text import words
from tests.test_topics import seed_papers

PAPERS = seed_papers()
VOCABULARY = sorted({w for p in PAPERS for w in words(f"{p.title} {p.abstract}") if w.isalpha() and len(w) > 1})
AUTHOR_WORDS = sorted({w for p in PAPERS for name in p.authors for w in words(name)})
MERGING = next(p for p in PAPERS if p.title == "What Matters for Model Merging at Scale?")
UNLEARNING = next(p for p in PAPERS if p.title == "Model Sparsity Can Simplify Machine Unlearning")


def naive(topics: dict[object, str], paper: Paper) -> dict:
    """Test every topic against *paper*: what the index must reproduce."""
    found = {}
    for key, text in topics.items():
        match = parse_query(text).match(paper)
        if match is not None:
            found[key] = match
    return found


def index_of(topics: dict[object, str]) -> TopicIndex:
    index: TopicIndex = TopicIndex()
    for key, text in topics.items():
        index.add(key, parse_query(text))
    return index


# --- generated queries over the seed vocabulary --------------------------------------------------

word = st.sampled_from(VOCABULARY)
author_word = st.sampled_from(AUTHOR_WORDS)
prefix = word.filter(lambda w: len(w) >= 3).flatmap(lambda w: st.integers(2, len(w)).map(lambda n: w[:n] + "*"))


def _phrase(parts: list[str]) -> str:
    return '"' + " ".join(parts) + '"'


term = st.one_of(
    word,
    word,
    prefix,
    st.lists(st.one_of(word, word, prefix), min_size=2, max_size=3).map(_phrase),
    st.tuples(st.sampled_from(["title:", "abstract:"]), st.one_of(word, prefix)).map("".join),
    author_word.map(lambda w: f"author:{w}"),
    st.lists(author_word, min_size=2, max_size=2).map(lambda ws: "author:" + _phrase(ws)),
)
exclusion = st.tuples(st.sampled_from(["-", "NOT ", "-title:", "-author:"]), st.one_of(word, prefix)).map("".join)


def _queries(leaf: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    chain = st.tuples(
        st.lists(leaf, min_size=1, max_size=3), st.lists(exclusion, max_size=2)
    ).map(lambda parts: " ".join(parts[0] + parts[1]))
    return st.lists(chain, min_size=1, max_size=3).map(" OR ".join)


nested = st.recursive(term, lambda inner: _queries(inner).map(lambda q: f"({q})"), max_leaves=4)
query_text = _queries(nested)


def _parsed_topics(texts: list[str]) -> dict[object, str]:
    topics: dict[object, str] = {}
    for number, text in enumerate(texts):
        try:
            parse_query(text)
        except QueryError:
            continue  # too long, mostly: the parser's own tests cover refusals
        topics[(number % 3, number)] = text
    return topics


# 75 lists of up to 25 queries, each checked against the 92 seed papers: thousands of (query, paper) pairs.
@given(st.lists(query_text, min_size=1, max_size=25))
@settings(max_examples=75, deadline=None)
def test_index_gives_exactly_the_naive_matches_with_the_same_explanations(texts):
    topics = _parsed_topics(texts)
    index = index_of(topics)
    assert len(index) == len(topics)
    for paper in PAPERS:
        expected = naive(topics, paper)
        got = index.matches(paper)
        assert sorted(key for key, _ in got) == sorted(expected), paper.title
        for key, match in reversed(got):  # explanations are worked out lazily, in whatever order asked
            assert match == expected[key]
            assert match.explain() == expected[key].explain()


@given(query_text)
@settings(max_examples=300, deadline=None)
def test_every_matching_paper_contains_one_of_the_guard_entries(text):
    try:
        query = parse_query(text)
    except QueryError:
        return
    guard = guard_of(query)
    assert guard is not None and guard.entries  # pure exclusions never parse, so a guard always exists
    for paper in PAPERS:
        if query.match(paper) is not None:
            assert _contains_one(PaperText.of(paper), guard.entries), (text, paper.title)


def _contains_one(text: PaperText, entries) -> bool:
    """Check a guard the slow, obvious way, independently of the index's look-ups."""
    for kind, field, token in entries:
        field_text = getattr(text, field)
        if kind == WORD and token in field_text.keys:
            return True
        if kind == PAIR and any(pair == token for pair in zip(field_text.keys, field_text.keys[1:])):
            return True
        if kind == PREFIX and any(w.startswith(token) for w in field_text.words):
            return True
    return False


# --- behaviour of the index itself --------------------------------------------------------------------

def test_a_paper_is_tested_only_against_topics_it_might_match():
    index = index_of({"merge": '"model merging"', "unlearn": "unlearn*", "neubig": "author:neubig"})
    assert index.candidates(MERGING) == ["merge"]
    assert index.candidates(UNLEARNING) == ["unlearn"]


def test_the_rarest_looking_part_of_a_conjunction_guards_it():
    guard = guard_of(parse_query("model unlearning"))
    assert guard is not None
    assert guard.entries == {(WORD, "default", "unlearning")}


def test_a_phrase_is_guarded_by_adjacent_words_and_an_or_by_every_side():
    guard = guard_of(parse_query('"model merging" OR title:unlearn* -diffusion'))
    assert guard is not None
    assert guard.entries == {(PAIR, "default", ("model", "merging")), (PREFIX, "title", "unlearn")}


def test_matches_accept_a_paper_or_its_text_and_explain_exactly():
    index = index_of({1: '"model merging" OR sparsity', 2: "unlearn* -diffusion"})
    from_paper = index.matches(UNLEARNING)
    assert from_paper == index.matches(PaperText.of(UNLEARNING))
    assert [key for key, _ in from_paper] == [1, 2]
    assert from_paper[1][1].explain() == parse_query("unlearn* -diffusion").match(UNLEARNING).explain()
    assert "unlearn* in title" in from_paper[1][1].explain()


def test_exclusions_still_apply_to_candidates():
    index = index_of({"no-scale": '"model merging" -scale'})
    assert index.candidates(MERGING) == ["no-scale"]
    assert index.matches(MERGING) == []


def test_remove_and_re_add_change_what_matches():
    index = index_of({"a": "merging", "b": "unlearn*", "c": "author:neubig OR merging"})
    index.remove("a")
    index.remove("missing")  # nothing to do
    assert len(index) == 2 and "a" not in index
    assert [key for key, _ in index.matches(MERGING)] == ["c"]
    index.add("b", parse_query("merging"))  # replaces b's unlearn* and moves b to the end
    assert len(index) == 2
    assert [key for key, _ in index.matches(MERGING)] == ["c", "b"]
    assert index.matches(UNLEARNING) == []
    for key in ("b", "c"):
        index.remove(key)
    assert len(index) == 0 and index.matches(MERGING) == []


def test_removing_the_last_prefix_of_a_length_keeps_other_prefixes_working():
    index = index_of({"short": "unl*", "long": "unlearn*"})
    index.remove("short")
    assert [key for key, _ in index.matches(UNLEARNING)] == ["long"]
    index.remove("long")
    index.add("again", parse_query("unle*"))
    assert [key for key, _ in index.matches(UNLEARNING)] == ["again"]


def test_author_terms_match_folded_names():
    zoe = Paper(id="2403.00001", title="A study", authors=("Zoë Kravitz-Müller", "Tri Dao"))
    index = index_of({"zoe": 'author:"zoe kravitz"', "muller": "author:MULLER", "dao": "title:dao"})
    got = index.matches(zoe)
    assert [key for key, _ in got] == ["zoe", "muller"]
    assert got[0][1].explain() == "author Zoë Kravitz-Müller"


def test_keys_sharing_a_query_are_tested_once_and_all_returned():
    index = index_of({"a": "merging", "b": "unlearn*", "c": "Merging", "d": "merging"})
    assert [key for key, _ in index.matches(MERGING)] == ["a", "c", "d"]  # "Merging" is the same query
    assert index.candidates(MERGING) == ["a", "c", "d"]
    index.remove("a")
    index.remove("c")
    assert [key for key, _ in index.matches(MERGING)] == ["d"]
    index.remove("d")
    assert index.candidates(MERGING) == [] and len(index) == 1


def test_matches_leave_explaining_to_whoever_asks(monkeypatch):
    index = index_of({1: '"model merging"', 2: "merging OR author:neubig", 3: "scale -unlearning"})
    expected = parse_query("merging OR author:neubig").match(MERGING).explain()
    explained: list[str] = []
    real_hit = Term.hit

    def counting_hit(term, text):
        explained.append(term.label)
        return real_hit(term, text)

    monkeypatch.setattr(Term, "hit", counting_hit)
    got = index.matches(MERGING)
    assert [key for key, _ in got] == [1, 2, 3]
    assert explained == []
    assert got[1][1].explain() == expected
    assert explained == ["merging"]
    got[1][1].explain()
    assert explained == ["merging"]  # worked out once


def test_a_deferred_match_equals_the_same_match_made_at_once():
    calls: list[int] = []
    hits = (Hit('"model merging"', ("title", "abstract")),)

    def work(argument: int) -> tuple[Hit, ...]:
        calls.append(argument)
        return hits

    deferred = Match.deferred(work, 7)
    assert calls == []
    assert deferred == Match(hits) and hash(deferred) == hash(Match(hits))
    assert deferred.explain() == '"model merging" in title, abstract'
    assert repr(deferred) == repr(Match(hits)) == f"Match(hits={hits!r})"
    assert calls == [7]
    assert Match(hits) != Match(()) and Match(hits) != hits


def test_a_result_lists_its_keys_without_making_a_match_and_keys_sharing_a_query_share_one(monkeypatch):
    index = index_of({"a": "merging", "b": '"model merging"', "c": "Merging", "d": "unlearning"})
    made: list[object] = []
    real_deferred = Match.deferred.__func__  # type: ignore[attr-defined]

    def counting_deferred(cls, work, argument):
        made.append(argument)
        return real_deferred(cls, work, argument)

    monkeypatch.setattr(Match, "deferred", classmethod(counting_deferred))
    got = index.matches(MERGING)
    assert got.keys() == ["a", "c", "b"] and len(got) == 3  # grouped by query, in the order first added
    assert made == []  # a poll that keeps one topic per channel makes only the matches it walks
    pairs = list(got)
    assert [key for key, _ in pairs] == got.keys() and len(made) == 2
    assert pairs[0][1] is pairs[1][1] and pairs[0][1] == parse_query("merging").match(MERGING)
    assert got == pairs and list(reversed(got)) == pairs[::-1] and got != pairs[:2]
    assert index.matches(UNLEARNING).keys() == ["d"]


def test_matching_keeps_no_object_per_match_alive():
    """At 100,000 topics a paper matches thousands; objects kept per match woke the collector's full passes."""
    topics = {number: text for number, text in enumerate(["merging", "model", '"model merging"', "scale"] * 500)}
    index = index_of({key: f"{text} OR w{key}" for key, text in topics.items()})  # 2,000 distinct queries
    gc.collect()
    before = len(gc.get_objects())
    got = index.matches(MERGING)
    assert len(got.keys()) == 2000
    assert len(gc.get_objects()) - before < 20


def test_after_most_topics_go_the_rest_match_in_the_order_first_added():
    """Dropping most queries renumbers the rest (`TopicIndex._compact`): same matches, same order, same reasons."""
    texts = ["merging", "model", '"model merging" -unlearning', "scale OR author:neubig", "unlearn* sparsity"]
    topics = {number: f"{texts[number % 5]} OR w{number}" for number in range(3000)}
    index = index_of(topics)
    kept = {key: text for key, text in topics.items() if key % 7 == 3}
    for key in topics.keys() - kept.keys():
        index.remove(key)
    index.add("new", parse_query("merging"))  # after the renumbering, still last
    fresh = index_of({**kept, "new": "merging"})
    for paper in (MERGING, UNLEARNING):
        got, expected = index.matches(paper), fresh.matches(paper)
        assert got.keys() == expected.keys() and len(got.keys()) > 100
        assert [match.explain() for _, match in got] == [match.explain() for _, match in expected]
    assert index.matches(MERGING).keys()[-1] == "new" and len(index) == len(kept) + 1


def test_a_query_many_channels_follow_keeps_its_keys_in_the_order_added():
    index = index_of({number: "merging" for number in range(40)})  # past a tuple's length: kept in a list
    for number in range(0, 40, 3):
        index.remove(number)
    index.add(3, parse_query("Merging"))
    expected = [number for number in range(40) if number % 3] + [3]
    assert index.matches(MERGING).keys() == expected
    assert [list(keys) for _, keys in index.matches(MERGING).groups()] == [expected]


def test_terms_forgotten_and_new_ones_reuse_their_numbers_and_match_like_a_fresh_index():
    """Filing keeps lists indexed by term number (`bot.topics.filing`): churn must not grow them nor mix terms up."""
    shapes = ['"model merging" -w{r}', "merg* OR author:neubig OR w{r}a*", "unlearning sparsity w{r}",
              "title:model -w{r}b"]
    index, room = index_of({}), None
    for round_ in range(6):  # each round forgets a few terms of the last and brings as many new ones
        texts = dict(enumerate(shape.format(r=round_) for shape in shapes))
        for number, text in texts.items():
            index.add(number, parse_query(text))
        room = room or index._next_term
        fresh = index_of(texts)
        for paper in (MERGING, UNLEARNING):
            assert index.matches(paper).keys() == fresh.matches(paper).keys() == sorted(naive(texts, paper))
            assert [m.explain() for _, m in index.matches(paper)] == [m.explain() for _, m in fresh.matches(paper)]
    assert index._next_term <= room + 4  # numbers given; a new term may come before the one it replaces goes
