"""How well, and at what cost, Paperboy ranks papers by what a channel liked.

Run from the repository root: ``python bench/relevance.py`` (``--seeds`` trials per interest,
``--wordllama`` to add wordllama embeddings to the comparison when the package is installed).

On the real arXiv papers of ``tests/data/arxiv-sample.jsonl.gz``, a simulated channel has a hidden
interest: one arXiv category (``hep-th``), or a set of phrases (a paper is of interest when its
title or abstract says one of them); each interest is 5-15 % of the sample. The channel 👍s k
papers of its interest and 👎s k others, picked at random; every other paper is a candidate (and
the unlabelled background). Each ranking of the candidates is scored against the hidden interest:
precision@10 (the share of the first ten that are of interest) and ROC AUC (the chance that a
paper of interest ranks above one that is not). Figures are averages over interests and seeds.

Rows: Paperboy (`bot.ranking.interest`: an SVM over words and wordllama embeddings, the background as
weak negatives); the same without the background; the same over words alone; a centroid
(Rocchio) ranking over the words; wordllama embeddings alone (``--wordllama``: their centroid,
and an SVM with the background); upvote order; random order.
The sample has no upvotes: "upvotes" gives each paper a fixed pseudo-random popularity, drawn
from its id, which is therefore uncorrelated with any interest, as Hugging Face's upvotes are
with one team's taste at best loosely. "text only" drops the categories, as for Hugging Face
papers, which come without them.

Then the costs: training at 200 signals, ranking 500 candidates, a `picks` run for 1,000 channels
(CPU seconds) and the resident memory 1,000 channels' models add. Prints figures only.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # so `python bench/relevance.py` finds bot/ and tests/

from bench._support import rss_mb  # noqa: E402
from bot.ranking.interest import InterestModel, ModelCache, Signalled, embedding, features  # noqa: E402
from bot.model.paper import Paper  # noqa: E402
from tests.arxiv_sample import arxiv_sample, in_category  # noqa: E402

KS = (3, 5, 10, 20)
TOP = 10
CATEGORIES = ("cs.CV", "cs.CL", "cs.RO", "stat.ML", "astro-ph", "cond-mat", "math", "physics", "hep-th", "quant-ph")
PHRASES = {
    "reinforcement learning": ("reinforcement learning", "policy gradient", "q-learning", "markov decision", "reward"),
    "generative models": ("diffusion", "image generation", "generative model", "text-to-image", "video generation"),
    "retrieval and recommendation": ("retrieval", "search engine", "recommend", "ranking"),
    "safety and security": ("attack", "adversarial", "jailbreak", "privacy", "safety"),
    "reasoning": ("reasoning", "chain-of-thought", "math problem"),
    "galaxies and stars": ("galax", "star formation", "stellar", "quasar", "supernova", "planet"),
    "gravity": ("black hole", "gravitational", "cosmolog", "dark energy", "dark matter", "general relativity"),
    "graphs and combinatorics": ("graph", "combinator", "permutation", "partition"),
    "magnetism": ("magnetic", "magnetization", "ferromagnet", "spin glass"),
}
SHARE = (0.05, 0.15)

Scorer = Callable[[list[Signalled], list[Paper]], np.ndarray]


def interests(papers: Sequence[Paper]) -> dict[str, set[str]]:
    """Return each interest (5-15 % of *papers*) as the set of its papers' ids."""
    found = {f"cat {c}": {p.id for p in papers if in_category(p, c)} for c in CATEGORIES}
    for name, phrases in PHRASES.items():
        found[name] = {p.id for p in papers if any(w in f"{p.title} {p.abstract}".lower() for w in phrases)}
    return {name: ids for name, ids in found.items() if SHARE[0] <= len(ids) / len(papers) <= SHARE[1]}


def popularity(paper: Paper) -> float:
    """A fixed pseudo-random upvote count per paper: the same in every run, unrelated to any interest."""
    return float(zlib.crc32(paper.id.encode()) % 500)


def paperboy(background: bool, meaning: bool = True) -> Scorer:
    def score(signalled: list[Signalled], candidates: list[Paper]) -> np.ndarray:
        model = InterestModel.train(signalled, candidates if background else (), meaning=meaning)
        return model.scores(candidates)
    return score


def centroid(signalled: list[Signalled], candidates: list[Paper]) -> np.ndarray:
    liked = features.vectors([s.paper for s in signalled if s.positive])
    disliked = features.vectors([s.paper for s in signalled if s.negative])
    direction = np.asarray(liked.mean(axis=0)).ravel() - np.asarray(disliked.mean(axis=0)).ravel() * 0.5
    return features.vectors(candidates) @ direction


