"""Parse topic queries such as ``"model merging" OR unlearn* -diffusion author:neubig cat:cs.CL``.

Grammar (NOT binds tightest, then side-by-side AND, then OR)::

    query  := chain ("OR" chain)*
    chain  := unary (["AND"] unary)*
    unary  := ("NOT" | "-") primary | primary
    primary:= [field ":"] (word | word* | "phrase") | filter | "(" query ")"
    filter := "cat:" category | ("upvotes" | "stars" | "comments") ":" [op] N | "has:code"

Operators count only in upper case; "or" is an ordinary word. Filters are described in
`bot.topics.filters`; a query may consist of filters alone (``upvotes:>=50``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from sys import intern

from bot.topics.filters import (FILTER_LIST, FILTERS, Category, FilterError, needs_value, parse_filter,
                                unknown_category)
from bot.topics.matcher import Group, Leaf, Node, Term
from bot.topics.query import EVERY_PAPER, EveryPaper, Query
from bot.topics.text import fold, singular
from bot.model.usage import UsageError

MAX_QUERY_LENGTH = 300
MAX_NESTING = 10
FIELDS = ("title", "abstract", "author")
MIN_PREFIX = 2

_QUOTES = "\"“”„"
_TOKEN = re.compile(rf"(?P<space>\s+)|(?P<paren>[()])|(?P<quote>[{_QUOTES}])|(?P<bare>[^\s(){_QUOTES}]+)")
_FIELD = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
# A word, with a "*" that makes it a prefix only when the star ends the word.
_PART = re.compile(r"([^\W_]+)(\*(?![^\W_]))?")
_OPERATORS = ("OR", "AND", "NOT")
_MENTION = re.compile(r"@|<[!#]")
"""What mentions hold (``@here``, Slack's ``<@U123>`` and ``<!channel>``, Discord's ``<@123>`` and ``<#123>``)."""
_FIELD_LIST = f"title:, abstract: and author:, and the filters are {FILTER_LIST}"


class QueryError(UsageError):
    """The text is not a valid topic query; ``str(error)`` says what is wrong, in one sentence."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    """``TERM``, ``(``, ``)``, ``OR``, ``AND`` or ``NOT`` (which also stands for a leading ``-``)."""
    at: int
    """1-based character position, for messages."""
    label: str = ""
    term: Leaf | None = None


def parse_query(text: str, *, known_categories: bool = False) -> Query:
    """Parse *text* into a `Query`, or raise `QueryError` saying what is wrong.

    With *known_categories*, a ``cat:`` that arXiv's taxonomy lacks is wrong too: what people type is
    checked, while a stored topic still parses (its made-up category matches nothing, and is never read).
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is {len(text):,} characters long; the limit is {MAX_QUERY_LENGTH}")
    if text.strip() == EVERY_PAPER:
        return EveryPaper()
    tokens = _tokenise(text)
    if not tokens:
        raise QueryError("the query is empty; give at least one word to look for")
    if known_categories:
        for token in tokens:
            if isinstance(token.term, Category) and (problem := unknown_category(token.term, at=token.at)):
                raise QueryError(problem)
    query = Query(_Parser(tokens).parse())
    # The written-out form is what is stored and parsed again, so it must fit the limit too.
    if len(query.text) > MAX_QUERY_LENGTH:
        raise QueryError(f"written out in full the query is {len(query.text):,} characters long; "
                         f"the limit is {MAX_QUERY_LENGTH}")
    return query


def _tokenise(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        assert found is not None  # the pattern's alternatives cover every character
        kind, value = found.lastgroup, found.group()
        if kind == "paren":
            tokens.append(_Token(value, pos + 1, f"'{value}'"))
        elif kind == "quote":
            close = _closing_quote(text, pos)
            tokens.append(_Token("TERM", pos + 1, term=_term(text[pos + 1 : close], at=pos + 1, quoted=True)))
            pos = close + 1
            continue
        elif kind == "bare":
            pos = _bare(text, pos, value, tokens)
            continue
        pos = found.end()
    return tokens


def _closing_quote(text: str, opening: int) -> int:
    for index in range(opening + 1, len(text)):
        if text[index] in _QUOTES:
            return index
    raise QueryError(f"the quote at character {opening + 1} is never closed")


def _bare(text: str, pos: int, value: str, tokens: list[_Token]) -> int:
    """Append the tokens of one bare run (``-title:word``, ``OR``, ``word*``) and return where it ends."""
    end = pos + len(value)
    while value.startswith("-"):
        tokens.append(_Token("NOT", pos + 1, "'-'"))
        value, pos = value[1:], pos + 1
    if not value:
        if end < len(text) and text[end] in _QUOTES + "(":
            return end
        raise QueryError(f"'-' at character {pos} has nothing after it; write -word to leave out a word")
    if value in _OPERATORS:
        tokens.append(_Token(value, pos + 1, f"'{value}'"))
        return end
    field_match = _FIELD.fullmatch(value)
    if not field_match:
        tokens.append(_Token("TERM", pos + 1, term=_term(value, at=pos + 1)))
        return end
    field, rest = field_match[1].lower(), field_match[2]
    if field in FILTERS:
        tokens.append(_Token("TERM", pos + 1, term=_filter(field, rest, at=pos + 1)))
        return end
    if field in ("http", "https"):
        raise QueryError(f"the link at character {pos + 1} is not something to look for; "
                         "to see a paper, use show <arXiv id or URL>")
    if field not in FIELDS:
        raise QueryError(f"unknown field '{field_match[1]}:' at character {pos + 1}; the fields are {_FIELD_LIST}")
    if rest:
        term = _term(rest, at=pos + len(field) + 2, field=field)
    elif end < len(text) and text[end] in _QUOTES:
        close = _closing_quote(text, end)
        term = _term(text[end + 1 : close], at=end + 1, quoted=True, field=field)
        end = close + 1
    else:
        raise QueryError(f"'{field}:' at character {pos + 1} needs a word or \"phrase\" after it")
    tokens.append(_Token("TERM", pos + 1, term=term))
    return end


def _refuse_mention(raw: str, *, at: int) -> None:
    """Refuse ``@everyone``, ``@here``, ``<@U123>``, ``<!channel>``: a topic is words, and its text never pings."""
    if _MENTION.search(raw):
        shown = " ".join(raw.split())[:40]
        raise QueryError(f"'{shown}' at character {at} holds a mention, and a topic cannot mention anyone; "
                         "to mention a group in this topic's posts, add notify @group after the topic")


def _filter(field: str, rest: str, *, at: int) -> Leaf:
    """Parse ``field:rest`` for a filter field; its value must follow the colon directly, unquoted."""
    if not rest:  # a bare run holds no spaces or quotes, so "cat: cs.CL" and 'cat:"cs.CL"' end up here
        raise QueryError(needs_value(field, at))
    try:
        return parse_filter(field, rest, at=at + len(field) + 1)  # messages point at the value itself
    except FilterError as error:
        raise QueryError(str(error)) from None


TERM_CACHE_SIZE = 50_000
"""Terms kept by what was written: 10,000 stored topics repeat a few thousand words, each folded once."""
_terms: dict[tuple[str, bool, str | None], Term] = {}


def _term(raw: str, *, at: int, quoted: bool = False, field: str | None = None) -> Term:
    # Terms are immutable, so topics written alike share one; only accepted terms are kept, as a
    # refusal names the character it is at.
    key = (raw, quoted, field)
    term = _terms.get(key)
    if term is None:
        if len(_terms) >= TERM_CACHE_SIZE:
            _terms.clear()
        term = _terms[key] = _new_term(raw, at=at, quoted=quoted, field=field)
    return term


def _new_term(raw: str, *, at: int, quoted: bool, field: str | None) -> Term:
    _refuse_mention(raw, at=at)
    folded = fold(raw)
    found = list(_PART.finditer(folded))
    prefixes = sum(1 for part in found if part[2])
    if folded.count("*") != prefixes:
        # A quoted phrase may span lines; the message must stay one line.
        raise QueryError(f"the '*' in '{' '.join(raw.split())}' at character {at} must end a word, as in unlearn*")
    if not found:
        where = f"the quotes at character {at}" if quoted else f"'{raw}' at character {at}"
        empty = "are empty" if quoted and not raw.strip() else "hold no letters or digits"
        raise QueryError(f"{where} {empty}" if quoted else f"{where} has no letters or digits to look for")
    for part in found:
        if part[2] and len(part[1]) < MIN_PREFIX:
            raise QueryError(
                f"the prefix '{part[1]}*' at character {at} is too short; "
                f"use at least {MIN_PREFIX} letters before the *"
            )
    # Interned: tens of thousands of stored topics repeat a few thousand words, and a kept query
    # then holds references to one copy of each rather than copies of its own.
    shown = tuple(intern(part[0]) for part in found)
    return Term(
        parts=tuple((intern(part[1]), True) if part[2] else (intern(singular(part[1])), False) for part in found),
        shown=shown,
        field=field,
        typed=_as_typed(raw, quoted, shown),
    )


def _as_typed(raw: str, quoted: bool, shown: tuple[str, ...]) -> str | None:
    """The term as typed (``GPT-3.5``, ``"Zoë Müller"``), or None when that is how the folded words read.

    A bare run is kept whole, as it holds no spaces, quotes or parentheses and so parses back to the
    same term; a phrase keeps its quotes and has its spaces tidied.
    """
    typed = f'"{" ".join(raw.split())}"' if quoted else raw
    folded = " ".join(shown)
    return None if typed == (f'"{folded}"' if len(shown) > 1 else folded) else intern(typed)


class _Parser:
    """Recursive descent over the tokens; builds a `Group` tree with exclusions hoisted per group."""

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._next = 0

    def parse(self) -> Group:
        root = self._group(opener=None, depth=0)
        stray = self._peek()
        if stray is not None:
            raise QueryError(f"the ')' at character {stray.at} has no '(' before it")
        return root

    def _peek(self) -> _Token | None:
        return self._tokens[self._next] if self._next < len(self._tokens) else None

    def _take(self) -> _Token:
        token = self._tokens[self._next]
        self._next += 1
        return token

    def _group(self, *, opener: _Token | None, depth: int) -> Group:
        chains = [self._chain(after=opener, depth=depth)]
        while (token := self._peek()) is not None and token.kind == "OR":
            self._take()
            chains.append(self._chain(after=token, depth=depth))
        any_of: list[tuple[Node, ...]] = []
        none_of: list[Node] = []
        for start, wanted, excluded in chains:
            if not wanted:
                raise QueryError(_only_exclusions(opener, start, alone=len(chains) == 1))
            any_of.append(tuple(wanted))
            none_of += excluded
        return Group(tuple(any_of), tuple(none_of))

    def _chain(self, *, after: _Token | None, depth: int) -> tuple[_Token, list[Node], list[Node]]:
        self._expect_operand(after)
        start = self._peek()
        assert start is not None
        wanted: list[Node] = []
        excluded: list[Node] = []
        while True:
            negated, node = self._unary(depth)
            if negated:
                excluded.append(_unwrap_single(node))
            elif isinstance(node, Group) and len(node.any_of) == 1 and not node.none_of:
                wanted += node.any_of[0]  # "(a b) c" is just "a b c"
            else:
                wanted.append(node)
            token = self._peek()
            if token is None or token.kind in ("OR", ")"):
                return start, wanted, excluded
            if token.kind == "AND":
                self._take()
                self._expect_operand(token)

    def _unary(self, depth: int) -> tuple[bool, Node]:
        token = self._peek()
        assert token is not None
        if token.kind != "NOT":
            return False, self._primary(depth)
        self._take()
        following = self._peek()
        if following is not None and following.kind == "NOT":
            raise QueryError(
                f"{following.label} at character {following.at} comes right after {token.label}; "
                "a word can be left out only once"
            )
        if following is None or following.kind not in ("TERM", "("):
            raise QueryError(f"{token.label} at character {token.at} needs a word after it")
        return True, self._primary(depth)

    def _primary(self, depth: int) -> Node:
        token = self._take()
        if token.kind == "TERM":
            assert token.term is not None
            return token.term
        if depth >= MAX_NESTING:
            raise QueryError(f"the parentheses nest more than {MAX_NESTING} deep at character {token.at}")
        group = self._group(opener=token, depth=depth + 1)
        if self._peek() is None:
            raise QueryError(f"the '(' at character {token.at} is never closed")
        self._take()
        return group

    def _expect_operand(self, after: _Token | None) -> None:
        """Raise a QueryError unless a word, '(' or exclusion comes next."""
        token = self._peek()
        if token is not None and token.kind in ("TERM", "(", "NOT"):
            return
        if after is not None and after.kind in ("OR", "AND"):
            if token is None or token.kind == ")":
                raise QueryError(f"{after.label} at character {after.at} needs a word after it")
            raise QueryError(
                f"{after.label} at character {after.at} is followed by {token.label}; put a word between them"
            )
        if token is None:  # only reachable just after an opening parenthesis
            assert after is not None
            raise QueryError(f"the '(' at character {after.at} is never closed")
        if token.kind == ")":
            if after is None:
                raise QueryError(f"the ')' at character {token.at} has no '(' before it")
            raise QueryError(f"the parentheses at character {after.at} are empty")
        raise QueryError(f"{token.label} at character {token.at} needs a word before it")


def _unwrap_single(node: Node) -> Node:
    """Turn ``-(word)`` into ``-word`` so the canonical text stays simple."""
    if isinstance(node, Group) and not node.none_of and len(node.any_of) == 1 and len(node.any_of[0]) == 1:
        return node.any_of[0][0]
    return node


def _only_exclusions(opener: _Token | None, start: _Token, *, alone: bool) -> str:
    if not alone:
        return (
            f"the side of OR starting at character {start.at} only leaves words out; "
            "each side of OR needs a word to look for"
        )
    if opener is None:
        return "a query needs at least one word to look for, not only exclusions"
    return f"the parentheses at character {opener.at} only leave words out; put a word to look for inside"
