"""What a paper is to the interest model: hashed, L2-normalised word counts of its text and labels.

The features are scikit-learn's `HashingVectorizer` over tokens made here: the words and two-word
phrases of the title (counted twice: a title says what a paper is about) and abstract, the
categories (``cat:hep-th``) and their archive (``arc:hep``), and the authors (``au:turing``).
Hashing needs no vocabulary, so every channel's model lives in the same feature space, a
paper's vector does not depend on which model looks at it, and a vector is computed once per
paper and cached (`vectors`): a daily run ranks the same candidates for every channel.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from bot.model.paper import Paper

N_FEATURES = 2**20
"""Hash buckets: enough that two of a channel's words rarely share one."""
VECTOR_CACHE = 20_000
"""Papers whose vectors are kept (about 1 KB each)."""

_MATH = re.compile(r"\$[^$]*\$|\\[a-zA-Z]+|\{|\}")
_WORD = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_MORE_STOP = {
    "paper", "propose", "proposed", "present", "show", "shows", "study", "results", "result", "new",
    "based", "using", "use", "used", "approach", "method", "methods", "work", "recent", "different",
    "novel", "problem", "case", "also", "two", "one", "three", "given", "obtained", "find",
    "found", "discuss", "consider", "considered", "well", "general", "various", "number", "way",
}


@lru_cache(maxsize=1)
def _sklearn():
    """Return scikit-learn's pieces, imported on first use: it costs a process about 60 MB."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, HashingVectorizer
    from sklearn.utils import murmurhash3_32

    hasher = HashingVectorizer(analyzer=tokens, n_features=N_FEATURES, alternate_sign=False, norm=None,
                               dtype=np.float32)
    return hasher, murmurhash3_32, ENGLISH_STOP_WORDS | _MORE_STOP


def words(text: str) -> list[str]:
    """Return the content words of *text*, lowercased, in order (math, LaTeX and stop words dropped)."""
    stop = _sklearn()[2]
    return [w for w in _WORD.findall(_MATH.sub(" ", text.lower())) if len(w) > 1 and w not in stop]


def _phrases(text: str) -> list[str]:
    """Return the words of *text* and each pair of words that stand side by side in it."""
    found = words(text)
    return found + [f"{a} {b}" for a, b in zip(found, found[1:])]


def tokens(paper: Paper) -> list[str]:
    """Return the features of *paper* as strings, repeated as often as they count."""
    text = _phrases(paper.title) * 2 + _phrases(paper.abstract or paper.ai_summary or "")
    labels = [f"cat:{c}" for c in paper.categories] + sorted({f"arc:{c.split('.')[0]}" for c in paper.categories})
    authors = [f"au:{a.split()[-1].lower()}" for a in paper.authors[:10] if a.split()]
    return text + labels + authors


_NAMED: OrderedDict[int, dict[int, str]] = OrderedDict()
_NAMED_SIZE = 1_000
"""Papers whose tokens are kept by name: the ones explained lately (a day's top picks)."""
_NAMED_LOCK = threading.Lock()


def named(paper: Paper) -> dict[int, str]:
    """Return the paper's tokens by feature column (to explain a score in words; about 20 KB a paper)."""
    key = _key(paper)
    with _NAMED_LOCK:
        found = _NAMED.get(key)
        if found is not None:
            _NAMED.move_to_end(key)
            return found
    names = list(dict.fromkeys(tokens(paper)))
    found = {}
    for name, column_ in zip(names, columns(names).tolist()):
        found.setdefault(column_, name)  # on a (rare) collision, the token seen first
    with _NAMED_LOCK:
        _NAMED[key] = found
        while len(_NAMED) > _NAMED_SIZE:
            _NAMED.popitem(last=False)
    return found


def readable(token: str) -> str | None:
    """Return *token* as a person reads it (``cat:hep-th`` is ``hep-th``, ``au:turing`` is ``Turing``),
    or None for an archive (``arc:hep``), which says less than the category beside it."""
    if token.startswith("arc:"):
        return None
    if token.startswith("au:"):
        return token[3:].title()
    return token.removeprefix("cat:")


def _key(paper: Paper) -> int:
    # The content counts, not only the id: the same paper may come from two sources with different text.
    return hash((paper.id, paper.title, paper.abstract, paper.categories, paper.authors))


class _Vectors:
    """A bounded, thread-safe LRU of papers' vectors, so each paper is tokenized once."""

    def __init__(self, size: int) -> None:
        self._rows: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __call__(self, papers: Sequence[Paper]) -> sp.csr_matrix:
        """Return one L2-normalised row per paper (sublinear counts: a word said ten times is not ten words)."""
        keys = [_key(p) for p in papers]
        with self._lock:
            rows = [self._rows.get(k) for k in keys]
            for k, row in zip(keys, rows):
                if row is not None:
                    self._rows.move_to_end(k)
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            fresh = _normalize(_sklearn()[0].transform([papers[i] for i in missing]))
            with self._lock:
                for n, i in enumerate(missing):
                    start, end = fresh.indptr[n], fresh.indptr[n + 1]
                    rows[i] = (fresh.indices[start:end].copy(), fresh.data[start:end].copy())
                    self._rows[keys[i]] = rows[i]
                while len(self._rows) > self._size:
                    self._rows.popitem(last=False)
        return _stack(rows)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)


def _stack(rows: list) -> sp.csr_matrix:
    """Return the rows, each (column indices, values), as one CSR matrix (`sp.vstack` is far slower)."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r[0]) for r in rows], out=indptr[1:])
    if not rows:
        return sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
    indices = np.concatenate([r[0] for r in rows])
    data = np.concatenate([r[1] for r in rows])
    stacked = sp.csr_matrix((data, indices, indptr), shape=(len(rows), N_FEATURES))
    stacked.has_sorted_indices = True  # each row was sorted by the hasher (it sums duplicates)
    return stacked


def _normalize(counts: sp.csr_matrix) -> sp.csr_matrix:
    """Return log(1 + count) per feature, each row scaled to unit length, indices sorted in each row."""
    counts = counts.tocsr()
    counts.sort_indices()
    np.log1p(counts.data, out=counts.data)
    row_of = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(row_of, weights=counts.data**2, minlength=counts.shape[0]))
    norms[norms == 0] = 1.0
    counts.data = (counts.data / norms[row_of]).astype(np.float32)
    return counts


vectors = _Vectors(VECTOR_CACHE)
"""The process's paper vectors: ``vectors(papers)`` is a sparse matrix, one row per paper."""


def columns(names: Sequence[str]) -> np.ndarray:
    """Return the feature column of each token in *names* (the inverse the hashing itself lacks).

    The same arithmetic as scikit-learn's `FeatureHasher` with ``alternate_sign=False``; a test
    holds the two together. Calling the hasher per token would cost a millisecond each.
    """
    return np.fromiter((column(name) for name in names), dtype=np.int64, count=len(names))


@lru_cache(maxsize=100_000)
def column(name: str) -> int:
    """Return the feature column of one token (remembered: the same words come back all day)."""
    h = _sklearn()[1](name, seed=0)
    return (2**31 - 1 - (N_FEATURES - 1)) % N_FEATURES if h == -(2**31) else abs(h) % N_FEATURES
