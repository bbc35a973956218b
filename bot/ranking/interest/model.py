"""A channel's (or a person's) taste, learnt from its 👍, saves and 👎: what arxiv-sanity does, per channel.

A linear SVM (scikit-learn's `LinearSVC`, classes balanced) separates the papers the channel liked
from those it turned down and, as weaker negatives, from the background (the papers it was shown
and did nothing about, or simply the day's other papers). A paper is its hashed word features
(`features`: words, phrases, categories, authors) beside its wordllama embedding (`embedding`),
which catches the paper that says the same thing in other words. A candidate's score is its
distance from the boundary. With one kind of signal only there is nothing to separate: the model
is then the liked papers' centroid, less the disliked ones'.

A trained model keeps its `MAX_WEIGHTS` largest word weights, the embedding's 256, and the liked
papers with their vectors (for "close to"): tens of KB, whatever the background's size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from bot.ranking.interest import embedding, features
from bot.ranking.interest.signals import MIN_POSITIVES, Ranked, Signalled  # noqa: F401 (named here too)
from bot.model.paper import Paper

BACKGROUND_WEIGHT = 0.2
"""How much an unsignalled background paper counts as a negative, against 1 for a 👎."""
C = 0.2
"""The SVM's regularisation (higher: fit the signals more closely)."""
MEANING = 0.5
"""The embedding's scale beside the word features (each a unit vector): measured best of 0.3-2."""
MAX_WEIGHTS = 4_096
"""Weights a model keeps (the largest): bounds its memory whatever the background's size."""
CLOSE_TO = 2
TERMS = 3
EXPLAIN = 10
"""Results `rank` explains by default (the why costs a fraction of a millisecond a paper)."""


