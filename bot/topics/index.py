"""Find which of many topic queries a paper matches without testing every one.

Each query is filed under its guard (`bot.topics.guard`): a few of its terms, one of which
every paper it matches holds. For a paper, the index finds the terms it holds (most by
look-up alone; longer phrases are then tested with `Term.test`), takes the queries those
terms guard, and evaluates each on the set of held terms, mostly by set operations (see
`bot.topics.filing`). What it returns (`bot.topics.matches.Matches`) makes a `Match` only
for whoever walks it, and explains it only when asked.
"""

from __future__ import annotations

from itertools import chain as concat
from typing import Callable, Generic, Hashable, TypeVar

from bot.model.paper import Paper
from bot.topics.compiled import Compiled, PaperHits, Plan, TermInfo
from bot.topics.filing import Filing
from bot.topics.guard import (
    ARCHIVE, CATEGORY, CHECK, PAIR, PREFIX, WORD, Entry, Guard, guard_of, term_entry,
)
from bot.topics.matcher import Group, Leaf, Node, PaperText
from bot.topics.matches import Matches
from bot.topics.parser import Query
from bot.topics.prefixes import Prefixes

__all__ = [
    "ARCHIVE", "CATEGORY", "CHECK", "PAIR", "PREFIX", "WORD", "Entry", "Guard", "Matches", "TopicIndex", "guard_of",
]

K = TypeVar("K", bound=Hashable)
Keys = tuple[K, ...] | list[K]
"""The keys of one query, in the order added."""