def wordllama_scorers() -> dict[str, Scorer]:
    """Return scorers over wordllama's embeddings (its weights ship in its wheel), or none if it is absent."""
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError:
        return {}
    from sklearn.svm import LinearSVC
    # The wheel holds the weights and the tokenizer; pointing the cache at it keeps wordllama offline.
    model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    memo: dict[str, np.ndarray] = {}

    def embed(papers: Sequence[Paper]) -> np.ndarray:
        new = [p for p in papers if p.id not in memo]
        if new:
            for p, row in zip(new, model.embed([f"{p.title}. {p.abstract}" for p in new], norm=True)):
                memo[p.id] = row
        return np.array([memo[p.id] for p in papers])

    def centroid_(signalled: list[Signalled], candidates: list[Paper]) -> np.ndarray:
        liked = embed([s.paper for s in signalled if s.positive]).mean(axis=0)
        disliked = embed([s.paper for s in signalled if s.negative]).mean(axis=0)
        return embed(candidates) @ (liked - 0.5 * disliked)

    def svm(signalled: list[Signalled], candidates: list[Paper]) -> np.ndarray:
        x = embed([s.paper for s in signalled] + candidates)
        y = np.r_[[1 if s.positive else 0 for s in signalled], np.zeros(len(candidates))]
        weight = np.r_[np.ones(len(signalled)), np.full(len(candidates), 0.2)]
        clf = LinearSVC(C=0.5, class_weight="balanced").fit(x, y, sample_weight=weight)
        return clf.decision_function(embed(candidates))

    return {"wordllama centroid": centroid_, "wordllama SVM + background": svm}


def evaluate(papers: list[Paper], wanted_by: dict[str, set[str]], scorers: dict[str, Scorer],
             seeds: int) -> dict[tuple[str, int], list]:
    """Return (P@10, AUC) of each scorer and k, one pair per interest and seed."""
    results: dict[tuple[str, int], list] = {}
    by_id = {p.id: p for p in papers}
    for name, wanted in wanted_by.items():
        for seed in range(seeds):
            rng = random.Random(f"{name}/{seed}")
            liked_pool = sorted(wanted)
            other_pool = sorted(by_id.keys() - wanted)
            rng.shuffle(liked_pool)
            rng.shuffle(other_pool)
            for k in KS:
                signalled = [Signalled(by_id[i], 1, 0) for i in liked_pool[:k]]
                signalled += [Signalled(by_id[i], 0, 1) for i in other_pool[:k]]
                used = {s.paper.id for s in signalled}
                candidates = [p for p in papers if p.id not in used]
                truth = np.array([p.id in wanted for p in candidates])
                rows = dict(scorers)
                rows["upvotes"] = lambda _s, c: np.array([popularity(p) for p in c])
                rows["random order"] = lambda _s, c: np.array([rng.random() for _ in c])
                for method, scorer in rows.items():
                    scores = np.asarray(scorer(signalled, candidates), dtype=float)
                    top = np.argsort(-scores, kind="stable")[:TOP]
                    results.setdefault((method, k), []).append((truth[top].mean(), roc_auc_score(truth, scores)))
    return results


def print_quality(title: str, results: dict[tuple[str, int], list]) -> None:
    methods = list(dict.fromkeys(m for m, _ in results))
    print(f"\n{title}: precision@{TOP} / ROC AUC, averaged over interests and seeds")
    print(f"{'ranking':<30}" + "".join(f"{f'k = {k}':>16}" for k in KS))
    for method in methods:
        cells = []
        for k in KS:
            pairs = results[(method, k)]
            cells.append(f"{statistics.fmean(p for p, _ in pairs):.2f} / {statistics.fmean(a for _, a in pairs):.2f}")
        print(f"{method:<30}" + "".join(f"{c:>16}" for c in cells))
    ours, upvotes = results[("Paperboy", 10)], results[("upvotes", 10)]
    ratio_p = statistics.fmean(p for p, _ in ours) / max(statistics.fmean(p for p, _ in upvotes), 1e-9)
    ratio_a = statistics.fmean(a for _, a in ours) / statistics.fmean(a for _, a in upvotes)
    print(f"at k = 10, Paperboy / upvote order: precision@{TOP} x{ratio_p:.1f}, AUC x{ratio_a:.2f}")


def fastest_ms(action: Callable[[], object], repeats: int = 7) -> float:
    """Return the fastest of a few runs' CPU time (ms): other processes on a shared machine only add to it."""
    times = []
    for _ in range(repeats):
        started = time.process_time()
        action()
        times.append((time.process_time() - started) * 1000)
    return min(times)


