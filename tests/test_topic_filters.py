"""Filters in the topic language: cat:, upvotes:/stars:/comments: counts and has:code.

Parsing and canonical text, matching, explanations, one-line errors, `Query.categories`,
agreement of the topic index with testing every topic, and BibTeX's primaryClass.
"""

from __future__ import annotations

import bibtexparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands.bibtex import bibtex, entry
from bot.model.paper import Paper
from bot.topics import EveryPaper, PaperText, QueryError, parse_query
from bot.topics.index import ARCHIVE, CATEGORY, CHECK, TopicIndex, guard_of
from tests import test_topic_index as index_tests
from tests.test_topics import seed_papers


def paper(title: str = "Unlearning in practice", *, categories: tuple[str, ...] = (), upvotes: int | None = None,
          comments: int | None = None, stars: int | None = None, repo: str | None = None) -> Paper:
    return Paper(id="2403.00001", title=title, categories=categories, upvotes=upvotes, comments=comments,
                 github_stars=stars, github_repo=repo)


def matches(query: str, target: Paper) -> bool:
    found = parse_query(query).match(target)
    assert (found is not None) == parse_query(query).matches(target)  # the yes/no test agrees
    return found is not None


def explain(query: str, target: Paper) -> str:
    found = parse_query(query).match(target)
    assert found is not None, query
    return found.explain()


CL = paper(categories=("cs.CL", "cs.LG"), upvotes=23, comments=4, stars=120, repo="https://github.com/a/b")
HEP = paper("Strings", categories=("hep-th", "gr-qc"))
BARE = paper("Nothing known")  # an arXiv-only paper: no categories given, no counts, no code


# --- canonical text -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("cat:cs.CL", "cat:cs.CL"),
        ("CAT:CS.cl", "cat:cs.CL"),
        ("cat:cs", "cat:cs.*"),
        ("cat:cs.*", "cat:cs.*"),
        ("cat:hep-th", "cat:hep-th"),
        ("cat:hep-th.*", "cat:hep-th"),  # no subject classes: the archive is the one category
        ("cat:q-bio.nc", "cat:q-bio.NC"),
        ("cat:physics.OPTICS", "cat:physics.optics"),
        ("cat:Cond-Mat.Mes-Hall", "cat:cond-mat.mes-hall"),
        ("upvotes:20", "upvotes:>=20"),
        ("upvotes:>=20", "upvotes:>=20"),
        ("Stars:>100", "stars:>100"),
        ("comments:<=3", "comments:<=3"),
        ("upvotes:<5", "upvotes:<5"),
        ("upvotes:=0", "upvotes:=0"),
        ("upvotes:007", "upvotes:>=7"),
        ("has:code", "has:code"),
        ("HAS:Code", "has:code"),
        ("-cat:cs.CV unlearning cat:cs.*", "unlearning cat:cs.* -cat:cs.CV"),
        ("(cat:cs.CL OR cat:cs.LG) upvotes:>=10 -has:code", "(cat:cs.CL OR cat:cs.LG) upvotes:>=10 -has:code"),
        ("NOT upvotes:>=5 merging", "merging -upvotes:>=5"),
    ],
)
def test_canonical_text(written, canonical):
    query = parse_query(written)
    assert query.text == canonical
    assert parse_query(canonical).text == canonical
    assert query == parse_query(canonical)


# --- cat: ---------------------------------------------------------------------------------------------

def test_a_category_matches_whatever_its_case():
    assert matches("cat:cs.CL", CL)
    assert matches("cat:CS.cl", CL)
    assert matches("cat:cs.lg", CL)  # not only the primary category
    assert matches("cat:cs.CL", paper(categories=("CS.CL",)))
    assert not matches("cat:cs.CV", CL)
    assert not matches("cat:cs.CL", BARE)


