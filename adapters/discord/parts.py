"""A paper's part of a Discord post, made once per paper: it is the same in every channel the paper goes to.

A post to many channels differs only in each channel's own lines (why the paper matched
there, a list's numbering). A paper's title, authors, summary, numbers, links and footer are
escaped and fitted here once, kept as strings and tuples (immutable, so sharing them between
messages is safe) and keyed by the paper's value. The discord.Embed that shows them is mutable
(`render.trim_embed` changes it) and discord.py keeps it with the message: build one per message.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from adapters.discord.markdown import fit, fit_joined, safe_url, shorten
from bot.model.paper import Paper

TITLE_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
AUTHOR_LIMIT = 256
PARTS_CACHE_SIZE = 1024
"""How many (paper, budget) renderings `card_parts` keeps: a day's papers, each in the budgets a list tries."""
LINES_CACHE_SIZE = 1024
"""How many papers' lines of a long list `list_line` keeps."""

_SHOWN_AUTHORS = 3


@dataclass(frozen=True, slots=True)
class CardBudget:
    """How much of a paper a card may show; lists shrink it until the message fits."""

    summary: int = 700
    title: int = TITLE_LIMIT
    authors: int = AUTHOR_LIMIT
    why: int = 300
    all_links: bool = True


@dataclass(frozen=True, slots=True)
class CardParts:
    """What a card of one paper shows in every channel, escaped and fitted to its budget."""

    title: str
    url: str | None
    author: str | None
    summary: str | None
    """The description's text after the channel's own why; None where the card shows no summary."""
    fields: tuple[tuple[str, str, bool], ...]
    """``(name, value, inline)`` of each field, in order."""
    thumbnail: str | None
    footer: str | None


@lru_cache(maxsize=PARTS_CACHE_SIZE)
def card_parts(paper: Paper, budget: CardBudget) -> CardParts:
    """Return the parts of *paper*'s card within *budget* (a paper hashes by id and compares by value)."""
    summary = fit(paper.summary, budget.summary, sentences=True) if paper.summary and budget.summary else None
    fields = tuple((name, value, True) for name, value in stats(paper))
    links = paper_links(paper, all_links=budget.all_links)
    if links:
        fields += (("Links", links, False),)
    return CardParts(title=fit(paper.title, budget.title), url=safe_url(paper.url),
                     author=authors_line(paper.authors, budget.authors), summary=summary, fields=fields,
                     thumbnail=safe_url(paper.thumbnail), footer=_footer(paper))


@lru_cache(maxsize=LINES_CACHE_SIZE)
def list_line(paper: Paper) -> str:
    """*paper*'s line in a long list, after its number: its linked title and upvotes."""
    title = fit(paper.title, 120)
    url = safe_url(paper.url)
    line = f"[{title}]({url})" if url else title
    if paper.upvotes is not None:
        line += f" · ▲ {paper.upvotes:,}"
    return line


def authors_line(authors: tuple[str, ...], limit: int) -> str | None:
    """Return the first authors and "et al." within *limit* characters (plain text).

    Author names are plain text in Discord: no escaping needed, and none would show.
    """
    if not authors:
        return None
    shown = list(authors[:_SHOWN_AUTHORS])
    while True:
        line = ", ".join(shown) + (" et al." if len(shown) < len(authors) else "")
        if len(line) <= limit or len(shown) == 1:
            return shorten(line, limit) if len(line) > limit else line
        shown.pop()


def stats(paper: Paper) -> list[tuple[str, str]]:
    """The paper's counts as ``(name, value)``; unknown is not zero: a count the source did not give is left out."""
    counts = [("Upvotes", paper.upvotes), ("Comments", paper.comments), ("GitHub stars", paper.github_stars)]
    return [(name, f"{value:,}") for name, value in counts if value is not None]


def paper_links(paper: Paper, *, all_links: bool) -> str:
    """The paper's links (all, or the first three) as markdown links within a field's value."""
    pairs = paper.links() if all_links else paper.links()[:3]
    links = [f"[{label}]({url})" for label, url in pairs if safe_url(url)]
    return fit_joined(links, " · ", FIELD_VALUE_LIMIT)


def _footer(paper: Paper) -> str | None:
    parts = []
    if paper.organization:
        parts.append(shorten(paper.organization, 100))
    if paper.daily_date:
        parts.append(f"Daily Papers {paper.daily_date.isoformat()}")
    elif paper.source == "arxiv":
        parts.append("arXiv")
    return " · ".join(parts) or None