class InterestModel:
    """A trained ranking for one channel or person; build it with `InterestModel.train`."""

    def __init__(self, columns: np.ndarray, weights: np.ndarray, meaning: np.ndarray | None,
                 liked: Sequence[tuple[Paper, int]], liked_rows: _Rows, kind: str) -> None:
        order = np.argsort(columns)  # sorted, so `_terms` finds a column's weight by bisection
        self._columns = columns[order].astype(np.int32)
        self._weights = weights[order].astype(np.float32)
        self._meaning = meaning
        """The weights of the embedding's dimensions (None: words alone)."""
        self._liked = tuple(liked)
        self._liked_columns, self._liked_words = _compact(liked_rows.words)
        # A copy: a slice would keep the whole training matrix (background and all) alive.
        self._liked_meaning = liked_rows.meaning.copy() if meaning is not None and liked_rows.meaning is not None else None
        self.kind = kind
        """``svm`` or ``centroid`` (one kind of signal only) or ``empty`` (no signal)."""

    @classmethod
    def train(cls, signalled: Sequence[Signalled], background: Sequence[Paper] = (), *,
              meaning: bool = True) -> InterestModel:
        """Learn from *signalled* papers; *background* papers (not signalled) are weak negatives.

        ``meaning=False`` leaves the embedding out (words alone: what the bench compares against).
        """
        liked, disliked = _split(signalled)
        seen = {p.id for p, _ in liked} | {p.id for p, _ in disliked}
        others = list({p.id: p for p in background if p.id not in seen}.values())
        negatives = [(p, _weight(n)) for p, n in disliked] + [(p, BACKGROUND_WEIGHT) for p in others]
        rows = _Rows.of([p for p, _ in liked] + [p for p, _ in negatives], meaning)
        liked_rows = rows.head(len(liked))
        if not liked and not disliked:
            return cls(np.zeros(0, np.int32), np.zeros(0, np.float32), None, (), liked_rows, "empty")
        if not liked or not negatives:
            return cls._centroid(liked, disliked, rows.head(len(liked) + len(disliked)), liked_rows)
        from sklearn.svm import LinearSVC  # here, not at import: scikit-learn costs a process 60 MB

        columns, x = _compact(rows.words)
        if rows.meaning is not None:
            x = _beside(x, MEANING * rows.meaning)
        y = np.r_[np.ones(len(liked)), np.zeros(len(negatives))]
        weight = np.r_[[_weight(n) for _, n in liked], [w for _, w in negatives]]
        svm = LinearSVC(C=C, class_weight="balanced", tol=1e-4, max_iter=2_000)
        svm.fit(x, y, sample_weight=weight)
        return cls._keeping(columns, svm.coef_.ravel(), rows.meaning is not None, liked, liked_rows, "svm")

    @classmethod
    def _centroid(cls, liked, disliked, rows: _Rows, liked_rows: _Rows) -> InterestModel:
        # Rocchio: towards what was liked, away from what was not.
        sign = np.r_[[_weight(n) / max(len(liked), 1) for _, n in liked],
                     [-_weight(n) / max(len(disliked), 1) for _, n in disliked]]
        columns, x = _compact(rows.words)
        summed = sp.csr_matrix(sign.reshape(1, -1)) @ x
        weights = summed.toarray().ravel()
        if rows.meaning is not None:
            weights = np.r_[weights, MEANING * (sign @ rows.meaning)]
        return cls._keeping(columns, weights, rows.meaning is not None, liked, liked_rows, "centroid")

    @classmethod
    def _keeping(cls, columns, weights, meaning: bool, liked, liked_rows, kind) -> InterestModel:
        """Return a model of the word *weights* largest in magnitude, then the embedding's if *meaning*."""
        words = weights[: len(columns)]
        keep = _largest(words, MAX_WEIGHTS)
        sense = weights[len(columns):].astype(np.float32) if meaning else None
        return cls(columns[keep], words[keep], sense, liked, liked_rows, kind)

    @property
    def size(self) -> int:
        """Bytes the model's arrays hold (the papers themselves are shared with the caller)."""
        arrays = [self._columns, self._weights, self._liked_columns, self._liked_words.data,
                  self._liked_words.indices, self._liked_words.indptr, self._meaning, self._liked_meaning]
        return sum(a.nbytes for a in arrays if a is not None)

    def scores(self, candidates: Sequence[Paper]) -> np.ndarray:
        """Return each candidate's score, in the candidates' order (higher: more this channel's)."""
        return self._score(_Rows.of(candidates, self._meaning is not None))

    def _score(self, rows: _Rows) -> np.ndarray:
        scores = rows.dot(self._columns, self._weights)
        if self._meaning is not None and rows.meaning is not None:
            scores += MEANING * (rows.meaning @ self._meaning)
        return scores

    def rank(self, candidates: Sequence[Paper], limit: int | None = None,
             explain: int | None = EXPLAIN) -> list[Ranked]:
        """Return *candidates* best first, one per paper id, at most *limit* of them (None: all).

        The first *explain* results (None: all) carry `close_to` and `terms`; the others carry
        empty tuples (the why has a cost per paper). `why` explains any one paper.
        """
        unique, rows = _Rows.unique(candidates, self._meaning is not None)
        if not unique:
            return []
        scores = self._score(rows)
        order = _best(scores, len(unique) if limit is None else max(limit, 0))
        shown = order if explain is None else order[: max(explain, 0)]
        whys = self._why(rows.take(shown), [unique[i] for i in shown])
        return [Ranked(unique[i], float(scores[i]), *(whys[n] if n < len(whys) else ((), ())))
                for n, i in enumerate(order)]

    def why(self, paper: Paper) -> tuple[tuple[tuple[Paper, int], ...], tuple[str, ...]]:
        """Return (close_to, terms) of one paper, as `rank` gives them."""
        return self._why(_Rows.of([paper], self._meaning is not None), [paper])[0]

    def _why(self, rows: _Rows, papers: Sequence[Paper]) -> list[tuple[tuple, tuple[str, ...]]]:
        close = self._close_to(rows)
        x = rows.words
        adds = np.zeros(x.nnz, dtype=np.float32)  # each feature's part in each paper's score
        if len(self._columns):
            where = np.minimum(np.searchsorted(self._columns, x.indices), len(self._columns) - 1)
            adds = np.where(self._columns[where] == x.indices, self._weights[where] * x.data, 0.0)
        spans = [slice(x.indptr[n], x.indptr[n + 1]) for n in range(len(papers))]
        return [(close[n], self._terms(paper, x.indices[span], adds[span]))
                for n, (paper, span) in enumerate(zip(papers, spans))]

    def _close_to(self, rows: _Rows) -> list[tuple[tuple[Paper, int], ...]]:
        """Return, for each row, the liked papers most like it (cosine, in words and in meaning)."""
        count = rows.words.shape[0]
        if not self._liked or not count:
            return [()] * count
        similarity = (_restrict(rows.words, self._liked_columns) @ self._liked_words.T).toarray()
        if self._liked_meaning is not None and rows.meaning is not None:
            similarity += MEANING**2 * (rows.meaning @ self._liked_meaning.T)
        best = np.argsort(-similarity, axis=1, kind="stable")[:, :CLOSE_TO]
        return [tuple(self._liked[j] for j in row if sim[j] > 0) for row, sim in zip(best, similarity)]

    def _terms(self, paper: Paper, columns: np.ndarray, adds: np.ndarray) -> tuple[str, ...]:
        """Return the paper's tokens that add most to its score (weight times presence, positive only)."""
        order = np.argsort(-adds, kind="stable")[: TERMS * 3]
        top = [int(columns[i]) for i in order if adds[i] > 0]
        if not top:
            return ()
        names = features.named(paper)
        picked: list[str] = []
        for term in (features.readable(names[c]) for c in top if c in names):
            if term is None:
                continue
            if not any(term in p or p in term for p in picked):  # "graph" adds nothing to "random graph"
                picked.append(term)
            if len(picked) == TERMS:
                break
        return tuple(picked)


def _best(scores: np.ndarray, count: int) -> np.ndarray:
    """Return the indices of the *count* highest scores, highest first (ties: earlier first)."""
    if count < len(scores):
        part = np.argpartition(-scores, count)[:count] if count else np.zeros(0, np.int64)
        return part[np.lexsort((part, -scores[part]))]
    return np.argsort(-scores, kind="stable")


