"""Guards: the index entries one of which every paper a topic query matches must contain.

Each query gets a *guard*: a few of its terms, each looked up by one index entry
(a word, two adjacent words or a prefix, in one field), such that any paper the
query matches holds at least one of them (`bot.topics.index` files queries under them).

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

from dataclasses import dataclass
from typing import Iterable

from bot.topics.filters import Category
from bot.topics.matcher import Group, Leaf, Node, Term
from bot.topics.query import Query

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
    entry, cost, _ = term_entry(node)
    return Guard(frozenset((node,)), frozenset((entry,)), cost)


def _cheapest(guards: Iterable[Guard | None]) -> Guard | None:
    usable = [guard for guard in guards if guard is not None]
    return min(usable, key=lambda guard: guard.cost) if usable else None


def term_entry(term: Leaf) -> tuple[Entry, float, bool]:
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