def test_an_archive_matches_its_categories_and_nothing_else():
    assert matches("cat:cs.*", CL) and matches("cat:cs", CL)
    assert not matches("cat:math", CL)
    assert not matches("cat:math", paper(categories=("math-ph",)))  # another archive, not math.*
    assert matches("cat:math", paper(categories=("math.AG",)))
    assert not matches("cat:c", CL)  # an archive is a whole name, not a prefix


def test_an_archive_without_subject_classes_matches_exactly():
    assert matches("cat:hep-th", HEP)
    assert matches("cat:gr-qc", HEP)
    assert not matches("cat:hep-ph", HEP)
    assert not matches("cat:hep", HEP)
    assert not matches("cat:hep-th", paper(categories=("hep-ph",)))


def test_categories_names_only_the_followed_ones():
    assert parse_query("cat:cs.CL OR cat:CS").categories() == {"cs.CL", "cs.*"}
    assert parse_query("unlearning cat:hep-th -cat:cs.CV").categories() == {"hep-th"}
    assert parse_query("merging -(cat:cs.CV OR cat:cs.RO)").categories() == set()
    assert parse_query("(cat:stat.ML -cat:stat.TH) OR title:x").categories() == {"stat.ML"}
    assert parse_query("upvotes:>=5").categories() == set()
    assert EveryPaper().categories() == set()
    assert isinstance(parse_query("cat:cs.CL").categories(), frozenset)


# --- counts and has:code ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("upvotes:>=23", True), ("upvotes:>=24", False), ("upvotes:23", True), ("upvotes:24", False),
        ("upvotes:>22", True), ("upvotes:>23", False), ("upvotes:<=23", True), ("upvotes:<=22", False),
        ("upvotes:<24", True), ("upvotes:<23", False), ("upvotes:=23", True), ("upvotes:=22", False),
        ("stars:>=100", True), ("stars:>=121", False), ("comments:=4", True), ("comments:>4", False),
        ("has:code", True),
    ],
)
def test_counts_compare_as_written(query, expected):
    assert matches(query, CL) is expected


@pytest.mark.parametrize("query", ["upvotes:>=0", "upvotes:<5", "upvotes:<=0", "upvotes:=0", "stars:<1",
                                   "comments:<=100", "has:code"])
def test_an_unknown_count_satisfies_no_filter(query):
    assert not matches(query, BARE)
    assert matches(f"nothing -{query}", BARE)  # and so an exclusion of it keeps the paper


def test_zero_is_a_known_count():
    assert matches("upvotes:=0", paper(upvotes=0)) and matches("upvotes:<1", paper(upvotes=0))


# --- composing ------------------------------------------------------------------------------------

def test_filters_compose_like_any_term():
    assert matches("unlearning cat:cs.CL upvotes:>=20", CL)
    assert not matches("unlearning cat:cs.CL upvotes:>=30", CL)
    assert matches("merging OR cat:cs.CL", CL)
    assert matches("unlearning -cat:cs.CV", CL)
    assert not matches("unlearning -cat:cs.LG", CL)
    assert matches("(cat:math OR has:code) unlearning", CL)
    assert not matches("(cat:math OR stars:>500) unlearning", CL)
    assert matches("unlearning AND NOT upvotes:<10", CL)


def test_a_query_of_filters_alone_is_valid_and_has_no_words_to_search():
    query = parse_query("upvotes:>=50")
    assert not query.everything
    assert query.search_terms() == [] and query.search_branches() == []
    assert [p.title for p in seed_papers() if query.match(p)] == [p.title for p in seed_papers() if p.upvotes >= 50]
    assert parse_query("cat:cs.CL has:code").match(CL) is not None


def test_search_helpers_skip_filters():
    query = parse_query("unlearn* cat:cs.CL OR merging upvotes:>=5 OR stars:>10 -cat:cs.CV")
    assert query.search_terms() == ["unlearn*", "merging"]
    # The stars-only side has no words a search could find its papers by.
    assert query.search_branches() == [("unlearn*",), ("merging",)]
    assert parse_query("(alpha OR has:code) beta").search_branches() == [("alpha", "beta"), ("beta",)]


