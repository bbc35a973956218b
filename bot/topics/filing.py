"""Where `bot.topics.index` files each query, by term number, and which queries a paper's held terms satisfy.

A query of plain terms (nearly every one) matches when one side of its OR has all its terms
and none of its exclusions is held. Each side is filed under its guarding term (the rarest
looking): one-term sides under `alone`, two-term sides under `pairs` by the other term too, so
both are found by set operations alone, and longer sides under `longer`. `vetoes` files each
query under its excluded terms; queries with nested groups are filed under their guard's terms
in `nested` and tested whole. Queries are named by their slot number in the index.

Term numbers are dense (the index reuses a forgotten term's number), so what is filed under
the terms most papers touch is kept in lists indexed by term number: a paper holds some 700
terms, and one `itemgetter` call over a list finds what each has filed, where a dict look-up
each would hash every term again and read a hash table scattered over the whole index.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable, Hashable, Sequence

from bot.topics.compiled import Compiled, Plan

Cost = Callable[[int], float]


class Filing:
    """Each query's filing by term number; `matched` finds the slots a paper's held terms satisfy."""

    def __init__(self, cost: Cost) -> None:
        self._cost = cost
        """How likely a paper looks to hold a term: each side is filed under its least likely term."""
        self._alone: list[set[int] | None] = []
        self._pairs: list[dict[int, set[int]] | None] = []
        self._vetoes: list[set[int] | None] = []
        self._longer: dict[int, dict[tuple[int, int], frozenset[int]]] = {}
        self._nested: dict[int, set[int]] = {}

    def make_room(self, terms: int) -> None:
        """Make room for term numbers below *terms* (and some more, so that adding terms one by one
        does not grow the lists one by one)."""
        if terms > len(self._alone):
            grow = [None] * max(terms - len(self._alone), 64)
            for by_term in (self._alone, self._pairs, self._vetoes):
                by_term += grow

    def clear(self) -> None:
        """Forget every query filed (the term numbers stay)."""
        for by_term in (self._alone, self._pairs, self._vetoes):
            by_term[:] = [None] * len(by_term)
        self._longer.clear()
        self._nested.clear()

    def matched(self, held: set[int], plan_of: Sequence[Plan | None]) -> set[int]:
        """Return the slots whose queries hold when exactly the terms *held* are in the paper."""
        # Set operations wherever they will do: at 100,000 topics some 3,000 queries a paper
        # match, and a Python step per query would cost more than everything else together.
        if not held:
            return set()
        pick = _picker(held)
        matched: set[int] = set()
        matched.update(*filter(None, pick(self._alone)))
        # One comprehension and one update rather than an update per guarding term: a paper holds
        # some 400 of them, and the per-call cost was most of the pairs' time.
        matched.update(*[slots[other] for slots in filter(None, pick(self._pairs))
                         for other in held.intersection(slots)])
        longer = self._longer
        for number in longer.keys() & held:
            matched.update(slot for (slot, _), members in longer[number].items() if held >= members)
        matched.difference_update(*filter(None, pick(self._vetoes)))
        nested = self._nested
        for number in nested.keys() & held:
            matched.update(slot for slot in nested[number] if plan_of[slot].holds(held))  # type: ignore[union-attr]
        return matched

    def candidates(self, held: set[int]) -> set[int]:
        """Return the slots filed under any of the terms *held*: a superset of those `matched` returns."""
        if not held:
            return set()
        pick = _picker(held)
        found: set[int] = set()
        found.update(*filter(None, pick(self._alone)))
        for by_other in filter(None, pick(self._pairs)):
            found.update(*by_other.values())
        for number in self._longer.keys() & held:
            found.update(slot for slot, _ in self._longer[number])
        found.update(*map(self._nested.__getitem__, self._nested.keys() & held))
        return found

    def file(self, slot: int, compiled: Compiled, plain: bool, *, file: bool) -> None:
        """File the query of *slot* where `matched` finds it, or (*file* False) undo that.

        Where is worked out from the compiled query and the terms' costs alone, so removal
        finds the same places as adding did without anything kept for it.
        """
        if not plain:
            guard = self._guard(compiled)
            assert guard is not None, "the parser never accepts a query with nothing to look for"
            for number in guard[0]:
                if file:
                    self._nested.setdefault(number, set()).add(slot)
                else:
                    _unfile(self._nested, number, slot)
            return
        for side, chain in enumerate(compiled.chains):
            members: tuple[int, ...] = tuple(dict.fromkeys(chain))  # type: ignore[arg-type]
            # Each side goes under its rarest-looking term, the one guard_of picks for it.
            number = min(members, key=self._cost)
            if file:
                self._file_side(slot, side, number, members)
            else:
                self._unfile_side(slot, side, number, members)
        for number in compiled.excluded:
            if file:
                _add(self._vetoes, number, slot)  # type: ignore[arg-type]
            else:
                _unfile(self._vetoes, number, slot)  # type: ignore[arg-type]

    def _guard(self, group: Compiled) -> tuple[set[int], float] | None:
        """Return the term numbers one of which every paper matching *group* holds, and their cost.

        The same choice `guard_of` makes on the parsed query, made on the compiled one.
        """
        numbers: set[int] = set()
        cost = 0.0
        for chain in group.chains:
            best: tuple[set[int], float] | None = None
            for node in chain:
                guard = ({node}, self._cost(node)) if isinstance(node, int) else self._guard(node)
                if guard is not None and (best is None or guard[1] < best[1]):
                    best = guard
            if best is None:
                return None
            numbers |= best[0]
            cost += best[1]
        return numbers, cost

    def _file_side(self, slot: int, side: int, number: int, members: tuple[int, ...]) -> None:
        """File one side of OR of a plain-term query under its guarding term *number*."""
        if len(members) == 1:
            _add(self._alone, number, slot)
        elif len(members) == 2:
            other = members[0] if members[1] == number else members[1]
            by_other = self._pairs[number]
            if by_other is None:
                by_other = self._pairs[number] = {}
            by_other.setdefault(other, set()).add(slot)
        else:
            self._longer.setdefault(number, {})[slot, side] = frozenset(members)

    def _unfile_side(self, slot: int, side: int, number: int, members: tuple[int, ...]) -> None:
        """Undo `_file_side`."""
        if len(members) == 1:
            _unfile(self._alone, number, slot)
        elif len(members) == 2:
            other = members[0] if members[1] == number else members[1]
            _unfile(self._pairs[number], other, slot)  # type: ignore[arg-type]
            if not self._pairs[number]:
                self._pairs[number] = None
        else:
            _unfile(self._longer, number, (slot, side))


def _picker(numbers: set[int]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """Return a function giving the items numbered *numbers* (at least one) of a list, as a tuple, in one call."""
    if len(numbers) > 1:
        return itemgetter(*numbers)
    number = next(iter(numbers))
    return lambda items: (items[number],)


def _add(by_term: list[set[int] | None], number: int, slot: int) -> None:
    """File *slot* under term *number*."""
    slots = by_term[number]
    if slots is None:
        by_term[number] = {slot}
    else:
        slots.add(slot)


def _unfile(filed: dict[int, Any] | list[Any], number: int, item: Hashable) -> None:
    """Remove *item* from what is filed under term *number*, dropping the term's entry when it empties."""
    under = filed[number] if isinstance(filed, list) else filed.get(number)
    if under is not None:
        under.discard(item) if isinstance(under, set) else under.pop(item, None)
        if not under:
            if isinstance(filed, list):
                filed[number] = None
            else:
                del filed[number]