def costs(papers: list[Paper]) -> None:
    rng = random.Random(7)
    pool = list(papers)
    rng.shuffle(pool)
    signals = [Signalled(p, 1, 0) for p in pool[:100]] + [Signalled(p, 0, 1) for p in pool[100:200]]
    background = candidates = pool[200:700]  # the day's candidates are the background, as in `picks`
    print("\nCosts (CPU time; single timings are the fastest of 7 runs)")
    started = time.perf_counter()
    embedding.embed(papers[:1])
    print(f"  loading wordllama's model, once per process: {time.perf_counter() - started:.1f} s")
    picks_run(papers, pool[200:700])
    features.vectors.clear()
    embedding.embed.clear()
    started = time.process_time()
    InterestModel.train(signals, background)
    print(f"  training at 200 signals, 500 background papers, vectors not yet computed: "
          f"{(time.process_time() - started) * 1000:.0f} ms")
    print(f"  training at 200 signals, 500 background papers: {fastest_ms(lambda: InterestModel.train(signals, background)):.1f} ms")
    model = InterestModel.train(signals, background)
    features.vectors.clear()
    embedding.embed.clear()
    started = time.process_time()
    model.rank(candidates, limit=10)
    print(f"  ranking 500 candidates (top 10 explained), vectors not yet computed: "
          f"{(time.process_time() - started) * 1000:.0f} ms")
    print(f"  ranking 500 candidates (top 10 explained): {fastest_ms(lambda: model.rank(candidates, limit=10)):.1f} ms")
    print(f"  ranking 500 candidates (all 500 returned, 10 explained): {fastest_ms(lambda: model.rank(candidates)):.1f} ms")
    print(f"  ranking 500 candidates (all 500 returned and explained): "
          f"{fastest_ms(lambda: model.rank(candidates, explain=None)):.1f} ms")


def picks_run(papers: list[Paper], candidates: list[Paper], channels: int = 1000) -> None:
    """Train and keep 1,000 channels' models, then rank the day's candidates for each, as `picks` does."""
    rng = random.Random(11)
    kinds = list(interests(papers).values())
    by_id = {p.id: p for p in papers}
    plans = []
    for _ in range(channels):
        wanted = sorted(rng.choice(kinds))
        liked = rng.sample(wanted, rng.randint(3, 20))
        disliked = rng.sample(sorted(by_id.keys() - set(wanted)), rng.randint(0, 10))
        plans.append([Signalled(by_id[i], rng.randint(1, 4), 0) for i in liked]
                     + [Signalled(by_id[i], 0, 1) for i in disliked])
    features.vectors(papers)  # every paper's vector computed once, so the RSS below is the models'
    embedding.embed(papers)
    cache = ModelCache(max_models=channels)
    gc.collect()
    before = rss_mb()
    started = time.process_time()
    for n, signalled in enumerate(plans):
        cache.get(("channel", n), signalled, candidates)
    trained = time.process_time() - started
    gc.collect()
    grown = rss_mb() - before
    started = time.process_time()
    for n, signalled in enumerate(plans):
        cache.get(("channel", n), signalled, candidates).rank(candidates, limit=10, explain=10)
    ranked = time.process_time() - started
    sizes = sum(cache.get(("channel", n), s).size for n, s in enumerate(plans)) / 2**20
    print(f"  a picks run for {channels:,} channels, models already trained (their signals unchanged): "
          f"{ranked:.2f} s CPU ({ranked / channels * 1000:.1f} ms a channel)")
    print(f"  training those {channels:,} models (after a restart, or every channel's signals changed): "
          f"{trained:.2f} s CPU ({trained / channels * 1000:.1f} ms a channel)")
    print(f"  resident memory the {channels:,} models add: {grown:.0f} MB (their own arrays: {sizes:.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="trials per interest (default 5)")
    parser.add_argument("--wordllama", action="store_true", help="add wordllama embeddings alone to the comparison")
    parser.add_argument("--costs", action="store_true", help="measure the costs only")
    args = parser.parse_args()
    papers = list(arxiv_sample())
    if args.costs:
        return costs(papers)
    found = interests(papers)
    print(f"{len(papers):,} real arXiv papers; {len(found)} interests: "
          + ", ".join(f"{name} ({len(ids) / len(papers):.0%})" for name, ids in found.items()))
    scorers: dict[str, Scorer] = {"Paperboy": paperboy(background=True),
                                  "SVM without background": paperboy(background=False),
                                  "SVM, words alone": paperboy(background=True, meaning=False),
                                  "centroid (Rocchio)": centroid}
    if args.wordllama:
        scorers.update(wordllama_scorers())
    print_quality("With categories (arXiv papers)", evaluate(papers, found, scorers, args.seeds))
    text_only = [p.model_copy(update={"categories": ()}) for p in papers]
    print_quality("Text only (as Hugging Face papers come)", evaluate(text_only, found, scorers, args.seeds))
    sys.stdout.flush()
    # In a fresh process: the memory and the first load are then what a bot process sees.
    subprocess.run([sys.executable, __file__, "--costs"], check=True)


if __name__ == "__main__":
    main()
