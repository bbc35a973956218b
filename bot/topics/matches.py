"""What `TopicIndex.matches` returns: the topics one paper matches, each with a `Match` made on demand.

At 100,000 topics a paper matches thousands of them, and a poll keeps one match per channel
and explains fewer still. So the index hands back only the matched queries' numbers, sorted:
the keys are listed when first asked for, a (key, `Match`) pair is made only for whoever walks
the result, and a match works its hits out only when asked. Holding thousands of small objects
alive per paper would also wake the cyclic garbage collector, whose full passes walk the
whole index: a result here is one list of query numbers (and, once asked, of keys).
"""

from __future__ import annotations

from collections import deque
from itertools import repeat
from operator import itemgetter
from typing import Generic, Hashable, Iterator, Sequence, TypeVar, overload

from bot.topics.compiled import PaperHits, Plan
from bot.topics.matcher import Match

K = TypeVar("K", bound=Hashable)
_V = TypeVar("_V")


class Matches(Sequence[tuple[K, Match]], Generic[K]):
    """The (key, `Match`) pairs of every topic a paper matches, grouped by query in the order first added.

    Keys sharing a query share one (immutable) `Match`. Read it before the index next changes,
    as with a dict's views. Compares equal to any sequence of the same pairs, e.g. ``[]``.
    """

    __slots__ = ("_order", "_keys_of", "_plan_of", "_hits", "_keys", "_pairs")

    def __init__(self, order: list[int], keys_of: Sequence[Sequence[K]], plan_of: Sequence[Plan | None],
                 hits: PaperHits) -> None:
        self._order = order
        """The matched queries' slots, in the order first added."""
        self._keys_of = keys_of
        self._plan_of = plan_of
        self._hits = hits
        self._keys: list[K] | None = None
        self._pairs: list[tuple[K, Match]] | None = None

    def keys(self) -> list[K]:
        """Return the matching keys in order, making no `Match`: all a caller that only counts needs."""
        if self._keys is None:
            # One `extend` a query rather than chaining them: chain makes an iterator for every query's keys.
            keys: list[K] = []
            deque(map(keys.extend, _pick(self._keys_of, self._order)), 0)
            self._keys = keys
        return self._keys

    def groups(self) -> Iterator[tuple[int, Sequence[K]]]:
        """Yield (position, keys) for each matched query, in order, making no `Match`: a caller that keeps a few
        of the keys asks `match_at` for the match of those few positions only. The keys are the index's own
        (a tuple, or a list for a query with many): read them, do not change them."""
        return enumerate(_pick(self._keys_of, self._order))

    def match_at(self, position: int) -> Match:
        """Return the match of the query at *position* (as `groups` numbers them): a new one on each call."""
        return Match.deferred(self._hits.of, self._plan_of[self._order[position]])

    def __len__(self) -> int:
        return len(self.keys())

    def __iter__(self) -> Iterator[tuple[K, Match]]:
        if self._pairs is not None:
            return iter(self._pairs)
        return self._walk()

    def _walk(self) -> Iterator[tuple[K, Match]]:
        keys_of, plan_of, of, deferred = self._keys_of, self._plan_of, self._hits.of, Match.deferred
        for slot in self._order:
            keys, match = keys_of[slot], deferred(of, plan_of[slot])
            if len(keys) == 1:
                yield keys[0], match
            else:
                yield from zip(keys, repeat(match))

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


def _pick(items: Sequence[_V], numbers: list[int]) -> tuple[_V, ...]:
    """Return the items numbered *numbers*, in order, in one call (no Python step per number)."""
    if len(numbers) > 1:
        return itemgetter(*numbers)(items)  # type: ignore[no-any-return]
    return (items[numbers[0]],) if numbers else ()