# --- explanations -------------------------------------------------------------------------------

def test_explanations_name_what_the_paper_showed():
    assert explain("cat:cs.CL", CL) == "cat:cs.CL"
    assert explain("cat:cs.*", CL) == "cat:cs.CL, cs.LG"
    assert explain("cat:hep-th", HEP) == "cat:hep-th"
    assert explain("upvotes:20", CL) == "upvotes 23 ≥ 20"
    assert explain("stars:>100", CL) == "stars 120 > 100"
    assert explain("comments:<=4", CL) == "comments 4 ≤ 4"
    assert explain("upvotes:<30", CL) == "upvotes 23 < 30"
    assert explain("comments:=4", CL) == "comments 4 = 4"
    assert explain("has:code", CL) == "has code"
    assert explain("unlearning cat:cs.CL upvotes:>=20 -cat:cs.CV", CL) == (
        "unlearning in title; cat:cs.CL; upvotes 23 ≥ 20"
    )
    assert explain("merging OR has:code", CL) == "has code"  # only the side that matched


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cat:", "'cat:' at character 1 needs an arXiv category right after it, with no space or quotes, "
                 "as in cat:cs.CL or cat:cs.*"),
        ("alpha cat: cs.CL", "'cat:' at character 7 needs an arXiv category right after it"),
        ('cat:"cs CL"', "'cat:' at character 1 needs an arXiv category right after it"),
        ("cat:cs..x", "'cs..x' at character 5 is not an arXiv category; write one such as cs.CL or hep-th, "
                      "or cs.* for every category of cs"),
        ("cat:cs.", "'cs.' at character 5 is not an arXiv category"),
        ("cat:.CL", "'.CL' at character 5 is not an arXiv category"),
        ("cat:cs*", "'cs*' at character 5 is not an arXiv category"),
        ("cat:*", "'*' at character 5 is not an arXiv category"),
        ("cat:cs.CL.x", "'cs.CL.x' at character 5 is not an arXiv category"),
        ("cat:68T50", "'68T50' at character 5 is not an arXiv category"),
        ("cat:cs.\u212a", "is not an arXiv category"),  # a Kelvin sign is not a k
        ("cat:" + "a" * 41, "the category at character 5 is 41 characters long; the limit is 40"),
        ("upvotes:", "'upvotes:' at character 1 needs a number right after it, with no space or quotes, "
                     "as in upvotes:>=20"),
        ("upvotes:>= 5", "'>=' after 'upvotes:' at character 9 is not a count"),
        ("upvotes:>=-1", "'>=-1' after 'upvotes:' at character 9 is not a count; write upvotes:>=N "
                         "(or >, <=, <, =) with N a whole number from 0 to 1,000,000,000"),
        ("stars:1.5", "'1.5' after 'stars:' at character 7 is not a count"),
        ("comments:many", "'many' after 'comments:' at character 10 is not a count"),
        ("upvotes:=>5", "'=>5' after 'upvotes:' at character 9 is not a count"),
        ("upvotes:>=1e3", "is not a count"),
        ("upvotes:>=1000000001", "the count 1000000001 at character 9 is over the limit of 1,000,000,000"),
        ("has:", "'has:' at character 1 needs what the paper must have right after it"),
        ("has:pdf", "unknown 'has:' value 'pdf' at character 5; has:code is the only one"),
        ("foo:bar", "unknown field 'foo:' at character 1; the fields are title:, abstract: and author:, "
                    "and the filters are cat:, upvotes:, stars:, comments: and has:code"),
        ("-cat:cs.CV", "a query needs at least one word to look for, not only exclusions"),
        ("alpha OR -has:code", "the side of OR starting at character 10 only leaves words out"),
    ],
)
def test_malformed_filters_say_what_is_wrong_in_one_line(text, message):
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_limits_themselves_are_accepted():
    assert parse_query("upvotes:>=1000000000").text == "upvotes:>=1000000000"
    assert parse_query("cat:" + "a" * 40).categories() == {"a" * 40}


