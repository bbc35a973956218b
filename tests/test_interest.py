"""The interest model on real arXiv papers: it learns a channel's kind of paper, says why, and caches."""

from __future__ import annotations

import random

import numpy as np
import pytest

from bot.ranking.interest import MIN_POSITIVES, InterestModel, ModelCache, Ranked, Signalled, embedding, features
from bot.model.paper import Paper
from tests.arxiv_sample import arxiv_sample, in_category


def channel(category: str, k: int, seed: int) -> tuple[list[Signalled], list[Paper]]:
    """Return the signals of a channel that likes *category* (k 👍, k 👎 elsewhere) and the other papers."""
    papers = list(arxiv_sample())
    rng = random.Random(seed)
    liked = rng.sample([p for p in papers if in_category(p, category)], k)
    disliked = rng.sample([p for p in papers if not in_category(p, category)], k)
    signalled = [Signalled(p, 1, 0) for p in liked] + [Signalled(p, 0, 1) for p in disliked]
    used = {p.id for p in liked + disliked}
    return signalled, [p for p in papers if p.id not in used]


def paper(n: int, title: str, abstract: str = "", categories: tuple[str, ...] = ()) -> Paper:
    return Paper(id=f"2401.{n:05d}", title=title, abstract=abstract, categories=categories)


def test_the_sample_is_real_arxiv_papers_of_many_categories():
    papers = arxiv_sample()
    assert len(papers) >= 2000
    assert len({p.id for p in papers}) == len(papers)
    assert all(p.title and p.abstract and p.categories for p in papers)
    for category in ("cs.CL", "cs.CV", "cs.LG", "stat.ML", "hep-th", "quant-ph", "math", "astro-ph", "q-bio"):
        assert any(in_category(p, category) for p in papers), category


@pytest.mark.parametrize("category", ["cs.CV", "astro-ph"])
def test_a_channel_that_likes_one_category_gets_it_first(category):
    signalled, candidates = channel(category, k=10, seed=1)
    ranked = InterestModel.train(signalled, candidates).rank(candidates)

    top = [r.paper for r in ranked[:10]]
    assert sum(in_category(p, category) for p in top) / 10 >= 0.7
    assert len(ranked) == len(candidates)
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


def test_without_categories_the_words_alone_still_find_the_interest():
    # Hugging Face papers come without categories: the text must carry the interest.
    signalled, candidates = channel("hep-th", k=10, seed=2)
    strip = lambda p: p.model_copy(update={"categories": ()})  # noqa: E731
    signalled = [Signalled(strip(s.paper), s.positive, s.negative) for s in signalled]
    truth = {p.id for p in candidates if in_category(p, "hep-th")}
    candidates = [strip(p) for p in candidates]
    ranked = InterestModel.train(signalled, candidates).rank(candidates, limit=10)
    assert sum(r.paper.id in truth for r in ranked) >= 6


def test_each_result_says_which_liked_papers_it_is_close_to_and_which_terms_weigh():
    signalled, candidates = channel("hep-th", k=10, seed=3)
    signalled[0] = Signalled(signalled[0].paper, 3, 0)  # three people liked this one
    liked = {s.paper.id: s.positive for s in signalled if s.positive}
    ranked = InterestModel.train(signalled, candidates).rank(candidates, limit=5)

    for result in ranked:
        assert 1 <= len(result.close_to) <= 2
        for close, count in result.close_to:
            assert liked[close.id] == count  # a liked paper, with its own count of 👍
        assert 1 <= len(result.terms) <= 3
        text = f"{result.paper.title} {result.paper.abstract}".lower()
        for term in result.terms:  # each term is one of the paper's words, phrases, categories or authors
            assert term in text or term in result.paper.categories or any(
                term.lower() in a.lower() for a in result.paper.authors), (term, result.paper.title)
    best = ranked[0]
    assert in_category(best.close_to[0][0], "hep-th")


def test_why_explains_a_paper_beyond_the_explained_ones():
    signalled, candidates = channel("quant-ph", k=5, seed=4)
    model = InterestModel.train(signalled, candidates)
    ranked = model.rank(candidates, explain=2)
    assert ranked[0].terms and ranked[1].terms
    assert ranked[2].terms == () and ranked[2].close_to == ()
    close, terms = model.why(ranked[2].paper)
    assert close and terms


def test_limit_returns_the_best_in_the_same_order_as_the_full_ranking():
    signalled, candidates = channel("gr-qc", k=5, seed=5)
    model = InterestModel.train(signalled, candidates)
    full = [r.paper.id for r in model.rank(candidates, explain=0)]
    assert [r.paper.id for r in model.rank(candidates, limit=7, explain=0)] == full[:7]
    assert model.rank(candidates, limit=0) == []


def test_more_positive_signals_pull_harder():
    near = paper(1, "Black hole entropy and holography", "black hole horizons and entropy in string theory")
    far = paper(2, "Protein folding kinetics", "folding kinetics of small proteins and their energy landscapes")
    liked_a = paper(3, "Black hole thermodynamics", "entropy of black hole horizons")
    liked_b = paper(4, "Protein energy landscapes", "folding of proteins on rugged energy landscapes")
    one = InterestModel.train([Signalled(liked_a, 5, 0), Signalled(liked_b, 1, 0)])
    assert [r.paper.id for r in one.rank([far, near])] == [near.id, far.id]
    other = InterestModel.train([Signalled(liked_a, 1, 0), Signalled(liked_b, 5, 0)])
    assert [r.paper.id for r in other.rank([far, near])] == [far.id, near.id]


