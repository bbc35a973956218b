"""The topic query language: parsing, matching on the seed papers, explanations, errors."""

from __future__ import annotations

from functools import lru_cache

import pytest

from bot.model.paper import Paper
from bot.topics import MAX_QUERY_LENGTH, Hit, Match, PaperText, Query, QueryError, parse_query
from bot.topics.text import fold, singular, words
from paperboy_testing.seed import seed_papers as parsed_seed_papers


@lru_cache(maxsize=1)
def seed_papers() -> tuple[Paper, ...]:
    """The 92 seed papers, parsed once for the whole module."""
    return tuple(parsed_seed_papers())


def titles_matching(query: str) -> list[str]:
    parsed = parse_query(query)
    return [paper.title for paper in seed_papers() if parsed.match(paper)]


def paper(title: str = "A title", abstract: str = "", *, authors: tuple[str, ...] = (),
          keywords: tuple[str, ...] = (), summary: str | None = None) -> Paper:
    return Paper(id="2403.00001", title=title, abstract=abstract, authors=authors,
                 ai_keywords=keywords, ai_summary=summary)


def matches(query: str, target: Paper) -> bool:
    return parse_query(query).match(target) is not None


# --- the examples on the seed ---------------------------------------------------------

def test_phrase_finds_model_merging_paper():
    found = titles_matching('"model merging"')
    assert "What Matters for Model Merging at Scale?" in found
    assert all("merging" in fold(title) or "Merging" in title for title in found)
    assert not any("Model Editing" in title for title in found)


def test_prefix_finds_the_machine_unlearning_papers():
    found = titles_matching("unlearn*")
    for title in (
        "Intrinsic Evaluation of Unlearning Using Parametric Knowledge Traces",
        "Unlearnable Clusters: Towards Label-agnostic Unlearnable Examples",
        "Model Sparsity Can Simplify Machine Unlearning",
        "MUSE: Machine Unlearning Six-Way Evaluation for Language Models",
    ):
        assert title in found
    assert "What Matters for Model Merging at Scale?" not in found


def test_exclusions_drop_the_image_and_video_diffusion_papers():
    everything = titles_matching("diffusion")
    kept = titles_matching("diffusion -image -video")
    assert "Distilling Diversity and Control in Diffusion Models" in kept
    assert "How much is a noisy image worth? Data Scaling Laws for Ambient Diffusion" in everything
    assert "How much is a noisy image worth? Data Scaling Laws for Ambient Diffusion" not in kept
    assert 0 < len(kept) < len(everything)
    for target in seed_papers():
        if target.title in kept:
            text = PaperText.of(target).default
            assert "image" not in text.positions and "video" not in text.positions


def test_or_with_exclusion_on_the_seed():
    found = titles_matching('"model merging" OR unlearning -diffusion')
    assert "What Matters for Model Merging at Scale?" in found
    assert "Model Sparsity Can Simplify Machine Unlearning" in found
    # Unlearning, but about diffusion models: the exclusion wins.
    assert not any(title.startswith("Defensive Unlearning") for title in found)


def test_author_phrase_and_explanation_on_the_seed():
    query = parse_query('author:"Graham Neubig"')
    matched = [p for p in seed_papers() if query.match(p)]
    assert matched and all("Graham Neubig" in p.authors for p in matched)
    assert len(matched) == sum("Graham Neubig" in p.authors for p in seed_papers())
    assert query.match(matched[0]).explain() == "author Graham Neubig"


# --- words, accents, plurals ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GPT-3.5", ["gpt", "3", "5"]),
        ("LLMs", ["llms"]),
        ("state-of-the-art", ["state", "of", "the", "art"]),
        ("Merging?", ["merging"]),
        ("Zoë Kravitz-Müller", ["zoe", "kravitz", "muller"]),
        ("Straße Łódź Ørsted", ["strasse", "lodz", "orsted"]),
        ("snake_case", ["snake", "case"]),
    ],
)
def test_words_split_on_non_alphanumerics_and_fold(text, expected):
    assert words(text) == expected


@pytest.mark.parametrize(
    ("plural", "single"),
    [("models", "model"), ("studies", "study"), ("classes", "class"), ("approaches", "approach"),
     ("llms", "llm"), ("boxes", "box")],
)
def test_plural_and_singular_fold_together(plural, single):
    assert singular(plural) == singular(single)
    assert matches(single, paper(f"Some {plural} here"))
    assert matches(plural, paper(f"One {single} here"))


@pytest.mark.parametrize("word", ["analysis", "corpus", "class", "gas", "bus", "3s"])
def test_words_that_only_look_plural_stay_whole(word):
    assert singular(word) == word


def test_accents_fold_in_queries_and_papers():
    target = paper("Modèle de diffusion", authors=("Zoë Kravitz-Müller",))
    assert matches("modele", target)
    assert matches("MODÈLE", target)
    assert matches("author:muller", target)
    assert matches("author:Müller", target)
    assert matches("author:zoe", target)


def test_case_is_ignored():
    assert matches("DIFFUSION", paper("diffusion models"))
    assert matches('"Model MERGING"', paper("What Matters for Model Merging at Scale?"))


