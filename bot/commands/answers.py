"""Small pieces every command handler uses: argument parsing and reply building."""

from __future__ import annotations

from datetime import date, datetime

from bot.model.paper import Paper
from bot.model.replies import Error, PaperCard, Reply
from bot.topics import Match, Query, parse_query
from bot.model.usage import UsageError  # handlers import it from here too


# How much a term found in each field says about a paper: a title hit beats an abstract hit.
_FIELD_WEIGHT = {"title": 4, "keywords": 2, "author": 3, "abstract": 1}


def error_reply(message: str) -> Reply:
    """Return *message* as an error only the caller sees."""
    return Reply(Error(message), private=True)


def query_arg(text: str) -> Query:
    """Parse a command's topic query; an empty one is a usage error."""
    if not text.strip():
        raise UsageError("Give a topic query, e.g. \"model merging\" OR unlearning -diffusion.")
    return parse_query(text, known_categories=True)


def ranked_matches(query: Query, papers: list[Paper]) -> list[tuple[Paper, Match | None]]:
    """Order *papers* by how strongly they match *query*, then upvotes, then date, then id.

    A total order, so the same papers always come back in the same order whatever was fetched first.
    """
    matched = [(paper, query.match(paper)) for paper in papers]
    return sorted(matched, key=lambda pm: (-_strength(pm[1]), -(pm[0].upvotes or 0),
                                           -(pm[0].published_at.timestamp() if pm[0].published_at else 0),
                                           pm[0].id))


def _strength(match: Match | None) -> int:
    if match is None:
        return 0
    return sum(_FIELD_WEIGHT.get(field, 1) for hit in match.hits for field in hit.fields or ("",))


def cards(papers: list[Paper]) -> tuple[PaperCard, ...]:
    """Return plain cards for *papers*."""
    return tuple(PaperCard(p) for p in papers)


def unique(papers: list[Paper]) -> list[Paper]:
    """Return *papers* without repeats, keeping the first of each and the order."""
    return list({p.id: p for p in reversed(papers)}.values())[::-1]


def int_arg(text: str, *, default: int, low: int, high: int, what: str, example: str = "") -> int:
    """Parse a whole number from *low* to *high* (*default* when blank), naming *what* (and *example*) in errors."""
    text = text.strip()
    if not text:
        return default
    if len(text.split()) > 1:
        shown = f", as in '{example}'" if example else ""
        raise UsageError(f"Give {what} as one whole number from {low} to {high}{shown}, "
                         f"not '{' '.join(text.split())[:40]}'.")
    if not text.lstrip("-").isdigit() or len(text) > 7:
        raise UsageError(f"{what.capitalize()} must be a whole number from {low} to {high}.")
    value = int(text)
    if not low <= value <= high:
        raise UsageError(f"{what.capitalize()} must be from {low} to {high}, not {value}.")
    return value


def parse_day(text: str) -> date:
    """Parse a YYYY-MM-DD date argument."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"'{text[:40]}' is not a date; write it as YYYY-MM-DD, e.g. 2026-11-27.") from None


def fallback_note(problem: str | None, *, cached: bool, saved_at: datetime | None = None) -> str | None:
    """Say in one line what went wrong with the source and what is shown instead."""
    if not problem:
        return None
    problem = problem.rstrip().rstrip(".")  # one sentence, continued after a semicolon: never ".;"
    if not cached:
        return f"{problem}; nothing is cached yet, so try again in a minute"
    when = f" from {saved_at:%Y-%m-%d %H:%M} UTC" if saved_at else ""
    return f"{problem}; showing cached results{when}"
