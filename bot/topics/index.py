"""Find which of many topic queries a paper matches without testing every one.

Each query gets a *guard*: a few of its terms, each looked up by one index entry
(a word, two adjacent words or a prefix, in one field), such that any paper the
query matches holds at least one of them. For a paper, the index finds the terms
it holds (most by look-up alone; longer phrases are then tested with `Term.test`),
takes the queries those terms guard, and evaluates each on the set of held terms,
mostly by set operations (see `TopicIndex.__init__`). Explanations are deferred
(`Match.deferred`) and use `Term.hit` with the same order and de-duplication as
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
from dataclasses import dataclass
from functools import cache
from itertools import chain as concat, repeat
from operator import itemgetter
from typing import Any, Callable, Generic, Hashable, Iterable, Iterator, Mapping, TypeVar

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


@dataclass(slots=True)
class _Slot(Generic[K]):
    """One distinct query, compiled, where it is filed, and the keys that follow it."""

    query: Query
    compiled: _Compiled
    terms: tuple[int, ...]
    sides: tuple[int, ...] | None
    """For plain-term queries, the term each side of OR is filed under; None files the query under `guard`."""
    guard: frozenset[int]
    keys: dict[K, None]
    """An ordered set: the keys in the order they were added."""


_Found = tuple[tuple[int, ...] | None, _Compiled, tuple[K, ...]]
"""What `matches` needs of a matching query: its only plain chain (or None), its group, its keys."""


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
        self._inexact: dict[int, Callable[[PaperText], bool]] = {}
        """The tests of the terms that holding their entry does not settle (longer phrases)."""
        # Where queries are filed, by term number; only terms with something filed appear, so a
        # paper's other terms cost nothing. A query of plain terms (nearly every one) matches when
        # one side of its OR has all its terms and none of its exclusions is held. Each side is
        # filed under its guarding term: one-term sides under `_alone`, two-term sides under
        # `_pairs` by the other term too, so both are found by set operations alone, and longer
        # sides under `_longer`. `_vetoes` files each query under its excluded terms, and queries
        # with nested groups are filed under their guard's terms in `_nested` and tested whole.
        self._alone: dict[int, set[int]] = {}
        self._pairs: dict[int, dict[int, set[int]]] = {}
        self._longer: dict[int, dict[tuple[int, int], frozenset[int]]] = {}
        self._vetoes: dict[int, set[int]] = {}
        self._nested: dict[int, set[int]] = {}
        self._found: dict[int, _Found[K]] = {}
        """Slot -> what `matches` needs of it, kept apart from `_slots` for fewer look-ups in the hot loop."""

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
        self._refresh(slot)

    def remove(self, key: K) -> None:
        """Forget the query under *key*; do nothing if there is none."""
        slot = self._slot_of_key.pop(key, None)
        if slot is None:
            return
        held = self._slots[slot]
        del held.keys[key]
        if held.keys:
            self._refresh(slot)
        else:
            self._drop_slot(slot)

    def candidates(self, paper: Paper | PaperText) -> list[K]:
        """Return the keys whose queries *paper* might match (a superset of the matches)."""
        text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
        held = self._held_terms(text)
        found: set[int] = set()
        for filed in (self._alone, self._nested):
            found.update(*map(filed.__getitem__, filed.keys() & held))
        for number in self._pairs.keys() & held:
            found.update(*self._pairs[number].values())
        for number in self._longer.keys() & held:
            found.update(slot for slot, _ in self._longer[number])
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
        # Set operations wherever they will do: at 100,000 topics some 10,000 queries a paper are
        # looked at, and a Python loop per query would cost more than everything else together.
        alone, pairs, longer, nested = self._alone, self._pairs, self._longer, self._nested
        matched: set[int] = set()
        matched.update(*map(alone.__getitem__, alone.keys() & held))
        for number in pairs.keys() & held:
            with_other = pairs[number]
            matched.update(*map(with_other.__getitem__, with_other.keys() & held))
        for number in longer.keys() & held:
            matched.update(slot for (slot, _), members in longer[number].items() if held >= members)
        vetoes = self._vetoes
        matched.difference_update(*map(vetoes.__getitem__, vetoes.keys() & held))
        slots = self._slots
        for number in nested.keys() & held:
            matched.update(slot for slot in nested[number] if slots[slot].compiled.holds(held))
        found_of = self._found
        hits = _Hits(self._terms, text, held)
        of_chain, of_group, deferred = hits.of_chain, hits.of_group, Match.deferred
        found: list[tuple[K, Match]] = []
        add = found.append
        for slot in sorted(matched):
            chain, compiled, keys = found_of[slot]
            match = deferred(of_chain, chain) if chain is not None else deferred(of_group, compiled)
            if len(keys) == 1:
                add((keys[0], match))
            else:
                found += zip(keys, repeat(match))
        return found

    def _held_terms(self, text: PaperText) -> set[int]:
        """Return the numbers of the indexed terms that *text* contains."""
        looked_up: set[int] = set()
        for field, table in self._tables[WORD].items():
            for token in getattr(text, field).positions.keys() & table.keys():
                looked_up |= table[token]
        # A keys view & an iterable checks each item against the dict, building no set of the paper's tokens.
        for field, table in self._tables[PAIR].items():
            keys = getattr(text, field).keys
            for pair in table.keys() & zip(keys, keys[1:]):
                looked_up |= table[pair]
        for field, table in self._tables[PREFIX].items():
            words = getattr(text, field).sorted_words
            # A word shorter than a cut comes out whole, and is then rightly a prefix of itself.
            cuts = concat.from_iterable(map(_cut(length), words) for length in self._prefix_lengths[field])
            for prefix in table.keys() & cuts:
                looked_up |= table[prefix]
        inexact = self._inexact
        for number in inexact.keys() & looked_up:
            if not inexact[number](text):
                looked_up.discard(number)
        return looked_up

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
        sides = None
        if compiled.flat is None or compiled.flat_excluded is None:
            for number in guard_numbers:
                self._nested.setdefault(number, set()).add(slot)
        else:
            # Each side goes under its rarest-looking term, the one guard_of picks for it.
            cost = {number: self._terms[number].cost for number in terms}
            sides = tuple(min(chain, key=cost.__getitem__) for chain in compiled.flat)
            for side, (number, members) in enumerate(zip(sides, compiled.flat)):
                self._file(slot, side, number, members)
            for number in compiled.flat_excluded:
                self._vetoes.setdefault(number, set()).add(slot)
        self._slots[slot] = _Slot(query, compiled, terms, sides, guard_numbers, {})
        self._slot_of_text[query.text] = slot
        return slot

    def _refresh(self, slot: int) -> None:
        """Bring the slot's `found` up to date after its keys changed."""
        held = self._slots[slot]
        self._found[slot] = (_only_chain(held.compiled), held.compiled, tuple(held.keys))

    def _file(self, slot: int, side: int, number: int, members: frozenset[int]) -> None:
        """File one side of OR of a plain-term query under its guarding term *number*."""
        if len(members) == 1:
            self._alone.setdefault(number, set()).add(slot)
        elif len(members) == 2:
            (other,) = members - {number}
            self._pairs.setdefault(number, {}).setdefault(other, set()).add(slot)
        else:
            self._longer.setdefault(number, {})[slot, side] = members

    def _unfile_side(self, slot: int, side: int, number: int, members: frozenset[int]) -> None:
        """Undo `_file`."""
        if len(members) == 1:
            _unfile(self._alone, number, slot)
        elif len(members) == 2:
            (other,) = members - {number}
            _unfile(self._pairs[number], other, slot)
            if not self._pairs[number]:
                del self._pairs[number]
        else:
            _unfile(self._longer, number, (slot, side))

    def _drop_slot(self, slot: int) -> None:
        held = self._slots.pop(slot)
        del self._found[slot]
        del self._slot_of_text[held.query.text]
        if held.sides is None:
            for number in held.guard:
                _unfile(self._nested, number, slot)
        else:
            assert held.compiled.flat is not None and held.compiled.flat_excluded is not None
            for side, (number, members) in enumerate(zip(held.sides, held.compiled.flat)):
                self._unfile_side(slot, side, number, members)
            for number in held.compiled.flat_excluded:
                _unfile(self._vetoes, number, slot)
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
            if not exact:
                self._inexact[number] = node.test
            kind, field, token = entry
            self._tables[kind].setdefault(field, {}).setdefault(token, set()).add(number)
            if kind == PREFIX:
                self._prefix_lengths.setdefault(field, Counter())[len(token)] += 1  # type: ignore[arg-type]
        return number

    def _forget_term(self, number: int) -> None:
        info = self._terms.pop(number)
        self._inexact.pop(number, None)
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


def _unfile(filed: dict[int, Any], number: int, item: Hashable) -> None:
    """Remove *item* from what is filed under term *number*, dropping the term's entry when it empties."""
    under = filed.get(number)
    if under is not None:
        under.discard(item) if isinstance(under, set) else under.pop(item, None)
        if not under:
            del filed[number]


@cache
def _cut(length: int) -> Callable[[str], str]:
    """Return a function giving a word's first *length* letters (``map`` runs it without Python frames)."""
    return itemgetter(slice(None, length))


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