class TopicIndex(Generic[K]):
    """Many topic queries, indexed by their guards so a paper is tested only against likely matches.

    Keys are whatever the caller uses to name a topic, e.g. ``(channel_id, topic_id)``. Keys whose
    queries have the same canonical text share one slot, and queries share their terms, so a term
    is tested once per paper however many topics use it. `matches` gives exactly what testing
    every query would give. The index keeps no `Query`: only each distinct term once, and each
    query compiled to term numbers, so the caller may drop its parsed queries once added.
    """

    def __init__(self) -> None:
        self._next_term = 0
        self._slot_of_key: dict[K, int] = {}
        self._slot_of_text: dict[str, int] = {}
        # Each distinct query (a slot) is kept as its plan, its keys in the order added, and its
        # folded text (which names it: Merging and merging share one); the parsed query is not.
        # Three lists by slot rather than an object per slot: `matches` reads them with `itemgetter`.
        # Listing a paper's thousands of matching keys is bound by memory reads, so each read is
        # saved where it can be: lists, not dicts, as a list finds an item without a hash table's
        # entry; keys in a tuple while few (see `_with`), which holds its items in itself where a
        # list points to them. A dropped slot is None until `_compact` renumbers the live ones.
        self._plan_of: list[Plan | None] = []
        self._keys_of: list[Keys[K]] = []
        self._text_of: list[str | None] = []
        self._dropped = 0
        self._number_of_term: dict[Leaf, int] = {}
        self._terms: dict[int, TermInfo] = {}
        # kind -> field -> token -> term numbers; split by kind and field so a paper's tokens can be
        # intersected with each table's keys in one set operation. Tuples, not sets: nearly every
        # token names one term, and a one-item tuple is a quarter of an empty set's size.
        self._tables: dict[str, dict[str, dict[object, tuple[int, ...]]]] = {
            WORD: {}, PAIR: {}, CATEGORY: {}, ARCHIVE: {}
        }
        self._prefixes: dict[str, Prefixes] = {}
        """The prefix terms by field (`bot.topics.prefixes`), kept apart: a word is looked up at few lengths."""
        self._inexact: dict[int, Callable[[PaperText], bool]] = {}
        """The tests of the terms that holding their entry does not settle (longer phrases)."""
        self._checks: dict[int, Callable[[PaperText], bool]] = {}
        """The tests of the filters no look-up finds (counts, has:code), run on every paper."""
        self._filing = Filing(self._cost)
        self._free_terms: list[int] = []
        """Numbers of forgotten terms, given again to new ones: `Filing` keeps lists indexed by term number."""

    def __len__(self) -> int:
        return len(self._slot_of_key)

    def __contains__(self, key: object) -> bool:
        return key in self._slot_of_key

    def add(self, key: K, query: Query) -> None:
        """Index *query* under *key*, replacing what *key* held before."""
        self.remove(key)
        slot = self._slot_of_text.get(query.key)
        if slot is None:
            slot = self._new_slot(query)
        self._keys_of[slot] = _with(self._keys_of[slot], key)
        self._slot_of_key[key] = slot

    def remove(self, key: K) -> None:
        """Forget the query under *key*; do nothing if there is none."""
        slot = self._slot_of_key.pop(key, None)
        if slot is None:
            return
        keys = self._keys_of[slot] = _without(self._keys_of[slot], key)
        if not keys:
            self._drop_slot(slot)

    def candidates(self, paper: Paper | PaperText) -> list[K]:
        """Return the keys whose queries *paper* might match (a superset of the matches)."""
        text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
        found = self._filing.candidates(self._held_terms(text))
        return list(concat.from_iterable(map(self._keys_of.__getitem__, sorted(found))))

    def matches(self, paper: Paper | PaperText) -> Matches[K]:
        """Return every key whose query matches *paper*, with that query's `Match`, as a `Matches`.

        Keys come grouped by query, queries in the order first added, keys in the order added.
        Keys sharing a query share one (immutable) `Match`, made only when the result is walked,
        which works out its hits only when first asked: a caller that explains a few of
        thousands of matches pays for those few, and one that only wants the keys
        (`Matches.keys`) makes no match at all.
        """
        text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
        held = self._held_terms(text)
        slots = sorted(self._filing.matched(held, self._plan_of))
        return Matches(slots, self._keys_of, self._plan_of, PaperHits(self._terms, text, held))

    def _held_terms(self, text: PaperText) -> set[int]:
        """Return the numbers of the indexed terms that *text* contains."""
        # One `get` a token, misses dropped by `filter`: no set of the hits to build and walk, no second look-up.
        looked_up: set[int] = set()
        for field, table in self._tables[WORD].items():
            looked_up.update(*filter(None, map(table.get, getattr(text, field).positions)))
        for field, table in self._tables[PAIR].items():
            keys = getattr(text, field).keys
            looked_up.update(*filter(None, map(table.get, zip(keys, keys[1:]))))
        for field, prefixes in self._prefixes.items():
            looked_up.update(*prefixes.held(getattr(text, field).sorted_words))
        for kind in (CATEGORY, ARCHIVE):
            for field, table in self._tables[kind].items():
                looked_up.update(*filter(None, map(table.get, getattr(text, field))))
        if self._checks:
            looked_up.update(number for number, check in self._checks.items() if check(text))
        inexact = self._inexact
        for number in inexact.keys() & looked_up:
            if not inexact[number](text):
                looked_up.discard(number)
        return looked_up

    def _new_slot(self, query: Query) -> int:
        slot = len(self._plan_of)
        compiled = self._compile(query.root)
        for number in dict.fromkeys(compiled.terms()):
            self._terms[number].uses += 1
        plain = compiled.is_plain()
        plan: Plan = compiled.chains[0] if plain and len(compiled.chains) == 1 and not compiled.excluded else compiled  # type: ignore[assignment]
        self._plan_of.append(plan)
        self._keys_of.append(())
        self._text_of.append(query.key)
        self._slot_of_text[query.key] = slot
        self._filing.file(slot, compiled, plain, file=True)
        return slot

    def _drop_slot(self, slot: int) -> None:
        compiled = _compiled(self._plan_of[slot])  # type: ignore[arg-type]
        del self._slot_of_text[self._text_of[slot]]  # type: ignore[arg-type]
        self._plan_of[slot] = self._text_of[slot] = None
        self._filing.file(slot, compiled, compiled.is_plain(), file=False)
        for number in dict.fromkeys(compiled.terms()):
            info = self._terms[number]
            info.uses -= 1
            if not info.uses:
                self._forget_term(number)
        self._dropped += 1
        if self._dropped > max(_COMPACT_AT, len(self._plan_of) // 2):
            self._compact()

    def _compact(self) -> None:
        """Number the live slots afresh, in the same order, so the lists by slot hold no dropped ones."""
        live = [slot for slot, plan in enumerate(self._plan_of) if plan is not None]
        plans, keys, texts = ([of[slot] for slot in live] for of in (self._plan_of, self._keys_of, self._text_of))
        self._filing.clear()
        for slot, plan in enumerate(plans):
            compiled = _compiled(plan)  # type: ignore[arg-type]
            self._filing.file(slot, compiled, compiled.is_plain(), file=True)
        self._plan_of, self._keys_of, self._text_of = plans, keys, texts  # type: ignore[assignment]
        self._slot_of_text = {text: slot for slot, text in enumerate(texts)}  # type: ignore[misc]
        self._slot_of_key = {key: slot for slot, of_slot in enumerate(keys) for key in of_slot}
        self._dropped = 0

    def _cost(self, number: int) -> float:
        return self._terms[number].cost

    def _compile(self, group: Group) -> Compiled:
        chains = tuple(tuple(self._compile_node(node) for node in chain) for chain in group.any_of)
        return Compiled(chains, tuple(self._compile_node(node) for node in group.none_of))

    def _compile_node(self, node: Node) -> int | Compiled:
        if isinstance(node, Group):
            return self._compile(node)
        number = self._number_of_term.get(node)
        if number is None:
            number = self._new_term_number()
            entry, cost, exact = term_entry(node)
            self._number_of_term[node] = number
            self._terms[number] = TermInfo(node, cost)
            kind, field, token = entry
            if kind == CHECK:
                self._checks[number] = node.test
                return number
            if not exact:
                self._inexact[number] = node.test
            if kind == PREFIX:
                prefixes = self._prefixes.get(field) or self._prefixes.setdefault(field, Prefixes())
                prefixes.add(token, number)  # type: ignore[arg-type]
                return number
            table = self._tables[kind].setdefault(field, {})
            table[token] = (*table.get(token, ()), number)
        return number

    def _new_term_number(self) -> int:
        if self._free_terms:
            return self._free_terms.pop()
        self._next_term += 1
        self._filing.make_room(self._next_term)
        return self._next_term - 1

    def _forget_term(self, number: int) -> None:
        info = self._terms.pop(number)
        self._free_terms.append(number)
        self._inexact.pop(number, None)
        del self._number_of_term[info.term]
        (kind, field, token), _, _ = term_entry(info.term)  # the entry is worked out again, not kept
        if kind == CHECK:
            del self._checks[number]
            return
        if kind == PREFIX:
            self._prefixes[field].remove(token, number)  # type: ignore[arg-type]
            if not self._prefixes[field]:
                del self._prefixes[field]
            return
        by_field = self._tables[kind]
        rest = tuple(other for other in by_field[field][token] if other != number)
        if rest:
            by_field[field][token] = rest
        else:
            del by_field[field][token]
            if not by_field[field]:
                del by_field[field]


def _compiled(plan: Plan) -> Compiled:
    """Return the compiled query kept as *plan*."""
    return plan if isinstance(plan, Compiled) else Compiled((plan,), ())


_COMPACT_AT = 1024
"""Fewest dropped slots worth renumbering for; more than half the slots dropped is also needed."""
_SHORT = 16
"""Up to this many keys a query keeps them in a tuple, copied on each change; more, in a list: a query
thousands of channels follow would otherwise cost a copy of all its keys for each one added."""


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
