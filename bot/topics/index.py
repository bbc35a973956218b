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

Filters (`bot.topics.filters`) are numbered and held like terms, and are held exactly
when the paper satisfies them, so they guard like terms too: ``cat:`` by looking the
paper's categories (or archives) up, counts and ``has:code`` by testing each distinct one
once a paper (a few hundred cheap comparisons at most; they cost more than any word, so a
chain with a word is filed under the word). A query of filters alone is therefore filed
under them like any other, and no query is ever tested against every paper.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from itertools import chain as concat, repeat
from operator import itemgetter
from typing import Any, Callable, Generic, Hashable, Iterable, Iterator, Mapping, TypeVar

from bot.paper import Paper
from bot.topics.filters import Category
from bot.topics.matcher import Group, Hit, Leaf, Match, Node, PaperText, Term
from bot.topics.parser import Query

K = TypeVar("K", bound=Hashable)

WORD, PAIR, PREFIX = "word", "pair", "prefix"
CATEGORY, ARCHIVE, CHECK = "category", "archive", "check"
"""Filter entries: a folded category (``cs.cl``) of `PaperText.categories`, an archive (``cs``)
of `PaperText.archives`, or a filter itself, held when its test passes."""

Entry = tuple[str, str, object]
"""One index entry: (kind, field, token), e.g. ``("word", "default", "merging")``,
``("pair", "title", ("model", "merging"))``, ``("prefix", "author", "neub")``,
``("category", "categories", "cs.cl")`` or ``("check", "facts", Count("upvotes", ">=", 20))``."""

# Short, frequent words: a guard on one of them would make nearly every paper a candidate.
_COMMON = frozenset(
    "a an and are as at be by for from has have in into is it its of on or our that the this to we "
    "which with using model language large learning data method approach task".split()
)
# How much narrower a field is than title + abstract + keywords (a rough guess; only ranks choices).
_FIELD_SHARE = {"default": 1.0, "abstract": 0.9, "title": 0.3, "author": 0.2}
# Guesses at the share of papers a filter holds for: a category is narrower than most words, an
# archive about as wide as a common one; a check costs more than any word, as it is tested on
# every paper and a count filter may hold for most of them.
_CATEGORY_COST, _ARCHIVE_COST, _CHECK_COST = 0.2, 0.6, 1.5


@dataclass(frozen=True, slots=True)
class Guard:
    """Index entries a matching paper must contain one of, and a guess at how often papers do."""

    terms: frozenset[Leaf]
    """The query's terms (and filters) whose entries these are: one of them holds in every matching paper."""
    entries: frozenset[Entry]
    cost: float
    """Roughly the share of papers that contain one of the entries; lower is better."""


def guard_of(query: Query) -> Guard | None:
    """Return the entries that every paper matching *query* contains at least one of, or None if none can."""
    return _group_guard(query.root)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A query's `Group` over term numbers, evaluated against the set of terms a paper holds.

    Kept instead of the parsed query: it is all that matching, explaining and removal need.
    """

    chains: tuple[tuple[int | _Compiled, ...], ...]
    excluded: tuple[int | _Compiled, ...]

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
        for chain in self.chains:
            if all(_holds(node, held) for node in chain):
                for node in chain:
                    if type(node) is int:
                        yield hit_of[node]  # type: ignore[index]
                    else:
                        yield from node.hits(held, hit_of)  # type: ignore[union-attr]

    def is_plain(self) -> bool:
        """Say whether every alternative and exclusion is a plain term (no nested group)."""
        return all(type(node) is int for node in concat(*self.chains, self.excluded))


def _holds(node: int | _Compiled, held: set[int]) -> bool:
    return node in held if isinstance(node, int) else node.holds(held)


Plan = tuple[int, ...] | _Compiled
"""What a slot keeps of its query: the term numbers of its only chain when that is all there
is (most queries), else the whole compiled group."""


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
    term: Leaf
    cost: float
    """How often papers look likely to hold the term's entry, to choose which term of a chain guards it."""
    uses: int = 0
    """How many distinct queries use the term; it is forgotten at zero."""


