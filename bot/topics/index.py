"""Find which of many topic queries a paper matches without testing every one.

Each query gets a *guard*: a few of its terms, each looked up by one index entry
(a word, two adjacent words or a prefix, in one field), such that any paper the
query matches holds at least one of them. For a paper, the index finds the terms
it holds (most by look-up alone; longer phrases are then tested with `Term.test`),
takes the queries those terms guard, and evaluates each on the set of held terms.
Explanations use `Term.hit` and the same order and de-duplication as
`Group.hits`, so they equal `Query.match` exactly (the property tests check it).

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
from dataclasses import dataclass, field as dataclass_field
from typing import Generic, Hashable, Iterable, Iterator, Mapping, TypeVar

from bot.paper import Paper
from bot.topics.matcher import Group, Hit, Match, Node, PaperText, Term
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

    terms: frozenset[Term]
    """The query's terms whose entries these are: one of them holds in every matching paper."""
    entries: frozenset[Entry]
    cost: float
    """Roughly the share of papers that contain one of the entries; lower is better."""


def guard_of(query: Query) -> Guard | None:
    """Return the entries that every paper matching *query* contains at least one of, or None if none can."""
    return _group_guard(query.root)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A query's `Group` over term numbers, evaluated against the set of terms a paper holds."""

    chains: tuple[tuple[int | _Compiled, ...], ...]
    excluded: tuple[int | _Compiled, ...]
    flat: tuple[frozenset[int], ...] | None
    """Each chain's term numbers, when no chain nests a group: then a chain holds iff it is a subset."""
    flat_excluded: frozenset[int] | None

    def holds(self, held: set[int]) -> bool:
        """Say whether the group is satisfied when exactly the terms *held* are in the paper."""
        if self.flat is not None:
            for chain in self.flat:
                if held.issuperset(chain):
                    break
            else:
                return False
        elif not any(all(_holds(node, held) for node in chain) for chain in self.chains):
            return False
        if self.flat_excluded is not None:
            return held.isdisjoint(self.flat_excluded)
        return not any(_holds(node, held) for node in self.excluded)

    def hits(self, held: set[int], hit_of: Mapping[int, Hit]) -> Iterator[Hit]:
        """Yield hits exactly as `Group.hits` does, taking each term's hit from *hit_of*."""
        if self.flat is not None:
            for chain, members in zip(self.chains, self.flat):
                if held.issuperset(members):
                    yield from map(hit_of.__getitem__, chain)  # type: ignore[arg-type]
            return
        for chain in self.chains:
            if all(_holds(node, held) for node in chain):
                for node in chain:
                    if isinstance(node, int):
                        yield hit_of[node]
                    else:
                        yield from node.hits(held, hit_of)


def _holds(node: int | _Compiled, held: set[int]) -> bool:
    return node in held if isinstance(node, int) else node.holds(held)


class _Hits(dict[int, Hit]):
    """Each held term's `Hit` in one paper, worked out the first time a match needs it."""

    def __init__(self, terms: dict[int, _TermInfo], text: PaperText, held: set[int]) -> None:
        super().__init__()
        self._terms = terms
        self._text = text
        self._held = held

    def __missing__(self, number: int) -> Hit:
        hit = self[number] = self._terms[number].term.hit(self._text)
        return hit

    def of_chain(self, chain: tuple[int, ...]) -> tuple[Hit, ...]:
        """Return the hits of a query made of one chain of plain terms, as `Group.hits` orders them."""
        return tuple(dict.fromkeys(map(self.__getitem__, chain)))

    def of_group(self, compiled: _Compiled) -> tuple[Hit, ...]:
        """Return the hits of any other query, as `Group.hits` orders them."""
        return tuple(dict.fromkeys(compiled.hits(self._held, self)))


@dataclass(slots=True)
class _TermInfo:
    term: Term
    entry: Entry
    exact: bool
    """True when holding the entry is the same as matching the term, so no test is needed."""
    cost: float
    """How often papers look likely to hold the entry, to choose which term of a chain guards it."""
    uses: int = 0
    """How many distinct queries use the term; it is forgotten at zero."""
    alone: dict[int, None] = dataclass_field(default_factory=dict)
    """The queries (slots) with a side that is just this term, and no exclusions: holding it is matching them."""
    chained: dict[tuple[int, int], tuple[frozenset[int], frozenset[int]]] = dataclass_field(default_factory=dict)
    """(slot, side of OR) -> the terms that side needs and the terms the query excludes, for the sides
    of plain-term queries that this term guards."""
    guarding: set[int] = dataclass_field(default_factory=set)
    """The queries with nested groups that it guards, tested with `_Compiled.holds`."""


