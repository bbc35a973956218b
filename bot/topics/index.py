"""Find which of many topic queries a paper matches without testing every one.

Each query gets a *guard*: a few index entries (a word, two adjacent words or a
prefix, each in one field) such that any paper the query matches contains at
least one of them. A paper is tested only against the queries one of whose
entries it contains, and with the query's own `Query.match`, so the answers and
their explanations are exactly those of testing every query.

Why a guard is sound, for the node kinds of `bot.topics.matcher`:

- a term matches only if its field holds every one of its words, so any one word
  (or pair of adjacent whole words, or prefix) of it will do;
- an AND chain matches only if every child does, so any one child's guard will
  do; the index takes the child that looks rarest;
- an OR group matches only if one of its chains does, so it needs the union;
- exclusions only ever remove matches, so they never contribute.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Generic, Hashable, Iterable, TypeVar

from bot.paper import Paper
from bot.topics.matcher import Group, Match, Node, PaperText, Term
from bot.topics.parser import Query

K = TypeVar("K", bound=Hashable)

WORD, PAIR, PREFIX = "word", "pair", "prefix"

Entry = tuple[str, str, object]
"""One index entry: (kind, field, token), e.g. ``("word", "default", "merging")``,
``("pair", "title", ("model", "merging"))`` or ``("prefix", "author", "neub")``."""

# Short, frequent words: a guard on one of them would make nearly every paper a candidate.
_COMMON = frozenset(
    "a an and are as at be by for from has have in into is it its of on or our that the this to we "
    "which with using model language large learning data method approach task".split()
)
# How much narrower a field is than title + abstract + keywords (a rough guess; only ranks choices).
_FIELD_SHARE = {"default": 1.0, "abstract": 0.9, "title": 0.3, "author": 0.2}


@dataclass(frozen=True, slots=True)
class Guard:
    """Index entries a matching paper must contain one of, and a guess at how often papers do."""

    entries: frozenset[Entry]
    cost: float
    """Roughly the share of papers that contain one of the entries; lower is better."""


@dataclass(slots=True)
class _Slot(Generic[K]):
    """One distinct query and the keys that follow it."""

    query: Query
    entries: frozenset[Entry]
    keys: dict[K, None]
    """An ordered set: the keys in the order they were added."""


def guard_of(query: Query) -> Guard | None:
    """Return the entries that every paper matching *query* contains at least one of, or None if none can."""
    return _group_guard(query.root)


class TopicIndex(Generic[K]):
    """Many topic queries, indexed by their guards so a paper is tested only against likely matches.

    Keys are whatever the caller uses to name a topic, e.g. ``(channel_id, topic_id)``. Keys whose
    queries have the same canonical text share one slot, so a topic many channels follow is tested
    once per paper. `matches` gives exactly what testing every query would give.
    """

    def __init__(self) -> None:
        self._next_slot = 0
        self._slot_of_key: dict[K, int] = {}
        self._slot_of_text: dict[str, int] = {}
        self._slots: dict[int, _Slot[K]] = {}
        # kind -> field -> token -> slots; split by kind and field so a paper's tokens can be
        # intersected with each table's keys in one set operation.
        self._tables: dict[str, dict[str, dict[object, set[int]]]] = {WORD: {}, PAIR: {}, PREFIX: {}}
        self._prefix_lengths: dict[str, Counter[int]] = {}
        self._unguarded: set[int] = set()

    def __len__(self) -> int:
        return len(self._slot_of_key)

    def __contains__(self, key: object) -> bool:
        return key in self._slot_of_key

    def add(self, key: K, query: Query) -> None:
        """Index *query* under *key*, replacing what *key* held before."""
        self.remove(key)
        slot = self._slot_of_text.get(query.text)
        if slot is None:
            slot = self._new_slot(query)
        self._slots[slot].keys[key] = None
        self._slot_of_key[key] = slot

    def remove(self, key: K) -> None:
        """Forget the query under *key*; do nothing if there is none."""
        slot = self._slot_of_key.pop(key, None)
        if slot is None:
            return
        held = self._slots[slot]
        del held.keys[key]
        if not held.keys:
            self._drop_slot(slot)

    def candidates(self, paper: Paper | PaperText) -> list[K]:
        """Return the keys whose queries *paper* might match (a superset of the matches)."""
        text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
        return [key for slot in self._candidate_slots(text) for key in self._slots[slot].keys]

    def matches(self, paper: Paper | PaperText) -> list[tuple[K, Match]]:
        """Return every key whose query matches *paper*, with that query's `Match`.

        Keys come grouped by query text, queries in the order first added, keys in the order added.
        Keys sharing a query share one (immutable) `Match`.
        """
        text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
        found: list[tuple[K, Match]] = []
        slots = self._slots
        for slot in self._candidate_slots(text):
            held = slots[slot]
            match = held.query.match(text)
            if match is not None:
                found += [(key, match) for key in held.keys]
        return found

    def _new_slot(self, query: Query) -> int:
        slot = self._next_slot
        self._next_slot += 1
        guard = guard_of(query)
        entries = guard.entries if guard is not None else frozenset()
        self._slots[slot] = _Slot(query, entries, {})
        self._slot_of_text[query.text] = slot
        if guard is None:
            self._unguarded.add(slot)
        for kind, field, token in entries:
            self._tables[kind].setdefault(field, {}).setdefault(token, set()).add(slot)
            if kind == PREFIX:
                self._prefix_lengths.setdefault(field, Counter())[len(token)] += 1  # type: ignore[arg-type]
        return slot

    def _drop_slot(self, slot: int) -> None:
        held = self._slots.pop(slot)
        del self._slot_of_text[held.query.text]
        self._unguarded.discard(slot)
        for kind, field, token in held.entries:
            by_field = self._tables[kind]
            slots = by_field[field][token]
            slots.discard(slot)
            if not slots:
                del by_field[field][token]
                if not by_field[field]:
                    del by_field[field]
            if kind == PREFIX:
                lengths = self._prefix_lengths[field]
                lengths[len(token)] -= 1  # type: ignore[arg-type]
                if not lengths[len(token)]:  # type: ignore[arg-type]
                    del lengths[len(token)]  # type: ignore[arg-type]
                    if not lengths:
                        del self._prefix_lengths[field]

    def _candidate_slots(self, text: PaperText) -> list[int]:
        slots: set[int] = set(self._unguarded)
        for field, table in self._tables[WORD].items():
            for token in getattr(text, field).positions.keys() & table.keys():
                slots |= table[token]
        for field, table in self._tables[PAIR].items():
            keys = getattr(text, field).keys
            for pair in set(zip(keys, keys[1:])) & table.keys():
                slots |= table[pair]
        for field, table in self._tables[PREFIX].items():
            lengths = tuple(self._prefix_lengths[field])
            prefixes = {w[:n] for w in getattr(text, field).sorted_words for n in lengths if n <= len(w)}
            for prefix in prefixes & table.keys():
                slots |= table[prefix]
        return sorted(slots)


def _group_guard(group: Group) -> Guard | None:
    entries: set[Entry] = set()
    cost = 0.0
    for chain in group.any_of:
        best = _cheapest(_node_guard(node) for node in chain)
        if best is None:
            return None
        entries |= best.entries
        cost += best.cost
    return Guard(frozenset(entries), cost)


def _node_guard(node: Node) -> Guard | None:
    return _term_guard(node) if isinstance(node, Term) else _group_guard(node)


def _cheapest(guards: Iterable[Guard | None]) -> Guard | None:
    usable = [guard for guard in guards if guard is not None]
    return min(usable, key=lambda guard: guard.cost) if usable else None


def _term_guard(term: Term) -> Guard:
    """Pick the rarest-looking entry of *term*: two adjacent whole words, else a word, else a prefix."""
    field = term.field or "default"
    share = _FIELD_SHARE.get(field, 1.0)
    parts = term.parts
    options: list[tuple[float, Entry]] = []
    for (first, first_is_prefix), (second, second_is_prefix) in zip(parts, parts[1:]):
        if not first_is_prefix and not second_is_prefix:
            options.append((_word_cost(first) * _word_cost(second), (PAIR, field, (first, second))))
    if not options:
        options = [(_word_cost(key), (WORD, field, key)) for key, is_prefix in parts if not is_prefix]
    if not options:
        options = [(_prefix_cost(key), (PREFIX, field, key)) for key, _ in parts]
    cost, entry = min(options, key=lambda option: option[0])
    return Guard(frozenset((entry,)), cost * share)


def _word_cost(word: str) -> float:
    # Without corpus statistics, length is a fair proxy for rarity in paper abstracts.
    if word in _COMMON:
        return 1.0
    return max(0.05, 0.6 - 0.06 * len(word))


def _prefix_cost(prefix: str) -> float:
    return min(1.0, 1.5 * 0.6 ** (len(prefix) - 2))