def test_degenerate_signals_do_not_crash():
    papers = list(arxiv_sample()[:40])
    liked = [Signalled(p, 1, 0) for p in papers[:MIN_POSITIVES]]

    only_liked = InterestModel.train(liked)  # no 👎, no background: closeness to what was liked
    assert only_liked.kind == "centroid"
    assert only_liked.rank(papers)[0].paper.id in {s.paper.id for s in liked}

    only_disliked = InterestModel.train([Signalled(p, 0, 2) for p in papers[:3]], papers[3:])
    assert only_disliked.kind == "centroid"
    assert {r.paper.id for r in only_disliked.rank(papers)} == {p.id for p in papers}
    assert all(r.close_to == () for r in only_disliked.rank(papers))

    nothing = InterestModel.train([], papers)
    assert nothing.kind == "empty"
    assert len(nothing.rank(papers)) == len(papers) and all(r.score == 0 for r in nothing.rank(papers))

    tie = InterestModel.train([Signalled(papers[0], 1, 1)])  # liked and disliked alike: no signal
    assert tie.kind == "empty"

    assert InterestModel.train(liked, papers).rank([]) == []


def test_duplicate_papers_count_once():
    papers = list(arxiv_sample()[:60])
    signalled = [Signalled(papers[0], 1, 0), Signalled(papers[0], 2, 0), Signalled(papers[1], 1, 0),
                 Signalled(papers[2], 1, 0), Signalled(papers[3], 0, 1)]
    model = InterestModel.train(signalled, papers + papers)
    ranked = model.rank(papers + papers[:10])
    assert len(ranked) == len({r.paper.id for r in ranked}) == len(papers)
    counts = dict((p.id, n) for r in ranked for p, n in r.close_to)
    assert counts.get(papers[0].id, 3) == 3  # 1 + 2 people's 👍 of the same paper


def test_papers_with_hardly_any_words_are_ranked_too():
    odd = [paper(1, "$\\mathcal{O}(n)$"), paper(2, ""), paper(3, "A", "", ("math.CO",))]
    papers = list(arxiv_sample()[:20])
    model = InterestModel.train([Signalled(p, 1, 0) for p in papers[:3]] + [Signalled(odd[0], 0, 1)], papers[3:])
    ranked = model.rank(odd + papers[3:])
    assert {r.paper.id for r in ranked} >= {p.id for p in odd}
    assert all(isinstance(r, Ranked) and np.isfinite(r.score) for r in ranked)


def test_the_cache_retrains_only_when_the_signals_change():
    signalled, candidates = channel("hep-ph", k=4, seed=6)
    cache = ModelCache(max_models=10)
    first = cache.get("C1", signalled, candidates)
    assert cache.get("C1", list(reversed(signalled)), candidates[:5]) is first  # same signals, any order
    assert cache.trained == 1
    changed = signalled[:-1] + [Signalled(signalled[-1].paper, 0, 2)]  # one more 👎 on a paper
    assert cache.get("C1", changed, candidates) is not first
    assert cache.trained == 2
    assert cache.get("C2", signalled, candidates) is not first  # scopes do not share models
    cache.forget("C1")
    assert "C1" not in cache
    cache.get("C1", changed, candidates)
    assert cache.trained == 4


def test_the_cache_keeps_at_most_its_bound_evicting_the_least_recently_used():
    signalled, candidates = channel("math-ph", k=3, seed=7)
    cache = ModelCache(max_models=2)
    cache.get("A", signalled)
    cache.get("B", signalled)
    cache.get("A", signalled)  # A is now the most recently used
    cache.get("C", signalled)
    assert len(cache) == 2 and "A" in cache and "C" in cache and "B" not in cache
    cache.get("B", signalled)
    assert cache.trained == 4
    with pytest.raises(ValueError):
        ModelCache(max_models=0)


def test_a_model_is_small():
    signalled, candidates = channel("hep-th", k=20, seed=8)
    model = InterestModel.train(signalled, candidates)
    assert model.size < 200_000  # bytes: 1,000 channels' models stay within a few hundred MB at worst


def test_hashed_columns_are_the_hashers_own():
    # `features.columns` redoes scikit-learn's hashing to name a model's weightiest terms.
    tokens = features.tokens(arxiv_sample()[0])
    row = features._sklearn()[0].transform([arxiv_sample()[0]])
    assert set(features.columns(tokens)) == set(row.indices)


def test_paper_vectors_are_unit_length_with_sorted_columns():
    # The model marks stacked rows as sorted for scikit-learn; that must be true.
    features.vectors.clear()
    x = features.vectors(list(arxiv_sample()[:50]) + [paper(1, "")])
    assert all((np.diff(x.indices[x.indptr[n]:x.indptr[n + 1]]) > 0).all() for n in range(x.shape[0]))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    assert np.allclose(norms[:50], 1, atol=1e-5) and norms[50] == 0


def test_the_embedding_model_ships_in_its_package():
    # wordllama's weights come with the wheel: no download (nothing here reaches the internet).
    rows = embedding.embed(list(arxiv_sample()[:3]))
    assert rows is not None and rows.shape == (3, embedding.DIMENSIONS)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-3)
