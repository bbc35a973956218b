"""Match parsed topic queries against papers, and say why they matched.

A paper is tokenised once into a `PaperText` (cached by content), so checking
many topics against the same paper costs set look-ups, not string work.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field as dataclass_field
from functools import cache, lru_cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NamedTuple, Sequence, TypeVar, Union

from bot.model.paper import Paper
from bot.topics.text import singular, words

if TYPE_CHECKING:
    from bot.topics.filters import Filter

DEFAULT_FIELDS = ("title", "abstract", "keywords")
"""Where a term without a field is looked for: title, abstract and the AI keywords."""

_GAP = ""
"""Put between separate texts (two keywords, two authors) so a phrase never spans them."""

_A = TypeVar("_A")

Part = tuple[str, bool]
"""One word of a term: (singular form, False) or (folded prefix, True)."""


class FieldText:
    """The words of one field, indexed for whole-word, prefix and phrase look-ups."""

    __slots__ = ("words", "keys", "positions", "sorted_words")

    def __init__(self, field_words: Sequence[str]) -> None:
        self.words = tuple(field_words)
        self.keys = tuple(singular(w) for w in self.words)
        positions: dict[str, int] = {}
        for index, key in enumerate(self.keys):
            if key and key not in positions:
                positions[key] = index
        self.positions = positions
        """Each word's (singular) first position; later ones are found by `tuple.index` on `keys`,
        which costs less than keeping a list of positions for every word of every cached paper."""
        self.sorted_words = sorted({w for w in self.words if w})

    @classmethod
    def of(cls, texts: Iterable[str]) -> FieldText:
        """Index several separate texts (keywords, author names) as one field."""
        joined: list[str] = []
        for text in texts:
            if joined:
                joined.append(_GAP)
            joined += words(text)
        return cls(joined)

    def contains(self, parts: tuple[Part, ...]) -> bool:
        """Say whether the words *parts* appear here, consecutively."""
        if len(parts) == 1:
            key, is_prefix = parts[0]
            return self.has_prefix(key) if is_prefix else key in self.positions
        return any(True for _ in self._phrase_starts(parts))

    def has_prefix(self, prefix: str) -> bool:
        """Say whether some word here starts with *prefix*."""
        index = bisect_left(self.sorted_words, prefix)
        return index < len(self.sorted_words) and self.sorted_words[index].startswith(prefix)

    def _phrase_starts(self, parts: tuple[Part, ...]) -> Iterator[int]:
        first, first_is_prefix = parts[0]
        if first_is_prefix:
            starts: Iterable[int] = (i for i, w in enumerate(self.words) if w.startswith(first))
        else:
            starts = _occurrences(self.keys, first, self.positions.get(first))
        last_start = len(self.words) - len(parts)
        for start in starts:
            if start > last_start:
                return
            if all(
                self.words[start + offset].startswith(key) if is_prefix else self.keys[start + offset] == key
                for offset, (key, is_prefix) in enumerate(parts[1:], 1)
            ):
                yield start


def _occurrences(keys: tuple[str, ...], key: str, first: int | None) -> Iterator[int]:
    """Yield where *key* stands in *keys*, from its known *first* position on."""
    at = first
    while at is not None:
        yield at
        try:
            at = keys.index(key, at + 1)
        except ValueError:
            return


class PaperFacts(NamedTuple):
    """What filters (``cat:``, ``upvotes:>=N``, ``has:code``) look at: facts about a paper, not its words."""

    categories: tuple[str, ...] = ()
    """arXiv categories as the paper gives them, primary first."""
    upvotes: int | None = None
    comments: int | None = None
    stars: int | None = None
    """GitHub stars of the paper's repository; None when unknown."""
    has_code: bool = False

    @classmethod
    def of(cls, paper: Paper) -> PaperFacts:
        return cls(paper.categories, paper.upvotes, paper.comments, paper.github_stars, bool(paper.github_repo))


@dataclass(frozen=True, slots=True)
class PaperText:
    """A paper's searchable text, tokenised once; reuse it to test many queries."""

    title: FieldText
    abstract: FieldText
    keywords: FieldText
    default: FieldText
    """Title, abstract and keywords together, for the common un-fielded term."""
    author: FieldText
    authors: tuple[tuple[str, FieldText], ...]
    """Each author's name with its own words, to name who matched."""
    facts: PaperFacts = PaperFacts()
    categories: frozenset[str] = frozenset()
    """The categories case-folded (``cs.cl``), for ``cat:cs.CL``."""
    archives: frozenset[str] = frozenset()
    """The categories' archives case-folded (``cs`` of ``cs.CL``, ``hep-th`` of ``hep-th``), for ``cat:cs.*``."""

    @classmethod
    def of(cls, paper: Paper) -> PaperText:
        """Return the (cached) text of *paper*; the cache key is the content itself, so never stale."""
        return _paper_text(paper.title, paper.abstract, paper.ai_keywords, paper.authors, PaperFacts.of(paper))


