"""Trained models kept per channel or person, retrained only when their signals change.

Models are caches: everything in one is rebuilt from the stored signals, so after a restart,
on another process, or once `forget me` removed someone's signals, the next `get` trains anew.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from bot.ranking.interest.signals import Signalled
from bot.model.paper import Paper

if TYPE_CHECKING:
    from bot.ranking.interest.model import InterestModel


def signature(signalled: Sequence[Signalled]) -> int:
    """Return a fingerprint of the signals: equal when the same papers got the same counts."""
    return hash(tuple(sorted((s.paper.id, s.positive, s.negative) for s in signalled)))


class ModelCache:
    """A bounded LRU of trained models keyed by scope (a channel, a person's direct messages...).

    The background is not part of the key: it only supplies weak negatives, and a model trained
    on yesterday's background ranks today's candidates as well; retraining on every new
    background would retrain every channel every poll.
    """

    def __init__(self, max_models: int = 1000) -> None:
        if max_models < 1:
            raise ValueError("max_models must be at least 1")
        self._models: OrderedDict[Hashable, tuple[int, InterestModel]] = OrderedDict()
        self._max = max_models
        self._lock = threading.Lock()
        self.trained = 0
        """How many times a model was trained (a cache miss), for tests and metrics."""

    def get(self, scope: Hashable, signalled: Sequence[Signalled], background: Sequence[Paper] = ()) -> InterestModel:
        """Return the model of *scope* for these signals, training it if they changed."""
        key = signature(signalled)
        with self._lock:
            held = self._models.get(scope)
            if held is not None and held[0] == key:
                self._models.move_to_end(scope)
                return held[1]
        from bot.ranking.interest.model import InterestModel  # here: numpy and scipy load with the first model

        model = InterestModel.train(signalled, background)
        with self._lock:
            self.trained += 1
            self._models[scope] = (key, model)
            self._models.move_to_end(scope)
            while len(self._models) > self._max:
                self._models.popitem(last=False)
        return model

    def forget(self, scope: Hashable) -> None:
        """Drop the model of *scope* (its signals were removed; the next `get` retrains)."""
        with self._lock:
            self._models.pop(scope, None)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, scope: Hashable) -> bool:
        return scope in self._models
