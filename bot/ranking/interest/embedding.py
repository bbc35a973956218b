"""What a paper means, beyond its words: a 256-number embedding of its title and abstract (wordllama).

wordllama's wheel carries its weights and tokenizer, so nothing is downloaded: the model is read
from the installed package. It is loaded on first use (about 2 s and 50 MB), not at import, so a
process that never ranks by interest never pays for it. If it cannot be loaded, `embed` returns
None once and for all and the interest models use their word features alone.

Embeddings are cached per paper, like the word features: a day's candidates are embedded once.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.model.paper import Paper

DIMENSIONS = 256
enabled = True
"""False: rank by words alone, never loading wordllama (it costs a process about 60 MB)."""
CACHE = 20_000
"""Papers whose embedding is kept (1 KB each)."""

log = logging.getLogger(__name__)


class _Embedder:
    def __init__(self, size: int) -> None:
        self._rows: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._model = None
        self._failed = False

    def __call__(self, papers: Sequence[Paper]) -> np.ndarray | None:
        """Return one unit-length row per paper, or None when wordllama cannot be loaded."""
        model = self._load()
        if model is None:
            return None
        keys = [(p.id, p.title, p.abstract) for p in papers]
        with self._lock:
            rows = [self._rows.get(k) for k in keys]
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            texts = [f"{papers[i].title}. {papers[i].abstract or papers[i].ai_summary or ''}" for i in missing]
            fresh = np.asarray(model.embed(texts, norm=True), dtype=np.float32)
            with self._lock:
                for i, row in zip(missing, fresh):
                    rows[i] = row
                    self._rows[keys[i]] = row
                while len(self._rows) > self._size:
                    self._rows.popitem(last=False)
        if not rows:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.vstack(rows)

    def _load(self):
        if not enabled:
            return None
        with self._lock:
            if self._model is None and not self._failed:
                try:
                    self._model = _load_wordllama()
                except Exception:  # an optional refinement: its absence must not stop the ranking
                    log.warning("wordllama could not be loaded; ranking by words alone", exc_info=True)
                    self._failed = True
            return self._model

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


def _load_wordllama():
    import wordllama
    from wordllama import WordLlama

    # The wheel holds weights/ and tokenizers/; naming its folder as the cache keeps wordllama from
    # looking anywhere else (it looks for its tokenizer under a folder name the wheel does not use).
    return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


embed = _Embedder(CACHE)
"""``embed(papers)``: an array of one embedding per paper, or None without wordllama."""