# Some 50 KB a paper: 128 covers a poll's hundred or so papers, and a deferred `Match`
# keeps its own paper's text however long it is used, so a miss only costs re-tokenising.
# The facts are part of the key: a paper whose upvotes changed is tokenised again, which
# happens about once a poll, while within a poll the same paper is tested against every topic.
@lru_cache(maxsize=128)
def _paper_text(
    title: str, abstract: str, keywords: tuple[str, ...], authors: tuple[str, ...], facts: PaperFacts = PaperFacts()
) -> PaperText:
    title_words, abstract_words = words(title), words(abstract)
    folded = frozenset(category.strip().casefold() for category in facts.categories)
    keywords_text = FieldText.of(keywords)
    return PaperText(
        title=FieldText(title_words),
        abstract=FieldText(abstract_words),
        keywords=keywords_text,
        default=FieldText([*title_words, _GAP, *abstract_words, _GAP, *keywords_text.words]),
        author=FieldText.of(authors),
        authors=tuple((name, FieldText(words(name))) for name in authors),
        facts=facts,
        categories=folded,
        archives=frozenset(category.split(".", 1)[0] for category in folded),
    )


@dataclass(frozen=True, slots=True)
class Hit:
    """One positive term of a query that a paper matched, and where."""

    term: str
    """The term as the query shows it, without its field: ``unlearning``, ``"model merging"``, ``unlearn*``;
    for a filter, what the paper showed: ``cat:cs.CL``, ``upvotes 23 ≥ 20``, ``has code``."""
    fields: tuple[str, ...]
    """Where it was found: some of ``title``, ``abstract``, ``keywords``, ``author``; none for a filter."""
    authors: tuple[str, ...] = ()
    """For ``author:`` terms, the matching authors' names as the paper gives them."""

    def explain(self) -> str:
        """Say where the term was found: ``unlearning in title, abstract`` or ``author Graham Neubig``."""
        if self.authors:
            label = "author" if len(self.authors) == 1 else "authors"
            return f"{label} {', '.join(self.authors)}"
        return f"{self.term} in {', '.join(self.fields)}" if self.fields else self.term


class Match:
    """Why a paper matched a query: the positive terms it contains and where.

    Immutable and compared by its hits. A match can also be made `deferred`, working out its
    hits only when first asked: the topic index finds thousands of matches a paper, and
    callers explain only the few they post.
    """

    __slots__ = ("_hits", "_work", "_argument")

    def __init__(self, hits: Iterable[Hit]) -> None:
        self._hits: tuple[Hit, ...] | None = tuple(hits)
        self._work: Callable[[Any], tuple[Hit, ...]] | None = None
        self._argument: Any = None

    @classmethod
    def deferred(cls, work: Callable[[_A], tuple[Hit, ...]], argument: _A) -> Match:
        """Return a match whose hits are ``work(argument)``, called once, when they are first needed."""
        match = _new_match(cls)
        match._hits = None
        match._work = work
        match._argument = argument
        return match

    @property
    def hits(self) -> tuple[Hit, ...]:
        """Return the positive terms the paper contains, in query order, each once."""
        hits = self._hits
        if hits is None:
            assert self._work is not None
            hits = self._hits = self._work(self._argument)
            self._work = self._argument = None  # let the paper's text go
        return hits

    def explain(self) -> str:
        """Say why the paper matched: ``"model merging" in title; author Graham Neubig``."""
        return "; ".join(hit.explain() for hit in self.hits)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Match):
            return NotImplemented
        return self.hits == other.hits

    def __hash__(self) -> int:
        return hash(self.hits)

    def __repr__(self) -> str:
        return f"Match(hits={self.hits!r})"


_new_match = object.__new__


@dataclass(frozen=True, slots=True)
class Term:
    """A word, prefix or phrase, optionally restricted to one field."""

    parts: tuple[Part, ...]
    shown: tuple[str, ...]
    """The folded words as typed (plural kept, ``*`` kept): what tells two topics apart."""
    field: str | None = None
    typed: str | None = None
    """The term as the user typed it, without its field (``GPT-3.5``, ``"Zoë Müller"``), for display;
    None when that is the folded `label`. It parses back to this same term."""
    _test: Callable[[PaperText], bool] | None = dataclass_field(default=None, init=False, repr=False, compare=False)

    @property
    def test(self) -> Callable[[PaperText], bool]:
        """Return what says whether a paper's text contains this term.

        Specialised once, as topics are tested by the 100k, but only when first asked: the
        topic index tests few terms this way, and 30,000 unused closures would cost megabytes.
        """
        test = self._test
        if test is None:
            test = _term_test(self.parts, self.field or "default")
            object.__setattr__(self, "_test", test)
        return test

    @property
    def label(self) -> str:
        """Return the term without its field, as typed: ``word``, ``prefix*`` or ``"a phrase"``."""
        return self.typed or self.folded_label

    @property
    def folded_label(self) -> str:
        """Return the term without its field, folded: ``"gpt 3 5"`` for ``GPT-3.5``."""
        joined = " ".join(self.shown)
        return f'"{joined}"' if len(self.shown) > 1 else joined

    def render(self, *, folded: bool = False) -> str:
        """Return the term as the query text writes it: as typed, or *folded* (the form that compares topics)."""
        label = self.folded_label if folded else self.label
        return f"{self.field}:{label}" if self.field else label

    def hit(self, text: PaperText) -> Hit:
        """Say where in a matching paper this term was found."""
        if self.field == "author":
            names = tuple(name for name, name_text in text.authors if name_text.contains(self.parts))
            return Hit(self.label, ("author",), names)
        if self.field:
            return Hit(self.label, (self.field,))
        found = tuple(name for name in DEFAULT_FIELDS if getattr(text, name).contains(self.parts))
        return Hit(self.label, found)


