"""What `TopicIndex.matches` returns: the topics one paper matches, each with a `Match` made on demand.

At 100,000 topics a paper matches thousands of them, and a poll keeps one match per channel
and explains fewer still. So the index hands back the matching keys as one flat list and
the compiled queries they share; a (key, `Match`) pair is only made for whoever walks the
result, and a match only works its hits out when asked. Holding thousands of small objects
alive per paper would also wake the cyclic garbage collector, whose full passes walk the
whole index: a result here is a few lists of numbers and keys, whatever its length.
"""

from __future__ import annotations

from itertools import islice, repeat
from typing import Generic, Hashable, Iterator, Sequence, TypeVar, overload

from bot.topics.compiled import PaperHits, Plan
from bot.topics.matcher import Match

K = TypeVar("K", bound=Hashable)


class Matches(Sequence[tuple[K, Match]], Generic[K]):
    """The (key, `Match`) pairs of every topic a paper matches, grouped by query in the order first added.

    Keys sharing a query share one (immutable) `Match`. A snapshot: later changes to the index
    do not show here. Compares equal to any sequence of the same pairs, e.g. ``[]``.
    """

    __slots__ = ("_keys", "_plans", "_counts", "_hits", "_pairs")

    def __init__(self, keys: list[K], plans: list[Plan], counts: list[int], hits: PaperHits) -> None:
        self._keys = keys
        self._plans = plans
        """Each matched query's plan, in order; it explains the next ``counts[i]`` keys."""
        self._counts = counts
        self._hits = hits
        self._pairs: list[tuple[K, Match]] | None = None

    def keys(self) -> list[K]:
        """Return the matching keys in order, making no `Match`: all a caller that only counts needs."""
        return self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[tuple[K, Match]]:
        if self._pairs is not None:
            return iter(self._pairs)
        return self._walk()

    def _walk(self) -> Iterator[tuple[K, Match]]:
        keys, of, deferred = iter(self._keys), self._hits.of, Match.deferred
        for plan, count in zip(self._plans, self._counts):
            match = deferred(of, plan)
            if count == 1:
                yield next(keys), match
            else:
                yield from zip(islice(keys, count), repeat(match))

    @overload
    def __getitem__(self, index: int) -> tuple[K, Match]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[K, Match]]: ...

    def __getitem__(self, index: int | slice) -> tuple[K, Match] | list[tuple[K, Match]]:
        # Indexing keeps the pairs, so the same match (and its worked-out hits) comes back each time.
        if self._pairs is None:
            self._pairs = list(self._walk())
        return self._pairs[index]

    def __reversed__(self) -> Iterator[tuple[K, Match]]:
        return reversed(self[:])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(mine == theirs for mine, theirs in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # equal to lists, so unhashable like them

    def __repr__(self) -> str:
        return f"Matches({self[:]!r})"