_Slot = tuple[Plan, list[K], str]
"""One distinct query: its plan, its keys in the order added, and its canonical text.

A tuple rather than an object: there is one per distinct query (tens of thousands), and
`matches` unpacks it in its hot loop. The key list is changed in place."""


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
        self._next_slot = 0
        self._slot_of_key: dict[K, int] = {}
        self._slot_of_text: dict[str, int] = {}
        self._slots: dict[int, _Slot[K]] = {}
        self._number_of_term: dict[Leaf, int] = {}
        self._terms: dict[int, _TermInfo] = {}
        # kind -> field -> token -> term numbers; split by kind and field so a paper's tokens can be
        # intersected with each table's keys in one set operation. Tuples, not sets: nearly every
        # token names one term, and a one-item tuple is a quarter of an empty set's size.
        self._tables: dict[str, dict[str, dict[object, tuple[int, ...]]]] = {
            WORD: {}, PAIR: {}, PREFIX: {}, CATEGORY: {}, ARCHIVE: {}
        }
        self._prefix_lengths: dict[str, Counter[int]] = {}
        self._inexact: dict[int, Callable[[PaperText], bool]] = {}
        """The tests of the terms that holding their entry does not settle (longer phrases)."""
        self._checks: dict[int, Callable[[PaperText], bool]] = {}
        """The tests of the filters no look-up finds (counts, has:code), run on every paper."""
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
        self._slots[slot][1].append(key)
        self._slot_of_key[key] = slot

    def remove(self, key: K) -> None:
        """Forget the query under *key*; do nothing if there is none."""
        slot = self._slot_of_key.pop(key, None)
        if slot is None:
            return
        keys = self._slots[slot][1]
        keys.remove(key)
        if not keys:
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
        return [key for slot in sorted(found) for key in slots[slot][1]]

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
            matched.update(slot for slot in nested[number] if slots[slot][0].holds(held))  # type: ignore[union-attr]
        hits = _Hits(self._terms, text, held)
        of_chain, of_group, deferred = hits.of_chain, hits.of_group, Match.deferred
        found: list[tuple[K, Match]] = []
        add = found.append
        for slot in sorted(matched):
            plan, keys, _ = slots[slot]
            match = deferred(of_chain, plan) if type(plan) is tuple else deferred(of_group, plan)
            if len(keys) == 1:
                add((keys[0], match))
            else:
                found += zip(keys, repeat(match))
        return found

    def _held_terms(self, text: PaperText) -> set[int]:
        """Return the numbers of the indexed terms that *text* contains."""
        looked_up: set[int] = set()
        for field, table in self._tables[WORD].items():
            looked_up.update(*map(table.__getitem__, getattr(text, field).positions.keys() & table.keys()))
        # A keys view & an iterable checks each item against the dict, building no set of the paper's tokens.
        for field, table in self._tables[PAIR].items():
            keys = getattr(text, field).keys
            looked_up.update(*map(table.__getitem__, table.keys() & zip(keys, keys[1:])))
        for field, table in self._tables[PREFIX].items():
            words = getattr(text, field).sorted_words
            # A word shorter than a cut comes out whole, and is then rightly a prefix of itself.
            cuts = concat.from_iterable(map(_cut(length), words) for length in self._prefix_lengths[field])
            looked_up.update(*map(table.__getitem__, table.keys() & cuts))
        for kind in (CATEGORY, ARCHIVE):
            for field, table in self._tables[kind].items():
                looked_up.update(*map(table.__getitem__, table.keys() & getattr(text, field)))
        if self._checks:
            looked_up.update(number for number, check in self._checks.items() if check(text))
        inexact = self._inexact
        for number in inexact.keys() & looked_up:
            if not inexact[number](text):
                looked_up.discard(number)
        return looked_up

    def _new_slot(self, query: Query) -> int:
        slot = self._next_slot
        self._next_slot += 1
        compiled = self._compile(query.root)
        for number in dict.fromkeys(_all_terms(compiled)):
            self._terms[number].uses += 1
        plain = compiled.is_plain()
        plan: Plan = compiled.chains[0] if plain and len(compiled.chains) == 1 and not compiled.excluded else compiled  # type: ignore[assignment]
        # The folded text is kept (it names the slot: Merging and merging share one); the parsed query is not.
        self._slots[slot] = (plan, [], query.key)
        self._slot_of_text[query.key] = slot
        self._filing(slot, compiled, plain, file=True)
        return slot

    def _drop_slot(self, slot: int) -> None:
        plan, _, text = self._slots.pop(slot)
        del self._slot_of_text[text]
        compiled = plan if isinstance(plan, _Compiled) else _Compiled((plan,), ())
        self._filing(slot, compiled, compiled.is_plain(), file=False)
        for number in dict.fromkeys(_all_terms(compiled)):
            info = self._terms[number]
            info.uses -= 1
            if not info.uses:
                self._forget_term(number)

    def _filing(self, slot: int, compiled: _Compiled, plain: bool, *, file: bool) -> None:
        """File the query of *slot* where `matches` finds it, or (*file* False) undo that.

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
                self._file(slot, side, number, members)
            else:
                self._unfile_side(slot, side, number, members)
        for number in compiled.excluded:
            if file:
                self._vetoes.setdefault(number, set()).add(slot)  # type: ignore[arg-type]
            else:
                _unfile(self._vetoes, number, slot)  # type: ignore[arg-type]

    def _cost(self, number: int) -> float:
        return self._terms[number].cost

    def _guard(self, group: _Compiled) -> tuple[set[int], float] | None:
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

    def _file(self, slot: int, side: int, number: int, members: tuple[int, ...]) -> None:
        """File one side of OR of a plain-term query under its guarding term *number*."""
        if len(members) == 1:
            self._alone.setdefault(number, set()).add(slot)
        elif len(members) == 2:
            other = members[0] if members[1] == number else members[1]
            self._pairs.setdefault(number, {}).setdefault(other, set()).add(slot)
        else:
            self._longer.setdefault(number, {})[slot, side] = frozenset(members)

    def _unfile_side(self, slot: int, side: int, number: int, members: tuple[int, ...]) -> None:
        """Undo `_file`."""
        if len(members) == 1:
            _unfile(self._alone, number, slot)
        elif len(members) == 2:
            other = members[0] if members[1] == number else members[1]
            _unfile(self._pairs[number], other, slot)
            if not self._pairs[number]:
                del self._pairs[number]
        else:
            _unfile(self._longer, number, (slot, side))

    def _compile(self, group: Group) -> _Compiled:
        chains = tuple(tuple(self._compile_node(node) for node in chain) for chain in group.any_of)
        return _Compiled(chains, tuple(self._compile_node(node) for node in group.none_of))

    def _compile_node(self, node: Node) -> int | _Compiled:
        if isinstance(node, Group):
            return self._compile(node)
        number = self._number_of_term.get(node)
        if number is None:
            number = self._next_term
            self._next_term += 1
            entry, cost, exact = _term_entry(node)
            self._number_of_term[node] = number
            self._terms[number] = _TermInfo(node, cost)
            kind, field, token = entry
            if kind == CHECK:
                self._checks[number] = node.test
                return number
            if not exact:
                self._inexact[number] = node.test
            table = self._tables[kind].setdefault(field, {})
            table[token] = (*table.get(token, ()), number)
            if kind == PREFIX:
                self._prefix_lengths.setdefault(field, Counter())[len(token)] += 1  # type: ignore[arg-type]
        return number

    def _forget_term(self, number: int) -> None:
        info = self._terms.pop(number)
        self._inexact.pop(number, None)
        del self._number_of_term[info.term]
        (kind, field, token), _, _ = _term_entry(info.term)  # the entry is worked out again, not kept
        if kind == CHECK:
            del self._checks[number]
            return
        by_field = self._tables[kind]
        rest = tuple(other for other in by_field[field][token] if other != number)
        if rest:
            by_field[field][token] = rest
        else:
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


def _all_terms(compiled: _Compiled) -> Iterator[int]:
    for node in concat(*compiled.chains, compiled.excluded):
        if isinstance(node, int):
            yield node
        else:
            yield from _all_terms(node)


def _group_guard(group: Group) -> Guard | None:
    terms: set[Leaf] = set()
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
    if isinstance(node, Group):
        return _group_guard(node)
    entry, cost, _ = _term_entry(node)
    return Guard(frozenset((node,)), frozenset((entry,)), cost)


def _cheapest(guards: Iterable[Guard | None]) -> Guard | None:
    usable = [guard for guard in guards if guard is not None]
    return min(usable, key=lambda guard: guard.cost) if usable else None


def _term_entry(term: Leaf) -> tuple[Entry, float, bool]:
    """Pick the rarest-looking entry of *term* (adjacent whole words, else a word, else a prefix).

    Return it with its cost and whether holding the entry is exactly matching the term.
    """
    if not isinstance(term, Term):
        return _filter_entry(term)
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


def _filter_entry(leaf: Leaf) -> tuple[Entry, float, bool]:
    """Return a filter's entry: a category or archive to look up, else the filter as a check."""
    if isinstance(leaf, Category):
        if leaf.subject is None:
            return (ARCHIVE, "archives", leaf.key), _ARCHIVE_COST, True
        return (CATEGORY, "categories", leaf.key), _CATEGORY_COST, True
    return (CHECK, "facts", leaf), _CHECK_COST, True


def _word_cost(word: str) -> float:
    # Without corpus statistics, length is a fair proxy for rarity in paper abstracts.
    if word in _COMMON:
        return 1.0
    return max(0.05, 0.6 - 0.06 * len(word))


def _prefix_cost(prefix: str) -> float:
    return min(1.0, 1.5 * 0.6 ** (len(prefix) - 2))
