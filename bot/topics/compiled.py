"""Queries compiled to term numbers, as `bot.topics.index` keeps them, and their hits in one paper.

The index numbers each distinct term (and filter) once, works out which of them a paper
holds, and evaluates each candidate query on that set of numbers. Explanations use
`Term.hit` with the same order and de-duplication as `Group.hits`, so they equal
`Query.match` exactly (the property tests check it).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain as concat
from typing import Iterator, Mapping

from bot.topics.matcher import Hit, Leaf, PaperText


@dataclass(frozen=True, slots=True)
class Compiled:
    """A query's `Group` over term numbers, evaluated against the set of terms a paper holds.

    Kept instead of the parsed query: it is all that matching, explaining and removal need.
    """

    chains: tuple[tuple[int | Compiled, ...], ...]
    excluded: tuple[int | Compiled, ...]

    def holds(self, held: set[int]) -> bool:
        """Say whether the group is satisfied when exactly the terms *held* are in the paper."""
        # Plain loops: this runs for every candidate query with nested groups.
        for chain in self.chains:
            for node in chain:
                if not (node in held if type(node) is int else node.holds(held)):  # type: ignore[union-attr]
                    break
            else:
                break
        else:
            return False
        for node in self.excluded:
            if node in held if type(node) is int else node.holds(held):  # type: ignore[union-attr]
                return False
        return True

    def hits(self, held: set[int], hit_of: Mapping[int, Hit]) -> Iterator[Hit]:
        """Yield hits exactly as `Group.hits` does, taking each term's hit from *hit_of*."""
        # Plain loops, as in `holds`: explaining runs this for every OR query a posted match comes from.
        for chain in self.chains:
            for node in chain:
                if not (node in held if type(node) is int else node.holds(held)):  # type: ignore[union-attr]
                    break
            else:
                for node in chain:
                    if type(node) is int:
                        yield hit_of[node]  # type: ignore[index]
                    else:
                        yield from node.hits(held, hit_of)  # type: ignore[union-attr]

    def is_plain(self) -> bool:
        """Say whether every alternative and exclusion is a plain term (no nested group)."""
        return all(type(node) is int for node in concat(*self.chains, self.excluded))

    def terms(self) -> Iterator[int]:
        """Yield the numbers of every term in the group, nested ones too, excluded ones too."""
        for node in concat(*self.chains, self.excluded):
            if isinstance(node, int):
                yield node
            else:
                yield from node.terms()


Plan = tuple[int, ...] | Compiled
"""What the index keeps of a query: the term numbers of its only chain when that is all there
is (most queries), else the whole compiled group."""


@dataclass(slots=True)
class TermInfo:
    term: Leaf
    cost: float
    """How often papers look likely to hold the term's entry, to choose which term of a chain guards it."""
    uses: int = 0
    """How many distinct queries use the term; it is forgotten at zero."""


class PaperHits(dict[int, Hit]):
    """Each held term's `Hit` in one paper, worked out the first time a match needs it."""

    def __init__(self, terms: dict[int, TermInfo], text: PaperText, held: set[int]) -> None:
        super().__init__()
        self._terms = terms
        self._text = text
        self._held = held

    def __missing__(self, number: int) -> Hit:
        hit = self[number] = self._terms[number].term.hit(self._text)
        return hit

    def of(self, plan: Plan) -> tuple[Hit, ...]:
        """Return the hits of the query kept as *plan*, as `Group.hits` orders them."""
        if type(plan) is tuple:
            return tuple(dict.fromkeys(map(self.__getitem__, plan)))
        return tuple(dict.fromkeys(plan.hits(self._held, self)))  # type: ignore[union-attr]