class _Rows:
    """Papers as the model sees them: word features (sparse) and, when wordllama is there, meaning."""

    def __init__(self, words: sp.csr_matrix, meaning: np.ndarray | None) -> None:
        self.words = words
        self.meaning = meaning
        self._compacted: tuple[np.ndarray, sp.csr_matrix] | None = None

    @classmethod
    def of(cls, papers: Sequence[Paper], meaning: bool = True) -> _Rows:
        """Return the rows of *papers*; the same papers as last time give the same rows (a `picks`
        run ranks one day's candidates for every channel: their rows are stacked once)."""
        global _last
        last = _last
        papers = tuple(papers)
        if last is not None and last[1] == meaning and last[0] == papers:  # identical papers compare at C speed
            return last[2]
        rows = cls(features.vectors(papers), embedding.embed(papers) if meaning else None)
        _last = (papers, meaning, rows)
        return rows

    @classmethod
    def unique(cls, papers: Sequence[Paper], meaning: bool) -> tuple[list[Paper], _Rows]:
        """Return *papers* without repeated ids (the first of each kept) and their rows."""
        global _last_unique
        last = _last_unique
        if last is not None and last[0] == tuple(papers):
            unique = last[1]
        else:
            seen: set[str] = set()
            unique = [p for p in papers if not (p.id in seen or seen.add(p.id))]
            _last_unique = (tuple(papers), unique)
        return unique, cls.of(unique, meaning)

    def head(self, count: int) -> _Rows:
        return _Rows(self.words[:count], None if self.meaning is None else self.meaning[:count])

    def take(self, which: np.ndarray) -> _Rows:
        return _Rows(self.words[which], None if self.meaning is None else self.meaning[which])

    def dot(self, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Return each row's word features times *weights* (given on sorted *columns*)."""
        if self._compacted is None:
            self._compacted = _compact(self.words)
        used, x = self._compacted
        if not len(used) or not len(columns):
            return np.zeros(x.shape[0], dtype=np.float32)
        where = np.minimum(np.searchsorted(used, columns), len(used) - 1)
        hit = used[where] == columns
        dense = np.zeros(len(used), dtype=np.float32)
        dense[where[hit]] = weights[hit]
        return x @ dense


_last: tuple[tuple[Paper, ...], bool, _Rows] | None = None
"""The papers `_Rows.of` was last asked for, and their rows."""
_last_unique: tuple[tuple[Paper, ...], list[Paper]] | None = None
"""The papers `_Rows.unique` was last asked for, and the same without repeats."""


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
    columns, where = np.unique(x.indices, return_inverse=True)
    compact = sp.csr_matrix((x.data, where.astype(np.int32), x.indptr), shape=(x.shape[0], len(columns)))
    compact.has_sorted_indices = x.has_sorted_indices  # renumbering keeps the order
    return columns.astype(np.int64), compact


def _beside(words: sp.csr_matrix, dense: np.ndarray) -> sp.csr_matrix:
    """Return each row of *words* followed by the same row of *dense*, as CSR (`sp.hstack` is 10x slower)."""
    rows, width = dense.shape
    counts = np.diff(words.indptr)
    indptr = np.r_[0, np.cumsum(counts + width)]
    at_dense = ((indptr[:-1] + counts)[:, None] + np.arange(width)).ravel()
    is_word = np.ones(indptr[-1], dtype=bool)
    is_word[at_dense] = False
    indices = np.empty(indptr[-1], dtype=np.int32)
    data = np.empty(indptr[-1], dtype=np.float32)
    indices[is_word], data[is_word] = words.indices, words.data
    indices[at_dense] = np.tile(np.arange(words.shape[1], words.shape[1] + width), rows)
    data[at_dense] = dense.ravel()
    both = sp.csr_matrix((data, indices, indptr), shape=(rows, words.shape[1] + width))
    both.has_sorted_indices = words.has_sorted_indices  # the dense columns come after every word's
    return both


def _restrict(x: sp.csr_matrix, columns: np.ndarray) -> sp.csr_matrix:
    """Return *x* with only its entries in *columns* (sorted), renumbered to their place there."""
    if not len(columns):
        return sp.csr_matrix((x.shape[0], 0), dtype=np.float32)
    if x.nnz < 20_000:  # bisection for a few rows; for many, a lookup table over all columns is faster
        where = np.minimum(np.searchsorted(columns, x.indices), len(columns) - 1)
        found = columns[where] == x.indices
    else:
        place = np.full(features.N_FEATURES, -1, dtype=np.int32)
        place[columns] = np.arange(len(columns), dtype=np.int32)
        where = place[x.indices]
        found = where >= 0
    indptr = np.r_[0, np.cumsum(found)][x.indptr]
    return sp.csr_matrix((x.data[found], where[found], indptr), shape=(x.shape[0], len(columns)))


def _largest(weights: np.ndarray, count: int) -> np.ndarray:
    """Return the indices of the *count* weights largest in magnitude, in column order."""
    if len(weights) <= count:
        return np.flatnonzero(weights)
    return np.sort(np.argpartition(-np.abs(weights), count)[:count])
