"""The topic query language: parsing and matching on the seed papers (text, explanations, errors: test_topics_text.py)."""

from __future__ import annotations

from functools import lru_cache

import pytest

from bot.model.paper import Paper
from bot.topics import PaperText, parse_query
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