@dataclass(slots=True)
class _Slot(Generic[K]):
    """One distinct query, compiled, and the keys that follow it."""

    query: Query
    compiled: _Compiled
    terms: tuple[int, ...]
    guard: frozenset[int]
    chain: tuple[int, ...] | None
    """The query's only chain when it holds only plain terms (the common case), for the fast paths."""
    keys: dict[K, None]
    """An ordered set: the keys in the order they were added."""


class TopicIndex(Generic[K]):
    """Many topic queries, indexed by their guards so a paper is tested only against likely matches.

    Keys are whatever the caller uses to name a topic, e.g. ``(channel_id, topic_id)``. Keys whose
    queries have the same canonical text share one slot, and queries share their terms, so a term
    is tested once per paper however many topics use it. `matches` gives exactly what testing
    every query would give.
    """

    def __init__(self) -> None:
        self._next_number = 0
        self._slot_of_key: dict[K, int] = {}
        self._slot_of_text: dict[str, int] = {}
        self._slots: dict[int, _Slot[K]] = {}
        self._number_of_term: dict[Term, int] = {}
        self._terms: dict[int, _TermInfo] = {}
        # kind -> field -> token -> term numbers; split by kind and field so a paper's tokens can be
        # intersected with each table's keys in one set operation.
        self._tables: dict[str, dict[str, dict[object, set[int]]]] = {WORD: {}, PAIR: {}, PREFIX: {}}
        self._prefix_lengths: dict[str, Counter[int]] = {}

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
        found: set[int] = set()
        for number in self._held_terms(text):
            info = self._terms[number]
            found.update(info.alone, (slot for slot, _ in info.chained), info.guarding)
        slots = self._slots
        return [key for slot in sorted(found) for key in slots[slot].keys]

    def matches(self, paper: Paper | PaperText) -> list[tuple[K, Match]]:
        """Return every key whose query matches *paper*, with that query's `Match`.

        Keys come grouped by query, queries in the order first added, keys in the order added.
        Keys sharing a query share one (immutable) `Match`, which works out its hits only when
        first asked: a caller that explains a few of thousands of matches pays for those few.
        """
        text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
        held = self._held_terms(text)
        # Plain loops and no per-candidate allocations: at 100,000 topics this runs ~10,000 times a paper.
        matched: list[int] = []
        keep = matched.append
        others: set[int] = set()
        terms = self._terms
        for number in held:
            info = terms[number]
            matched += info.alone
            for (slot, _), (members, excluded) in info.chained.items():
                if held >= members and excluded.isdisjoint(held):
                    keep(slot)
            others |= info.guarding
        slots = self._slots
        for slot in others:
            if slots[slot].compiled.holds(held):
                keep(slot)
        # A query with several sides is found once per side that holds.
        matched = sorted(set(matched))
        hits = _Hits(terms, text, held)
        of_chain, of_group, deferred = hits.of_chain, hits.of_group, Match.deferred
        found: list[tuple[K, Match]] = []
        add = found.append
        for slot in matched:
            entry = slots[slot]
            chain = entry.chain
            match = deferred(of_chain, chain) if chain is not None else deferred(of_group, entry.compiled)
            keys = entry.keys
            if len(keys) == 1:
                for key in keys:
                    add((key, match))
            else:
                found += [(key, match) for key in keys]
        return found

    def _held_terms(self, text: PaperText) -> set[int]:
        """Return the numbers of the indexed terms that *text* contains."""
        looked_up: set[int] = set()
        for field, table in self._tables[WORD].items():
            for token in getattr(text, field).positions.keys() & table.keys():
                looked_up |= table[token]
        for field, table in self._tables[PAIR].items():
            keys = getattr(text, field).keys
            for pair in set(zip(keys, keys[1:])) & table.keys():
                looked_up |= table[pair]
        for field, table in self._tables[PREFIX].items():
            lengths = tuple(self._prefix_lengths[field])
            prefixes = {w[:n] for w in getattr(text, field).sorted_words for n in lengths if n <= len(w)}
            for prefix in prefixes & table.keys():
                looked_up |= table[prefix]
        terms = self._terms
        return {number for number in looked_up if terms[number].exact or terms[number].term.test(text)}

    def _new_slot(self, query: Query) -> int:
        slot = self._next_number
        self._next_number += 1
        compiled = self._compile(query.root)
        guard = guard_of(query)
        assert guard is not None, "the parser never accepts a query with nothing to look for"
        guard_numbers = frozenset(self._number_of_term[term] for term in guard.terms)
        terms = tuple(dict.fromkeys(_all_terms(compiled)))
        for number in terms:
            self._terms[number].uses += 1
        if compiled.flat is None or compiled.flat_excluded is None:
            for number in guard_numbers:
                self._terms[number].guarding.add(slot)
        else:
            # Plain terms only: each side of OR sits under the term that guards it (as guard_of picks
            # it), so a paper holding that term tests just that side, with two set operations.
            excluded = compiled.flat_excluded
            for side, (chain, members) in enumerate(zip(compiled.chains, compiled.flat)):
                info = self._terms[min(chain, key=lambda number: self._terms[number].cost)]  # type: ignore[arg-type,index]
                if len(members) == 1 and not excluded:
                    info.alone[slot] = None
                else:
                    info.chained[slot, side] = (members, excluded)
        self._slots[slot] = _Slot(query, compiled, terms, guard_numbers, _only_chain(compiled), {})
        self._slot_of_text[query.text] = slot
        return slot

    def _drop_slot(self, slot: int) -> None:
        held = self._slots.pop(slot)
        del self._slot_of_text[held.query.text]
        for number in held.guard:
            info = self._terms[number]
            info.guarding.discard(slot)
            info.alone.pop(slot, None)
            for side in range(len(held.compiled.chains)):
                info.chained.pop((slot, side), None)
        for number in held.terms:
            info = self._terms[number]
            info.uses -= 1
            if not info.uses:
                self._forget_term(number)

    def _compile(self, group: Group) -> _Compiled:
        chains = tuple(tuple(self._compile_node(node) for node in chain) for chain in group.any_of)
        excluded = tuple(self._compile_node(node) for node in group.none_of)
        flat = None
        if all(isinstance(node, int) for chain in chains for node in chain):
            flat = tuple(frozenset(chain) for chain in chains)  # type: ignore[arg-type]
        flat_excluded = frozenset(excluded) if all(isinstance(node, int) for node in excluded) else None
        return _Compiled(chains, excluded, flat, flat_excluded)  # type: ignore[arg-type]

    def _compile_node(self, node: Node) -> int | _Compiled:
        if not isinstance(node, Term):
            return self._compile(node)
        number = self._number_of_term.get(node)
        if number is None:
            number = self._next_number
            self._next_number += 1
            entry, cost, exact = _term_entry(node)
            self._number_of_term[node] = number
            self._terms[number] = _TermInfo(node, entry, exact, cost)
            kind, field, token = entry
            self._tables[kind].setdefault(field, {}).setdefault(token, set()).add(number)
            if kind == PREFIX:
                self._prefix_lengths.setdefault(field, Counter())[len(token)] += 1  # type: ignore[arg-type]
        return number

    def _forget_term(self, number: int) -> None:
        info = self._terms.pop(number)
        del self._number_of_term[info.term]
        kind, field, token = info.entry
        by_field = self._tables[kind]
        numbers = by_field[field][token]
        numbers.discard(number)
        if not numbers:
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


