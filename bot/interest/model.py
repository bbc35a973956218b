"""A channel's (or a person's) taste, learnt from its 👍, saves and 👎: what arxiv-sanity does, per channel.

A linear SVM (scikit-learn's `LinearSVC`, classes balanced) over the hashed word features of
`bot.interest.features` separates the papers the channel liked from those it turned down and,
as weaker negatives, from the background (the papers it was shown and did nothing about, or
simply the day's other papers). A candidate's score is its distance from that boundary. With
only one kind of signal there is nothing to separate: the model falls back to the cosine
closeness to the liked papers' centroid, less the closeness to the disliked ones'.

A trained model keeps only its weights on the columns its training papers use (its best
`MAX_WEIGHTS`), the liked papers and their vectors (for "close to"): a few hundred KB at most.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.svm import LinearSVC

from bot.interest import features
from bot.paper import Paper

MIN_POSITIVES = 3
"""Positive signals a channel needs before its ranking is its own (below it, callers use upvotes)."""
BACKGROUND_WEIGHT = 0.2
"""How much an unsignalled background paper counts as a negative, against 1 for a 👎."""
C = 0.5
"""The SVM's regularisation (higher: fit the signals more closely)."""
MAX_WEIGHTS = 8_192
"""Weights a model keeps (the largest): bounds its memory whatever the background's size."""
CLOSE_TO = 2
TERMS = 3
EXPLAIN = 25
"""Results whose terms `rank` reads by default (terms need each paper's words again)."""


@dataclass(frozen=True)
class Signalled:
    """One paper a channel or person signalled, with how many times each way."""

    paper: Paper
    positive: int
    """👍 and saves (people's); 0 if none."""
    negative: int
    """👎."""


@dataclass(frozen=True)
class Ranked:
    """A candidate as a model ranks it, with the why a person can check."""

    paper: Paper
    score: float
    close_to: tuple[tuple[Paper, int], ...]
    """Up to two liked papers it is closest to, each with its positive count, closest first."""
    terms: tuple[str, ...]
    """Up to three of its terms that weigh most for it (words, phrases, categories or authors)."""


