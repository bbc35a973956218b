"""Filters: query terms about what a paper *is* rather than what it says.

``cat:cs.CL``
    The paper's arXiv categories include cs.CL. Case does not matter (``cat:CS.cl`` is the
    same); the canonical text writes a category as arXiv does: the archive in lower case, a
    two-letter subject class in upper case (``cs.CL``, ``math.AG``, ``q-bio.NC``) and a longer
    one in lower case (``physics.optics``, ``cond-mat.mes-hall``).
``cat:cs.*`` or ``cat:cs``
    Any category of the archive cs. The two are one query: an archive without subject classes
    (``hep-th``, ``quant-ph``) simply has only itself, so ``cat:hep-th`` matches hep-th exactly.
    The canonical text writes ``cs.*`` for the archives arXiv divides into subject classes and
    the bare name for the others, so `Query.categories` gives what an arXiv ``cat:`` search takes.
``upvotes:>=20``, ``stars:>100``, ``comments:<=3``, ``upvotes:<5``, ``upvotes:=0``
    A count compared with a whole number from 0 to 10^9 (``stars`` is the GitHub repository's).
    A bare number means at least: ``upvotes:20`` is ``upvotes:>=20``. An unknown count (None:
    an arXiv-only paper has no upvotes) satisfies no comparison, ``<`` included: unknown is not
    zero. So ``-upvotes:>=20`` keeps the papers whose upvotes are unknown.
``has:code``
    The paper links a GitHub repository.

Filters combine with AND, OR, NOT and parentheses like any term; they are not words, so
search helpers skip them. Each filter is a leaf of the query tree next to `Term`, with the
same small interface: ``test(text)``, ``hit(text)``, ``render()``.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Callable, Union

from bot.topics.arxiv_taxonomy import closest, is_known
from bot.topics.matcher import Hit, PaperText

MAX_CATEGORY_LENGTH = 40
MAX_COUNT = 10**9
COUNT_FIELDS = ("upvotes", "stars", "comments")
FILTERS = ("cat", *COUNT_FIELDS, "has")
FILTER_LIST = "cat:, upvotes:, stars:, comments: and has:code"

# The arXiv archives divided into subject classes (arxiv.org/category_taxonomy). Only the
# canonical text uses this; matching `cat:x` is the same whether x is listed here or not.
SUBDIVIDED_ARCHIVES = frozenset(
    "astro-ph cond-mat cs econ eess math nlin physics q-bio q-fin stat".split()
)
# An archive or subject class: letters, with single hyphens inside (hep-th, mes-hall).
_NAME = r"[a-z]+(?:-[a-z]+)*"
# ASCII too: with IGNORECASE alone, [a-z] would also take the Kelvin sign and the long s.
_CATEGORY = re.compile(rf"(?P<archive>{_NAME})(?:\.(?P<subject>{_NAME}|\*))?", re.IGNORECASE | re.ASCII)
_COUNT = re.compile(r"(?P<op>>=|<=|>|<|=)?(?P<number>[0-9]+)")
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "=": operator.eq,
}
_SYMBOL = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "="}
_HAS = ("code",)


class FilterError(ValueError):
    """A filter is malformed; the parser turns it into a `QueryError` (this module cannot import it)."""


@dataclass(frozen=True, slots=True)
class Category:
    """``cat:cs.CL`` (a *subject* given) or ``cat:cs.*`` (the whole archive), folded to lower case."""

    archive: str
    subject: str | None = None

    @property
    def shown(self) -> str:
        """The category as arXiv writes it: ``cs.CL``, ``physics.optics``, ``cs.*``, ``hep-th``."""
        if self.subject is None:
            return f"{self.archive}.*" if self.archive in SUBDIVIDED_ARCHIVES else self.archive
        subject = self.subject.upper() if len(self.subject) == 2 else self.subject
        return f"{self.archive}.{subject}"

    @property
    def key(self) -> str:
        """What `PaperText.categories` (a subject given) or `PaperText.archives` holds when this matches."""
        return self.archive if self.subject is None else f"{self.archive}.{self.subject}"

    def test(self, text: PaperText) -> bool:
        return self.key in (text.archives if self.subject is None else text.categories)

    def hit(self, text: PaperText) -> Hit:
        """Name the query's category, or for a whole archive the paper's categories in it."""
        if self.subject is not None:
            return Hit(f"cat:{self.shown}", ())
        inside = [c for c in text.facts.categories if c.strip().casefold().split(".", 1)[0] == self.archive]
        return Hit(f"cat:{', '.join(inside)}", ())

    def render(self) -> str:
        return f"cat:{self.shown}"


@dataclass(frozen=True, slots=True)
class Count:
    """``upvotes:>=20``: one of the paper's counts compared with a number."""

    field: str
    """``upvotes``, ``stars`` or ``comments``: the `PaperFacts` attribute of the same name."""
    op: str
    value: int

    def test(self, text: PaperText) -> bool:
        count = getattr(text.facts, self.field)
        return count is not None and _COMPARE[self.op](count, self.value)

    def hit(self, text: PaperText) -> Hit:
        return Hit(f"{self.field} {getattr(text.facts, self.field)} {_SYMBOL[self.op]} {self.value}", ())

    def render(self) -> str:
        return f"{self.field}:{self.op}{self.value}"


