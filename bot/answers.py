"""Small pieces every command handler uses: argument parsing and reply building."""

from __future__ import annotations

from datetime import date, datetime

from bot.paper import Paper
from bot.replies import Error, PaperCard, Reply
from bot.topics import Query, parse_query

MAX_LIST = 10
"""Papers shown in one list; the rest are counted in the list's note."""


class UsageError(ValueError):
    """The command's arguments are wrong; the message says how to fix them."""


def error_reply(message: str) -> Reply:
    """Return *message* as an error only the caller sees."""
    return Reply(Error(message), private=True)


def query_arg(text: str) -> Query:
    """Parse a command's topic query; an empty one is a usage error."""
    if not text.strip():
        raise UsageError("Give a topic query, e.g. \"model merging\" OR unlearning -diffusion.")
    return parse_query(text)


def why(query: Query, paper: Paper) -> str | None:
    """Return why *paper* matches *query*, or None when it does not."""
    match = query.match(paper)
    return match.explain() if match else None


def cards(papers: list[Paper]) -> tuple[PaperCard, ...]:
    """Return plain cards for *papers*."""
    return tuple(PaperCard(p) for p in papers)


def unique(papers: list[Paper]) -> list[Paper]:
    """Return *papers* without repeats, keeping the first of each and the order."""
    return list({p.id: p for p in reversed(papers)}.values())[::-1]


def int_arg(text: str, *, default: int, low: int, high: int, what: str) -> int:
    """Parse a whole number from *low* to *high* (*default* when blank), naming *what* in errors."""
    text = text.strip()
    if not text:
        return default
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


def more_note(note: str | None, total: int) -> str | None:
    """Add "N more not shown" to *note* when *total* papers exceed one list."""
    if total <= MAX_LIST:
        return note
    extra = f"{total - MAX_LIST} more not shown"
    return f"{note}. {extra}" if note else extra


def cache_note(note: str | None, saved_at: datetime | None) -> str | None:
    """Say when the cached list shown with *note* was saved."""
    if note and saved_at:
        return f"{note} from {saved_at:%Y-%m-%d %H:%M} UTC"
    return note