class InterestModel:
    """A trained ranking for one channel or person; build it with `InterestModel.train`."""

    def __init__(self, columns: np.ndarray, weights: np.ndarray, liked: Sequence[tuple[Paper, int]],
                 liked_vectors: sp.csr_matrix, kind: str) -> None:
        order = np.argsort(columns)  # sorted, so `_terms` finds a column's weight by bisection
        self._columns = columns[order]
        self._weights = weights[order]
        self._liked = tuple(liked)
        self._liked_vectors = liked_vectors
        self.kind = kind
        """``svm`` or ``centroid`` (one kind of signal only) or ``empty`` (no signal)."""

    @classmethod
    def train(cls, signalled: Sequence[Signalled], background: Sequence[Paper] = ()) -> InterestModel:
        """Learn from *signalled* papers; *background* papers (not signalled) are weak negatives."""
        liked, disliked = _split(signalled)
        seen = {p.id for p, _ in liked} | {p.id for p, _ in disliked}
        others = list({p.id: p for p in background if p.id not in seen}.values())
        liked_vectors = features.vectors([p for p, _ in liked])
        if not liked and not disliked:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.float32), (), liked_vectors, "empty")
        negatives = [(p, _weight(n)) for p, n in disliked] + [(p, BACKGROUND_WEIGHT) for p in others]
        if not liked or not negatives:
            return cls._centroid(liked, disliked, liked_vectors)
        x = sp.vstack([liked_vectors, features.vectors([p for p, _ in negatives])], format="csr")
        y = np.r_[np.ones(len(liked)), np.zeros(len(negatives))]
        weight = np.r_[[_weight(n) for _, n in liked], [w for _, w in negatives]]
        columns, x = _compact(x)
        svm = LinearSVC(C=C, class_weight="balanced", tol=1e-4, max_iter=2_000)
        svm.fit(x, y, sample_weight=weight)
        keep = _largest(svm.coef_.ravel(), MAX_WEIGHTS)
        return cls(columns[keep], svm.coef_.ravel()[keep].astype(np.float32), liked, liked_vectors, "svm")

    @classmethod
    def _centroid(cls, liked, disliked, liked_vectors) -> InterestModel:
        # Rocchio: towards what was liked, away from what was not.
        x = sp.vstack([liked_vectors, features.vectors([p for p, _ in disliked])], format="csr")
        sign = np.r_[[_weight(n) / max(len(liked), 1) for _, n in liked],
                     [-_weight(n) / max(len(disliked), 1) for _, n in disliked]]
        summed = sp.csr_matrix(sign.reshape(1, -1)) @ x
        columns, weights = summed.indices.astype(np.int64), summed.data.astype(np.float32)
        keep = _largest(weights, MAX_WEIGHTS)
        return cls(columns[keep], weights[keep], liked, liked_vectors, "centroid")

    @property
    def size(self) -> int:
        """Bytes the model's arrays hold (the papers themselves are shared with the caller)."""
        v = self._liked_vectors
        return self._columns.nbytes + self._weights.nbytes + v.data.nbytes + v.indices.nbytes + v.indptr.nbytes

    def scores(self, candidates: Sequence[Paper]) -> np.ndarray:
        """Return each candidate's score, in the candidates' order (higher: more this channel's)."""
        if not candidates:
            return np.zeros(0, np.float32)
        x = features.vectors(candidates)
        return np.asarray(x[:, self._columns] @ self._weights).ravel()

    def rank(self, candidates: Sequence[Paper], explain: int | None = EXPLAIN) -> list[Ranked]:
        """Return *candidates* best first, one per paper id; the first *explain* (None: all) get terms."""
        unique = list({p.id: p for p in reversed(candidates)}.values())[::-1]
        if not unique:
            return []
        x = features.vectors(unique)
        scores = np.asarray(x[:, self._columns] @ self._weights).ravel()
        order = np.argsort(-scores, kind="stable")
        closeness = (x @ self._liked_vectors.T).toarray() if self._liked else None
        ranked = []
        for place, i in enumerate(order):
            close = self._close_to(closeness[i]) if closeness is not None else ()
            terms = self._terms(unique[i]) if explain is None or place < explain else ()
            ranked.append(Ranked(unique[i], float(scores[i]), close, terms))
        return ranked

    def _close_to(self, similarity: np.ndarray) -> tuple[tuple[Paper, int], ...]:
        best = heapq.nlargest(CLOSE_TO, range(len(similarity)), key=similarity.__getitem__)
        return tuple(self._liked[j] for j in best if similarity[j] > 0)

    def _terms(self, paper: Paper) -> tuple[str, ...]:
        """Return the paper's tokens whose weight times presence is largest (and positive)."""
        names = list(dict.fromkeys(features.tokens(paper)))
        if not names or not len(self._columns):
            return ()
        wanted = features.columns(names)
        where = np.minimum(np.searchsorted(self._columns, wanted), len(self._columns) - 1)
        weight = np.where(self._columns[where] == wanted, self._weights[where], 0.0)
        best = [i for i in np.argsort(-weight, kind="stable")[: TERMS * 3] if weight[i] > 0]
        picked: list[str] = []
        for i in best:
            term = features.readable(names[i])
            if not any(term in p or p in term for p in picked):  # "graph" adds nothing to "random graph"
                picked.append(term)
            if len(picked) == TERMS:
                break
        return tuple(picked)


def _split(signalled: Sequence[Signalled]) -> tuple[list[tuple[Paper, int]], list[tuple[Paper, int]]]:
    """Return (liked, disliked) papers, one entry per paper id, with their 👍 count and 👎 count.

    A paper both liked and disliked counts the way most people signalled it; a tie is left out.
    """
    counts: dict[str, list] = {}
    for s in signalled:
        entry = counts.setdefault(s.paper.id, [s.paper, 0, 0])
        entry[1] += max(s.positive, 0)
        entry[2] += max(s.negative, 0)
    liked = [(p, up) for p, up, down in counts.values() if up > down]
    disliked = [(p, down) for p, up, down in counts.values() if down > up]
    return liked, disliked


def _weight(count: int) -> float:
    """How much a paper signalled *count* times counts: more, but ten 👍 are not ten papers."""
    return 1.0 + float(np.log(max(count, 1)))


def _compact(x: sp.csr_matrix) -> tuple[np.ndarray, sp.csr_matrix]:
    """Return the columns *x* uses and *x* restricted to them (the SVM then learns a short vector)."""
    columns = np.unique(x.indices).astype(np.int64)
    return columns, x[:, columns]


def _largest(weights: np.ndarray, count: int) -> np.ndarray:
    """Return the indices of the *count* weights largest in magnitude, in column order."""
    if len(weights) <= count:
        return np.flatnonzero(weights)
    return np.sort(np.argpartition(-np.abs(weights), count)[:count])