@dataclass(frozen=True, slots=True)
class HasCode:
    """``has:code``: the paper links a GitHub repository."""

    def test(self, text: PaperText) -> bool:
        return text.facts.has_code

    def hit(self, text: PaperText) -> Hit:
        return Hit("has code", ())

    def render(self) -> str:
        return "has:code"


Filter = Union[Category, Count, HasCode]


def parse_filter(field: str, value: str, *, at: int) -> Filter:
    """Parse the *value* after ``field:`` (the field in lower case) at character *at*, or raise `FilterError`."""
    if field == "cat":
        return _category(value, at=at)
    if field == "has":
        return _has(value, at=at)
    return _count(field, value, at=at)


def needs_value(field: str, at: int) -> str:
    """Say (one line) what must follow ``field:`` when nothing does (a space or a quote comes next)."""
    if field == "cat":
        what, example = "an arXiv category", "cat:cs.CL or cat:cs.*"
    elif field == "has":
        what, example = "what the paper must have", "has:code"
    else:
        what, example = "a number", f"{field}:>=20"
    return f"'{field}:' at character {at} needs {what} right after it, with no space or quotes, as in {example}"


def _category(value: str, *, at: int) -> Category:
    if len(value) > MAX_CATEGORY_LENGTH:
        raise FilterError(
            f"the category at character {at} is {len(value)} characters long; the limit is {MAX_CATEGORY_LENGTH}"
        )
    found = _CATEGORY.fullmatch(value)
    if not found:
        raise FilterError(
            f"'{value}' at character {at} is not an arXiv category; write one such as cs.CL or hep-th, "
            "or cs.* for every category of cs"
        )
    subject = found["subject"]
    return Category(found["archive"].lower(), None if subject in (None, "*") else subject.lower())


def unknown_category(category: Category, *, at: int) -> str | None:
    """Say (one line) why *category*, written at character *at*, is not in arXiv's taxonomy; None if it is."""
    if is_known(category.shown):
        return None
    guess = closest(category.key if category.subject is not None else category.archive)
    fix = (f"did you mean {guess}?" if guess
           else "write one such as cs.CL or hep-th, or cs.* for every category of cs")
    return (f"cat:{category.shown} at character {at} is not an arXiv category; {fix} "
            "(list: arxiv.org/category_taxonomy)")


def _count(field: str, value: str, *, at: int) -> Count:
    found = _COUNT.fullmatch(value)
    if not found:
        raise FilterError(
            f"'{value}' after '{field}:' at character {at} is not a count; "
            f"write {field}:>=N (or >, <=, <, =) with N a whole number from 0 to {MAX_COUNT:,}"
        )
    number = int(found["number"])
    if number > MAX_COUNT:
        raise FilterError(f"the count {found['number']} at character {at} is over the limit of {MAX_COUNT:,}")
    return Count(field, found["op"] or ">=", number)  # a bare number means "at least"


def _has(value: str, *, at: int) -> HasCode:
    if value.lower() not in _HAS:
        raise FilterError(f"unknown 'has:' value '{value}' at character {at}; has:code is the only one")
    return HasCode()