def test_words_match_whole_not_inside_other_words():
    target = paper("Artificial merging of state-of-the-art models")
    assert not matches("merg", target)
    assert not matches("ficial", target)
    assert matches("art", target)  # the whole word "art" from state-of-the-art
    assert not matches("art", paper("Artificial intelligence"))


def test_hyphenated_and_dotted_terms_are_phrases():
    target = paper("Beating GPT-3.5 with state-of-the-art LLMs")
    assert matches("GPT-3.5", target)
    assert matches("state-of-the-art", target)
    assert matches("llm", target)
    assert not matches("GPT-4", target)
    assert parse_query("GPT-3.5").key == '"gpt 3 5"'
    assert parse_query("GPT-3.5").text == "GPT-3.5"  # shown as typed


# --- prefixes and phrases ---------------------------------------------------------------------

def test_prefix_matches_word_starts_only():
    target = paper("Relearning after unlearning")
    assert matches("unlearn*", target)
    assert matches("relearn*", target)
    assert not matches("learning*", paper("Relearning"))
    assert not matches("xyz*", target)


def test_phrase_needs_consecutive_words_with_plural_folding():
    assert matches('"diffusion model"', paper("Masked Diffusion Models are secret"))
    assert not matches('"diffusion model"', paper("Diffusion and other Models"))
    assert not matches('"merging model"', paper("Model Merging"))
    assert matches('"model merg*"', paper("Model Merging"))


def test_phrase_never_spans_two_fields_keywords_or_authors():
    target = paper("About merging", "Model of things", keywords=("deep model", "merging tricks"),
                   authors=("Ada Lovelace", "Graham Neubig"))
    assert not matches('"merging model"', target)  # end of title + start of abstract
    assert not matches('"model merging"', target)  # two separate keywords
    assert not matches('author:"lovelace graham"', target)
    assert matches('"deep model"', target)


def test_typographic_quotes_work_like_straight_ones():
    assert parse_query("“model merging”").text == '"model merging"'


# --- fields -----------------------------------------------------------------------------------

def test_default_fields_are_title_abstract_and_keywords_not_summary_or_authors():
    target = paper("Plain title", "plain abstract", keywords=("kwonly",), summary="summaryonly",
                   authors=("Graham Neubig",))
    assert matches("title", target) and matches("abstract", target) and matches("kwonly", target)
    assert not matches("summaryonly", target)
    assert not matches("neubig", target)


def test_fields_restrict_terms():
    target = paper("Unlearning in practice", "We study merging.", authors=("Graham Neubig",))
    assert matches("title:unlearning", target)
    assert not matches("title:merging", target)
    assert matches("abstract:merging", target)
    assert not matches("abstract:unlearning", target)
    assert matches("author:neubig", target)
    assert matches("author:neub*", target)
    assert matches("Title:unlearning", target)  # field names are not case-sensitive
    assert not matches("-title:unlearning merging", target)


def test_field_search_terms_drop_the_field():
    query = parse_query('title:unlearn* author:"Graham Neubig" abstract:merging')
    assert query.search_terms() == ["unlearn*", '"graham neubig"', "merging"]


# --- operators and precedence -----------------------------------------------------------------

A_AND_B = paper("alpha beta")
ONLY_C = paper("gamma")
ONLY_A = paper("alpha")


def test_and_binds_tighter_than_or():
    assert matches("alpha beta OR gamma", A_AND_B)
    assert matches("alpha beta OR gamma", ONLY_C)
    assert not matches("alpha beta OR gamma", ONLY_A)
    assert matches("gamma OR alpha beta", ONLY_C)
    assert not matches("gamma OR alpha beta", ONLY_A)


def test_and_keyword_is_the_same_as_side_by_side():
    assert parse_query("alpha AND beta").text == "alpha beta"
    assert matches("alpha AND beta", A_AND_B)
    assert not matches("alpha AND beta", ONLY_A)


def test_parentheses_group():
    assert matches("(alpha OR gamma) beta", A_AND_B)
    assert not matches("(alpha OR gamma) beta", ONLY_C)
    assert not matches("(alpha OR gamma) beta", ONLY_A)


def test_not_binds_to_one_term_only():
    assert matches("NOT gamma alpha", ONLY_A)
    assert not matches("NOT alpha beta", A_AND_B)
    assert matches("-(alpha beta) alpha", ONLY_A)
    assert not matches("-(alpha beta) alpha", A_AND_B)
    assert matches("alpha -beta", ONLY_A)
    assert not matches("alpha -beta", A_AND_B)


def test_lowercase_operators_are_words():
    assert not matches("alpha or gamma", ONLY_A)
    assert matches("alpha or gamma", paper("alpha or gamma"))
    assert not matches("alpha not beta", A_AND_B)
    assert matches("alpha and beta", paper("alpha and beta"))


def test_exclusion_applies_to_every_side_of_or_in_its_group():
    both = paper("alpha gamma")
    assert not matches("alpha OR beta -gamma", both)
    assert not matches("beta OR alpha -gamma", both)
    # Parentheses limit an exclusion to their group.
    assert matches("(beta -gamma) OR alpha", both)
    assert not matches("(alpha -gamma) OR beta", both)


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