# --- the paper and its cached text --------------------------------------------------------------

def test_categories_are_optional_and_kept_in_order_through_json():
    old = Paper.model_validate_json('{"id": "2403.00001", "title": "Stored before categories"}')
    assert old.categories == ()
    again = Paper.model_validate_json(CL.model_dump_json())
    assert again.categories == ("cs.CL", "cs.LG") and again == CL


def test_paper_text_follows_the_facts_as_well_as_the_words():
    assert PaperText.of(CL) is PaperText.of(CL.model_copy())
    more = CL.model_copy(update={"upvotes": 99})
    assert PaperText.of(more) is not PaperText.of(CL)
    assert matches("upvotes:>=99", more) and not matches("upvotes:>=99", CL)


# --- the topic index ----------------------------------------------------------------------------

_CATEGORY_POOL = (("cs.CL", "cs.LG"), ("cs.CV",), ("stat.ML", "cs.LG"), ("hep-th", "gr-qc"),
                  ("math.AG",), ("cs.AI", "cs.CL"), ("physics.optics",), ())


def _dressed(index: int, target: Paper) -> Paper:
    """A seed paper given categories, and sometimes no upvotes or comments, deterministically."""
    update: dict = {"categories": _CATEGORY_POOL[index % len(_CATEGORY_POOL)]}
    if index % 5 == 0:
        update |= {"upvotes": None, "comments": None}
    return target.model_copy(update=update)


PAPERS = tuple(_dressed(i, p) for i, p in enumerate(seed_papers()))
_UPVOTES = sorted(p.upvotes for p in PAPERS if p.upvotes is not None)

