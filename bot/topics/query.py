"""A parsed topic query (`Query`), and ``*`` (`EveryPaper`), the topic that follows every paper.

`bot.topics.parser.parse_query` makes them; they match papers, name what to search for upstream,
and keep the text to store and show (as typed) and the key that tells topics apart (folded).
"""

from __future__ import annotations

from bot.model.paper import Paper
from bot.topics.filters import Category
from bot.topics.matcher import Group, Hit, Match, Node, PaperText, Term, explain_match

MAX_BRANCHES = 6
"""At most this many OR branches of one query are searched upstream."""
EVERY_PAPER = "*"


class Query:
    """A parsed topic query: store and show its `text` (the words as typed), compare it by its `key`."""

    __slots__ = ("text", "key", "_root")

    def __init__(self, root: Group) -> None:
        self._root = root
        self.text: str = root.render(top=True)
        """The query written out in full, its words as the user typed them (``author:"Zoë Müller"``)."""
        self.key: str = root.render(top=True, folded=True)
        """The text folded as matching folds it (``author:"zoe muller"``): two topics with one key are one topic."""

    def match(self, paper: Paper | PaperText) -> Match | None:
        """Return why *paper* matches, or None; pass a `PaperText` to skip even the cache look-up."""
        text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
        return explain_match(self._root, text)

    def matches(self, paper: Paper | PaperText) -> bool:
        """Say whether *paper* matches, without working out why (cheaper than `match` when only yes/no counts)."""
        text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
        return self._root.test(text)

    @property
    def root(self) -> Group:
        """Return the parsed tree, for tools that look inside queries (such as the topic index)."""
        return self._root

    def search_terms(self) -> list[str]:
        """Return the positive terms, folded and without fields, for candidate retrieval: ``word``, ``pre*``, ``"a phrase"``.

        Filters are not words and are left out, so a query of filters alone gives none.
        """
        return list(dict.fromkeys(term.folded_label for term in self._root.positive_terms()))

    def search_branches(self, *, limit: int = MAX_BRANCHES) -> list[tuple[str, ...]]:
        """Return the query's alternatives as the positive terms each needs, at most *limit* of them.

        ``"model merging" OR unlearning -diffusion`` gives ``[('"model merging"',), ('unlearning',)]``:
        a search engine given the whole query as one string would look for all the words at once.
        Filters are left out too; an alternative of filters alone (``alpha OR upvotes:>=50``) has
        no words a search could find its papers by, so it is dropped.
        """
        return [branch for branch in _alternatives(self._root, limit) if branch]

    def categories(self) -> frozenset[str]:
        """Return the arXiv categories the query follows, as arXiv writes them: ``{"cs.CL", "cs.*", "hep-th"}``.

        Only categories a match can rest on count: ``-cat:cs.CV`` (at any depth) leaves papers
        out and names nothing to read, so it is not included.
        """
        return frozenset(leaf.shown for leaf in self._root.positive_leaves() if isinstance(leaf, Category))

    @property
    def everything(self) -> bool:
        """Say whether this is ``*``, the topic that follows every paper."""
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Query({self.text!r})"


class EveryPaper(Query):
    """``*``: the topic that follows every paper (with a channel's threshold, every paper with N upvotes)."""

    __slots__ = ()

    def __init__(self) -> None:
        self._root = Group(any_of=())
        self.text = self.key = EVERY_PAPER

    def match(self, paper: Paper | PaperText) -> Match | None:
        return _EVERY_MATCH

    def matches(self, paper: Paper | PaperText) -> bool:
        return True

    def search_terms(self) -> list[str]:
        return []

    def search_branches(self, *, limit: int = MAX_BRANCHES) -> list[tuple[str, ...]]:
        return []

    def categories(self) -> frozenset[str]:
        return frozenset()

    @property
    def everything(self) -> bool:
        return True


_EVERY_MATCH = Match([Hit("every paper", ())])


def _alternatives(node: Node, limit: int) -> list[tuple[str, ...]]:
    """Expand *node* into the sets of positive terms that satisfy it (its OR branches), bounded."""
    if isinstance(node, Term):
        return [(node.folded_label,)]
    if not isinstance(node, Group):
        return [()]  # a filter: nothing to search for, but it does not stop its neighbours being searched
    found: list[tuple[str, ...]] = []
    for chain in node.any_of:
        combos: list[tuple[str, ...]] = [()]
        for child in chain:
            combos = [done + more for done in combos for more in _alternatives(child, limit)][:limit]
        found += combos
    return list(dict.fromkeys(found))[:limit]