def _only_chain(compiled: _Compiled) -> tuple[int, ...] | None:
    """Return the query's one chain when it and its exclusions are plain terms, else None."""
    if len(compiled.chains) == 1 and compiled.flat is not None and compiled.flat_excluded is not None:
        return compiled.chains[0]  # type: ignore[return-value]
    return None


def _all_terms(compiled: _Compiled) -> Iterator[int]:
    for node in (*(node for chain in compiled.chains for node in chain), *compiled.excluded):
        if isinstance(node, int):
            yield node
        else:
            yield from _all_terms(node)


def _group_guard(group: Group) -> Guard | None:
    terms: set[Term] = set()
    entries: set[Entry] = set()
    cost = 0.0
    for chain in group.any_of:
        best = _cheapest(_node_guard(node) for node in chain)
        if best is None:
            return None
        terms |= best.terms
        entries |= best.entries
        cost += best.cost
    return Guard(frozenset(terms), frozenset(entries), cost)


def _node_guard(node: Node) -> Guard | None:
    if isinstance(node, Term):
        entry, cost, _ = _term_entry(node)
        return Guard(frozenset((node,)), frozenset((entry,)), cost)
    return _group_guard(node)


def _cheapest(guards: Iterable[Guard | None]) -> Guard | None:
    usable = [guard for guard in guards if guard is not None]
    return min(usable, key=lambda guard: guard.cost) if usable else None


def _term_entry(term: Term) -> tuple[Entry, float, bool]:
    """Pick the rarest-looking entry of *term* (adjacent whole words, else a word, else a prefix).

    Return it with its cost and whether holding the entry is exactly matching the term.
    """
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
    # One word, one prefix or two whole words are looked up exactly as FieldText.contains tests them.
    exact = len(parts) == 1 or (len(parts) == 2 and entry[0] == PAIR)
    return entry, cost * share, exact


def _word_cost(word: str) -> float:
    # Without corpus statistics, length is a fair proxy for rarity in paper abstracts.
    if word in _COMMON:
        return 1.0
    return max(0.05, 0.6 - 0.06 * len(word))


def _prefix_cost(prefix: str) -> float:
    return min(1.0, 1.5 * 0.6 ** (len(prefix) - 2))
