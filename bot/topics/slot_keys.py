"""The caller's keys of each query (slot) of `bot.topics.index`, kept so a paper's thousands are listed cheaply.

At 100,000 topics a paper matches some 3,000 queries and 5,000 keys, and listing them is bound
by memory reads: each object read on the way costs more than the work done with it. Nearly
every query has one key, so besides each slot's keys (a tuple while few, which holds its items
in itself where a list points to them) the first key of each slot is kept in one list: a
paper's keys are then one `itemgetter` call over it, and only the slots with several keys
("crowded") have theirs put in whole, a slice of the picked first keys at a time.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import repeat
from operator import itemgetter
from typing import Generic, Hashable, Sequence, TypeVar

K = TypeVar("K", bound=Hashable)
_V = TypeVar("_V")
Keys = tuple[K, ...] | list[K]
"""The keys of one query, in the order added."""

_SHORT = 16
"""Up to this many keys a query keeps them in a tuple, copied on each change; more, in a list: a query
thousands of channels follow would otherwise cost a copy of all its keys for each one added."""


class SlotKeys(Generic[K]):
    """Each slot's keys in the order added (`of`), each slot's first key, and which slots have several."""

    __slots__ = ("of", "_first", "_crowded")

    def __init__(self, of: list[Keys[K]] | None = None) -> None:
        self.of: list[Keys[K]] = of if of is not None else []
        """Each slot's keys; read them, do not change them."""
        self._first: list[K | None] = [keys[0] if keys else None for keys in self.of]
        self._crowded = {slot for slot, keys in enumerate(self.of) if len(keys) > 1}

    def new_slot(self) -> None:
        """Make room for one more slot, with no keys yet."""
        self.of.append(())
        self._first.append(None)

    def add(self, slot: int, key: K) -> None:
        """Add *key* last to the keys of *slot*."""
        self._set(slot, _with(self.of[slot], key))

    def remove(self, slot: int, key: K) -> bool:
        """Remove *key* from the keys of *slot*; say whether any are left."""
        return bool(self._set(slot, _without(self.of[slot], key)))

    def renumbered(self, live: list[int]) -> SlotKeys[K]:
        """Return the keys of the slots *live*, numbered afresh from 0 in that order."""
        return SlotKeys([self.of[slot] for slot in live])

    def listed(self, order: list[int]) -> list[K]:
        """Return the keys of the slots *order* (ascending), each slot's in the order added, in one list."""
        firsts = pick(self._first, order)
        crowded = sorted(self._crowded.intersection(order))
        if not crowded:
            return list(firsts)  # type: ignore[arg-type]
        keys: list[K] = []
        at = 0
        of = self.of
        for slot, position in zip(crowded, map(bisect_left, repeat(order), crowded)):
            keys += firsts[at:position]  # type: ignore[arg-type]
            keys += of[slot]
            at = position + 1
        keys += firsts[at:]  # type: ignore[arg-type]
        return keys

    def _set(self, slot: int, keys: Keys[K]) -> Keys[K]:
        self.of[slot] = keys
        self._first[slot] = keys[0] if keys else None
        if len(keys) > 1:
            self._crowded.add(slot)
        else:
            self._crowded.discard(slot)
        return keys


def pick(items: Sequence[_V], numbers: list[int]) -> tuple[_V, ...]:
    """Return the items numbered *numbers*, in order, in one call (no Python step per number)."""
    if len(numbers) > 1:
        return itemgetter(*numbers)(items)  # type: ignore[no-any-return]
    return (items[numbers[0]],) if numbers else ()


def _with(keys: Keys[K], key: K) -> Keys[K]:
    """Return *keys* with *key* added last (a new tuple, or the same list)."""
    if type(keys) is list:
        keys.append(key)
        return keys
    return (*keys, key) if len(keys) < _SHORT else [*keys, key]


def _without(keys: Keys[K], key: K) -> Keys[K]:
    """Return *keys* without *key* (a new tuple, or the same list)."""
    if type(keys) is list:
        keys.remove(key)
        return keys
    at = keys.index(key)
    return keys[:at] + keys[at + 1:]
