"""Properties of the topic language that must hold for any input, checked with hypothesis."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bot.topics import MAX_QUERY_LENGTH, PaperText, QueryError, parse_query
from bot.topics.text import singular, words
from tests.test_topics import seed_papers

PAPERS = seed_papers()
VOCABULARY = sorted({w for p in PAPERS for w in words(p.title) if w.isalpha() and len(w) > 2})
SYNTAX = st.sampled_from(['"', "“", "”", "(", ")", "-", "*", ":", " ", "OR", "AND", "NOT", "title:",
                          "author:", "abstract:", "foo:", "é", "\u0301", "ß", "_", "\n", "-(",
                          # filters and the pieces of their values
                          "cat:", "cs.CL", "cs", ".", ".*", "hep-th", "upvotes:", "stars:", "comments:",
                          ">=", "<", "=", "20", "has:", "code"])

queryish_text = st.lists(st.one_of(SYNTAX, st.sampled_from(VOCABULARY), st.text(max_size=3)), max_size=40).map(
    "".join
)
word = st.sampled_from(VOCABULARY)


def positive_term() -> st.SearchStrategy[str]:
    return st.one_of(
        word,
        word.map(str.upper).filter(lambda w: w not in ("OR", "AND", "NOT")),
        st.tuples(word, word).map(lambda pair: f'"{pair[0]} {pair[1]}"'),
        word.filter(lambda w: len(w) >= 4).map(lambda w: w[:3] + "*"),
        word.map(lambda w: f"title:{w}"),
    )


positive_query = st.lists(
    st.lists(positive_term(), min_size=1, max_size=3).map(" ".join), min_size=1, max_size=3
).map(" OR ".join)


def _parses_or_says_why(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert str(error) and "\n" not in str(error)
        return
    # What parses must print to text that parses back to the same query.
    assert parse_query(query.text).text == query.text
    # Something to look for: words, or (a query of filters alone) at least one filter.
    assert query.everything or len(query.search_terms()) >= 1 or any(query.root.positive_leaves())


@given(st.text(max_size=400))
@settings(max_examples=400)
def test_any_text_parses_or_raises_query_error(text):
    _parses_or_says_why(text)


@given(queryish_text)
@example('"*\n"')  # a quoted star over a line break once put the break into the message
@settings(max_examples=600)
def test_query_like_text_parses_or_raises_query_error(text):
    _parses_or_says_why(text)


@given(st.text(min_size=MAX_QUERY_LENGTH + 1, max_size=5000))
@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
def test_long_text_is_refused_with_its_length(text):
    try:
        parse_query(text)
    except QueryError as error:
        assert f"{len(text):,} characters" in str(error)
    else:
        raise AssertionError("a query over the limit was accepted")


@given(positive_query, word, st.sampled_from(["-{}", "NOT {}", "-title:{}"]), st.booleans())
@settings(max_examples=300)
def test_no_match_ever_contains_an_excluded_word(positive, excluded, form, exclusion_first):
    exclusion = form.format(excluded)
    text = f"{exclusion} {positive}" if exclusion_first else f"{positive} {exclusion}"
    try:
        query = parse_query(text)
    except QueryError:
        return  # e.g. too long: nothing to check
    field = "title" if "title:" in form else "default"
    key = singular(excluded)
    for paper in PAPERS:
        if query.match(paper):
            assert key not in getattr(PaperText.of(paper), field).positions, (text, paper.title)


@given(word)
def test_a_single_word_matches_exactly_the_papers_containing_it(term):
    """Check the matcher against a naive re-implementation of whole-word, plural-folded search."""
    query = parse_query(term)
    key = singular(term)
    for paper in PAPERS:
        naive = any(
            singular(w) == key
            for text in (paper.title, paper.abstract, *paper.ai_keywords)
            for w in words(text)
        )
        assert (query.match(paper) is not None) == naive, (term, paper.title)


@given(positive_query)
@settings(max_examples=100)
def test_matching_is_deterministic(text):
    assume(len(text) <= MAX_QUERY_LENGTH)
    query = parse_query(text)
    again = parse_query(text)
    for paper in PAPERS:
        first = query.match(paper)
        assert first == query.match(paper) == again.match(paper.model_copy(deep=True))
        if first is not None:
            assert first.hits and first.explain()


@given(positive_query, st.lists(st.sampled_from(["-{}", "-title:{}"]), max_size=2), st.lists(word, min_size=2, max_size=2))
@settings(max_examples=200)
def test_the_yes_no_test_agrees_with_match(positive, forms, excluded):
    text = " ".join([positive, *(form.format(w) for form, w in zip(forms, excluded))])
    try:
        query = parse_query(text)
    except QueryError:
        return
    for paper in PAPERS:
        assert query.matches(paper) == (query.match(paper) is not None), (text, paper.title)
        assert query.matches(PaperText.of(paper)) == query.matches(paper)