filter_leaf = st.one_of(
    st.sampled_from(["cat:cs.CL", "cat:CS.lg", "cat:cs.*", "cat:cs", "cat:hep-th", "cat:math", "cat:stat.ML",
                     "cat:physics.optics", "cat:q-bio.NC", "has:code"]),
    st.tuples(st.sampled_from(["upvotes:", "stars:", "comments:"]), st.sampled_from(["", ">=", ">", "<=", "<", "="]),
              st.sampled_from([0, 1, 3, _UPVOTES[0], _UPVOTES[len(_UPVOTES) // 2], _UPVOTES[-1], 10**9]))
    .map(lambda parts: f"{parts[0]}{parts[1]}{parts[2]}"),
)
leaf = st.one_of(index_tests.term, filter_leaf, filter_leaf)
filter_exclusion = st.one_of(index_tests.exclusion, filter_leaf.map(lambda f: f"-{f}"))


def _queries(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    chain = st.tuples(st.lists(inner, min_size=1, max_size=3), st.lists(filter_exclusion, max_size=2)).map(
        lambda parts: " ".join(parts[0] + parts[1])
    )
    return st.lists(chain, min_size=1, max_size=3).map(" OR ".join)


query_text = _queries(st.recursive(leaf, lambda inner: _queries(inner).map(lambda q: f"({q})"), max_leaves=4))


# 60 lists of up to 20 queries, each checked against the 92 seed papers: thousands of (query, paper) pairs.
@given(st.lists(query_text, min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_index_gives_exactly_the_naive_matches_with_filters(texts):
    topics = index_tests._parsed_topics(texts)
    index = index_tests.index_of(topics)
    for target in PAPERS:
        expected = index_tests.naive(topics, target)
        got = index.matches(target)
        assert sorted(key for key, _ in got) == sorted(expected), target.title
        for key, match in got:
            assert match.explain() == expected[key].explain()


@given(query_text)
@settings(max_examples=150, deadline=None)
def test_the_yes_no_test_agrees_with_match_with_filters(text):
    try:
        query = parse_query(text)
    except QueryError:
        return
    assert parse_query(query.text).text == query.text
    for target in PAPERS:
        assert query.matches(target) == (query.match(target) is not None), (text, target.title)


@given(query_text)
@settings(max_examples=200, deadline=None)
def test_every_matching_paper_holds_a_guard_entry_with_filters(text):
    try:
        query = parse_query(text)
    except QueryError:
        return
    guard = guard_of(query)
    assert guard is not None and guard.entries
    for target in PAPERS:
        if query.match(target) is not None:
            assert _holds_one(PaperText.of(target), guard.entries), (text, target.title)


def _holds_one(text: PaperText, entries) -> bool:
    """Check filter entries the obvious way; leave word entries to the word index's own check."""
    words = {entry for entry in entries if entry[0] not in (CATEGORY, ARCHIVE, CHECK)}
    if index_tests._contains_one(text, words):
        return True
    for kind, _, token in entries - words:
        folded = [c.casefold() for c in text.facts.categories]
        if kind == CATEGORY and token in folded:
            return True
        if kind == ARCHIVE and any(c == token or c.startswith(token + ".") for c in folded):
            return True
        if kind == CHECK and token.test(text):
            return True
    return False


def test_filter_only_topics_are_found_by_look_up_not_by_testing_every_topic():
    index: TopicIndex[str] = TopicIndex()
    for key, text in {"cl": "cat:cs.CL", "hep": "cat:hep-th", "cs": "cat:cs.*", "popular": "upvotes:>=20",
                      "code": "has:code", "words": "unlearning"}.items():
        index.add(key, parse_query(text))
    assert index.candidates(CL) == ["cl", "cs", "popular", "code", "words"]
    assert index.candidates(HEP) == ["hep"]
    assert index.candidates(BARE) == []
    assert [key for key, _ in index.matches(CL)] == ["cl", "cs", "popular", "code", "words"]


def test_a_chain_with_a_word_is_guarded_by_the_word_not_the_filter():
    guard = guard_of(parse_query("unlearning upvotes:>=20 has:code"))
    assert guard is not None and guard.entries == {("word", "default", "unlearning")}
    guard = guard_of(parse_query("unlearning OR cat:cs.CL"))
    assert guard is not None and guard.entries == {("word", "default", "unlearning"),
                                                   (CATEGORY, "categories", "cs.cl")}


def test_removing_filter_topics_forgets_their_filters():
    index: TopicIndex[str] = TopicIndex()
    index.add("a", parse_query("upvotes:>=20 cat:cs.*"))
    index.add("b", parse_query("upvotes:>=20"))
    index.remove("a")
    assert [key for key, _ in index.matches(CL)] == ["b"]
    index.remove("b")
    assert index.matches(CL) == [] and len(index) == 0
    assert not index._checks and not any(index._tables.values())  # nothing left to test or look up


# --- BibTeX -----------------------------------------------------------------------------------------

def test_bibtex_gives_the_primary_category_as_primary_class():
    text = entry(CL.model_copy(update={"authors": ("Ada Lovelace",)}), "lovelace2024unlearning")
    assert "  archivePrefix = {arXiv},\n  primaryClass = {cs.CL},\n  url = " in text
    fields = bibtexparser.parse_string(text).entries[0].fields_dict
    assert fields["primaryClass"].value == "cs.CL"


def test_bibtex_leaves_primary_class_out_when_there_are_no_categories():
    assert "primaryClass" not in entry(BARE, "x")
    assert "primaryClass" not in entry(paper(categories=(" ",)), "x")


def test_bibtex_escapes_a_hostile_category():
    library = bibtexparser.parse_string(bibtex([paper(categories=("cs}{.CL",))]))
    assert not library.failed_blocks
    assert library.entries[0].fields_dict["primaryClass"].value == r"cs{\textbraceright}{\textbraceleft}.CL"
