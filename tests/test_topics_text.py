"""The topic query language, continued: canonical text and search terms, explanations, errors for malformed
queries, and the per-paper text cache."""

from __future__ import annotations

import pytest

from bot.topics import MAX_QUERY_LENGTH, Hit, Match, PaperText, Query, QueryError, parse_query
from tests.test_topics import paper, seed_papers


# --- canonical text and search terms ----------------------------------------------------------

@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ('"model merging" OR unlearning -diffusion', '"model merging" OR unlearning -diffusion'),
        ('  "Model  Merging"   OR   Unlearning  NOT Diffusion ', '"model merging" OR unlearning -diffusion'),
        ("-diffusion unlearning", "unlearning -diffusion"),
        ("((alpha))", "alpha"),
        ("(alpha beta) gamma", "alpha beta gamma"),
        ("(alpha OR beta) gamma", "(alpha OR beta) gamma"),
        ("-(alpha) beta", "beta -alpha"),
        ("-(alpha OR beta) gamma", "gamma -(alpha OR beta)"),
        ('author:"Graham Neubig"', 'author:"graham neubig"'),
        ('"model"', "model"),
        ("Unlearn*", "unlearn*"),
        ('"or"', "or"),
    ],
)
def test_canonical_text(written, canonical):
    query = parse_query(written)
    assert query.key == canonical
    assert parse_query(query.text).key == canonical
    assert query == parse_query(canonical) and hash(query) == hash(parse_query(canonical))


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ('author:"Zoë Müller"', 'author:"Zoë Müller"'),
        ('  "Model  Merging"   OR   Unlearning  NOT Diffusion ', '"Model Merging" OR Unlearning -Diffusion'),
        ("GPT-3.5 Unlearn* cat:CS.cl", "GPT-3.5 Unlearn* cat:cs.CL"),
        ('a "OR" b', 'a "OR" b'),
        ("title:State-of-the-Art", "title:State-of-the-Art"),
    ],
)
def test_text_keeps_the_words_as_typed_and_parses_back_to_the_same_query(written, shown):
    query = parse_query(written)
    assert query.text == shown
    again = parse_query(query.text)
    assert again.text == shown and again.key == query.key and again == query


def test_search_terms_are_positive_terms_only():
    query = parse_query('"model merging" OR unlearn* -diffusion -(image OR video) Unlearn* gpt-4')
    assert query.search_terms() == ['"model merging"', "unlearn*", '"gpt 4"']


# --- explanations -----------------------------------------------------------------------------

def test_explain_names_terms_and_fields():
    target = paper("What Matters for Model Merging at Scale?", "Model merging combines experts.",
                   authors=("Graham Neubig", "Tri Dao"))
    match = parse_query('"model merging" author:"Graham Neubig"').match(target)
    assert isinstance(match, Match)
    assert match.explain() == '"model merging" in title, abstract; author Graham Neubig'
    assert match.hits == (
        Hit('"model merging"', ("title", "abstract")),
        Hit('"Graham Neubig"', ("author",), ("Graham Neubig",)),  # as typed
    )


def test_explain_lists_only_the_sides_of_or_that_matched():
    target = paper("Unlearning", "We study unlearning.", keywords=("unlearning",))
    match = parse_query('"model merging" OR unlearning -diffusion').match(target)
    assert match.explain() == "unlearning in title, abstract, keywords"


def test_explain_field_restricted_and_several_authors():
    target = paper("Unlearning", authors=("Ann Smith", "Bob Smith", "Carol Jones"))
    assert parse_query("title:unlearning").match(target).explain() == "unlearning in title"
    assert parse_query("author:smith").match(target).explain() == "authors Ann Smith, Bob Smith"


def test_explain_does_not_repeat_a_term():
    target = paper("alpha beta")
    assert parse_query("alpha alpha OR alpha beta").match(target).explain() == "alpha in title; beta in title"


def test_non_matching_paper_gives_none():
    assert parse_query("quantum").match(paper("Classical things")) is None


# --- malformed queries ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the query is empty"),
        ("   ", "the query is empty"),
        ('""', "the quotes at character 1 are empty"),
        ('a "!!"', "the quotes at character 3 hold no letters or digits"),
        ("OR", "'OR' at character 1 needs a word before it"),
        ("OR alpha", "'OR' at character 1 needs a word before it"),
        ("alpha OR", "'OR' at character 7 needs a word after it"),
        ("alpha OR OR beta", "'OR' at character 7 is followed by 'OR'"),
        ("alpha AND OR beta", "'AND' at character 7 is followed by 'OR'"),
        ("AND alpha", "'AND' at character 1 needs a word before it"),
        ("alpha (OR beta)", "'OR' at character 8 needs a word before it"),
        ("()", "the parentheses at character 1 are empty"),
        ("alpha (beta", "the '(' at character 7 is never closed"),
        ("(", "the '(' at character 1 is never closed"),
        ("alpha) beta", "the ')' at character 6 has no '(' before it"),
        (")", "the ')' at character 1 has no '(' before it"),
        ('alpha "beta', "the quote at character 7 is never closed"),
        ("foo:bar", "unknown field 'foo:' at character 1; the fields are title:, abstract: and author:"),
        ("alpha title:", "'title:' at character 7 needs a word or \"phrase\" after it"),
        ("mod*el", "must end a word"),
        ("un*learn", "must end a word"),
        ("a*", "the prefix 'a*' at character 1 is too short"),
        ("-alpha", "a query needs at least one word to look for, not only exclusions"),
        ("NOT alpha -beta", "a query needs at least one word to look for, not only exclusions"),
        ("alpha OR -beta", "the side of OR starting at character 10 only leaves words out"),
        ("(-alpha) beta", "the parentheses at character 1 only leave words out"),
        ("alpha -", "'-' at character 7 has nothing after it"),
        ("alpha NOT", "'NOT' at character 7 needs a word after it"),
        ("alpha --beta", "comes right after '-'"),
        ("&", "'&' at character 1 has no letters or digits"),
        ("(" * 12 + "alpha" + ")" * 12, "nest more than 10 deep"),
    ],
)
def test_malformed_queries_say_what_is_wrong(text, message):
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_too_long_query_gives_its_length():
    with pytest.raises(QueryError) as caught:
        parse_query("x" * 5000)
    assert str(caught.value) == "the query is 5,000 characters long; the limit is 300"
    assert parse_query("x " * (MAX_QUERY_LENGTH // 2)).text.startswith("x x")


# --- the per-paper cache ----------------------------------------------------------------------

def test_paper_text_is_built_once_per_paper_content():
    first = seed_papers()[0]
    assert PaperText.of(first) is PaperText.of(first.model_copy())
    changed = first.model_copy(update={"title": "Something else entirely"})
    assert PaperText.of(changed) is not PaperText.of(first)
    assert parse_query("entirely").match(changed) and not parse_query("entirely").match(first)


def test_match_accepts_a_prebuilt_paper_text():
    target = seed_papers()[90]
    query = parse_query('"model merging"')
    assert query.match(PaperText.of(target)) == query.match(target)


def test_query_is_printable():
    query = parse_query("alpha OR beta")
    assert str(query) == "alpha OR beta" and repr(query) == "Query('alpha OR beta')"
    assert isinstance(query, Query)
