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

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, HashingVectorizer

from bot.paper import Paper

N_FEATURES = 2**20
"""Hash buckets: enough that two of a channel's words rarely share one."""
VECTOR_CACHE = 20_000
"""Papers whose vectors are kept (about 1 KB each)."""

_MATH = re.compile(r"\$[^$]*\$|\\[a-zA-Z]+|\{|\}")
_WORD = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_STOP = ENGLISH_STOP_WORDS | {
    "paper", "propose", "proposed", "present", "show", "shows", "study", "results", "result", "new",
    "based", "using", "use", "used", "approach", "method", "methods", "work", "recent", "different",
    "novel", "problem", "case", "paper", "also", "two", "one", "three", "given", "obtained", "find",
    "found", "discuss", "consider", "considered", "well", "general", "various", "number", "way",
}
_PREFIXES = ("cat:", "arc:", "au:")


def words(text: str) -> list[str]:
    """Return the content words of *text*, lowercased, in order (math, LaTeX and stop words dropped)."""
    found = _WORD.findall(_MATH.sub(" ", text.lower()))
    return [w for w in found if len(w) > 1 and w not in _STOP]


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


def readable(token: str) -> str:
    """Return *token* as a person reads it: ``cat:hep-th`` is ``hep-th``, ``au:turing`` is ``turing``."""
    for prefix in _PREFIXES:
        if token.startswith(prefix):
            return token[len(prefix):]
    return token


_HASHER = HashingVectorizer(
    analyzer=tokens, n_features=N_FEATURES, alternate_sign=False, norm=None, dtype=np.float32
)


def _key(paper: Paper) -> int:
    # The content counts, not only the id: the same paper may come from two sources with different text.
    return hash((paper.id, paper.title, paper.abstract, paper.categories, paper.authors))


class _Vectors:
    """A bounded, thread-safe LRU of papers' vectors, so each paper is tokenized once."""

    def __init__(self, size: int) -> None:
        self._rows: OrderedDict[int, sp.csr_matrix] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __call__(self, papers: Sequence[Paper]) -> sp.csr_matrix:
        """Return one L2-normalised row per paper (sublinear counts: a word said ten times is not ten words)."""
        if not papers:
            return sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
        keys = [_key(p) for p in papers]
        with self._lock:
            rows = [self._rows.get(k) for k in keys]
            for k, row in zip(keys, rows):
                if row is not None:
                    self._rows.move_to_end(k)
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            fresh = _normalize(_HASHER.transform([papers[i] for i in missing]))
            with self._lock:
                for i, row in zip(missing, fresh):
                    rows[i] = row
                    self._rows[keys[i]] = row
                while len(self._rows) > self._size:
                    self._rows.popitem(last=False)
        return sp.vstack(rows, format="csr")

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


def _normalize(counts: sp.csr_matrix) -> sp.csr_matrix:
    counts = counts.tocsr()
    np.log1p(counts.data, out=counts.data)
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1 / norms).astype(np.float32) @ counts)


vectors = _Vectors(VECTOR_CACHE)
"""The process's paper vectors: ``vectors(papers)`` is a sparse matrix, one row per paper."""


_TOKEN_HASHER = HashingVectorizer(analyzer=list, n_features=N_FEATURES, alternate_sign=False, norm=None)


def columns(names: Sequence[str]) -> np.ndarray:
    """Return the feature column of each token in *names* (the inverse the hashing itself lacks)."""
    if not names:
        return np.zeros(0, dtype=np.int64)
    return _TOKEN_HASHER.transform([[name] for name in names]).indices.astype(np.int64)