def _term_test(parts: tuple[Part, ...], field_name: str) -> Callable[[PaperText], bool]:
    if len(parts) > 1:
        get_field = _getter(field_name)
        return lambda text: get_field(text).contains(parts)
    key, is_prefix = parts[0]
    if is_prefix:
        get_field = _getter(field_name)
        return lambda text: get_field(text).has_prefix(key)
    get_positions = _getter(f"{field_name}.positions")
    return lambda text: key in get_positions(text)


@cache
def _getter(name: str) -> Callable[[Any], Any]:
    """Return one shared ``attrgetter`` per field, rather than one per term."""
    return attrgetter(name)


Leaf = Union[Term, "Filter"]
"""What a query is made of: words to look for, and filters (`bot.topics.filters`) on facts."""
Node = Union[Term, "Filter", "Group"]


@dataclass(frozen=True, slots=True)
class Group:
    """Alternatives (OR) of conjunctions (side by side), minus exclusions.

    Exclusions apply to the whole group they are written in, not only to their
    neighbours, so in ``a OR b -c`` no paper mentioning c ever matches.
    """

    any_of: tuple[tuple[Node, ...], ...]
    none_of: tuple[Node, ...] = ()
    _test: Callable[[PaperText], bool] | None = dataclass_field(default=None, init=False, repr=False, compare=False)

    @property
    def test(self) -> Callable[[PaperText], bool]:
        """Return what says whether a paper's text satisfies this group (built when first asked, as for `Term`)."""
        test = self._test
        if test is None:
            test = _group_test(self.any_of, self.none_of)
            object.__setattr__(self, "_test", test)
        return test

    def hits(self, text: PaperText) -> Iterator[Hit]:
        """Yield the hits of every alternative the paper satisfies."""
        for chain in self.any_of:
            if all(node.test(text) for node in chain):
                for node in chain:
                    if isinstance(node, Group):
                        yield from node.hits(text)
                    else:
                        yield node.hit(text)

    def positive_terms(self) -> Iterator[Term]:
        """Yield the terms looked for, skipping everything excluded (and filters, which are not words)."""
        return (leaf for leaf in self.positive_leaves() if isinstance(leaf, Term))

    def positive_leaves(self) -> Iterator[Leaf]:
        """Yield the terms and filters a match may rest on, skipping everything excluded."""
        for chain in self.any_of:
            for node in chain:
                if isinstance(node, Group):
                    yield from node.positive_leaves()
                else:
                    yield node

    def render(self, *, top: bool = False, folded: bool = False) -> str:
        """Return the group as the query text writes it: its words as typed, or *folded* (see `Term.render`)."""
        def text(node: Node) -> str:
            return node.render(folded=folded) if isinstance(node, (Term, Group)) else node.render()

        chains = " OR ".join(" ".join(text(node) for node in chain) for chain in self.any_of)
        excluded = "".join(f" -{text(node)}" for node in self.none_of)
        text = chains + excluded
        return text if top else f"({text})"


def _group_test(any_of: tuple[tuple[Node, ...], ...], none_of: tuple[Node, ...]) -> Callable[[PaperText], bool]:
    chains = tuple(tuple(node.test for node in chain) for chain in any_of)
    excludes = tuple(node.test for node in none_of)
    if len(chains) == 1 and len(chains[0]) == 1 and not excludes:
        return chains[0][0]

    # Plain loops rather than any()/all() generators: this runs for every topic on every paper.
    def test(text: PaperText) -> bool:
        for chain in chains:
            for term_test in chain:
                if not term_test(text):
                    break
            else:
                break
        else:
            return False
        for exclude in excludes:
            if exclude(text):
                return False
        return True

    return test


def explain_match(root: Group, text: PaperText) -> Match | None:
    """Return why *text* matches *root*, or None when it does not."""
    if not root.test(text):
        return None
    return Match(hits=tuple(dict.fromkeys(root.hits(text))))
