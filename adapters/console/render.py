"""The console's rendering: any reply as plain text, wrapped to the terminal between words, with no escape sequences."""

from __future__ import annotations

import re
import shutil
import textwrap
from typing import Callable

from bot.model.paper import FULL_CARD_AUTHORS, Paper
from bot.model.replies import Content, Error, File, PaperCard, Text

# Paper text could carry terminal escape sequences; a title must not repaint the screen.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
DEFAULT_WIDTH = 80  # columns when the output is not a terminal (a pipe, a file)
MIN_WIDTH = 40
INDENT = 3  # columns a card's body sits under its title


def terminal_width() -> int:
    """The terminal's width now (it may have been resized), or 80 columns when output is not a terminal."""
    return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def render(content: Content, *, width: int | None = None) -> str:
    """Render any reply content as readable plain text, wrapped to *width* (the terminal's) between words."""
    width = width or terminal_width()
    if isinstance(content, Error):
        return _fill(f"Error: {content.message}", width)
    if isinstance(content, Text):
        body = fill_lines(content.body, width)
        return f"{_fill(content.title, width)}\n{body}" if content.title else body
    if isinstance(content, PaperCard):
        return _card(content, width=width)
    if isinstance(content, File):
        # The file's text as it is, to copy or redirect (escape sequences still dropped).
        note = _fill(f"{content.note} ({content.name}):", width)
        return f"{note}\n\n{_clean(content.content).rstrip()}"
    lines = [_fill(content.title, width)]
    if content.note:
        lines.append(_fill(f"({content.note})", width))
    if not content.cards:
        lines.append(_fill(content.empty, width))
    # Numbers right-aligned, so every title (and the body under it) starts in the same column.
    digits = len(str(content.start + len(content.cards) - 1))
    for number, card in enumerate(content.cards, content.start):
        lines.append(_card(card, width=width, head=f"{number:>{digits}}. ", full=False))
    return "\n".join(lines)


def _card(card: PaperCard, *, width: int, head: str = "", full: bool = True) -> str:
    """A paper: its title after *head* (a list's number), the rest indented under the title's text."""
    paper = card.paper
    detail = card.detail and full
    pad = " " * max(len(head), INDENT)

    def para(text: str, indent: str = pad) -> str:
        return _fill(text, width, indent=indent)

    lines = [_fill(f"{paper.title}  [{paper.id}]", width, indent=head, hang=pad)]
    if paper.authors:
        shown = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        lines.append(para(paper.byline(FULL_CARD_AUTHORS) if detail else shown))
    figures = [_count(paper.upvotes, "upvote"), _count(paper.comments, "comment"),
               _count(paper.github_stars, "star")]
    if any(figures):
        lines.append(para(" · ".join(f for f in figures if f)))
    if detail and (dates := _dates(paper)):
        lines.append(para(dates))
    if card.why:
        lines.append(para(f"{card.why_label}: {card.why}" if card.why_label else card.why))
    if card.note:
        lines.append(para(f"({card.note})"))
    if detail:
        lines += _full_text(paper, para, pad)
    elif paper.summary:
        limit = 1200 if full else 240
        summary = _clean(paper.summary)
        lines.append(para(summary if len(summary) <= limit else summary[: limit - 1].rsplit(" ", 1)[0] + "…"))
    lines.append(para(" | ".join(url for _, url in (paper.links() if full else paper.links()[:1]))))
    return "\n".join(lines)


def _full_text(paper: Paper, para: Callable[..., str], pad: str) -> list[str]:
    """What only a full card shows: the whole abstract, the AI summary apart, and the linked Hub repos."""
    lines: list[str] = []
    for label, text in (("Abstract", paper.abstract), ("AI summary", paper.ai_summary)):
        if text:
            lines += [para(f"{label}:"), para(text)]
    for group in paper.linked_repos():
        lines.append(para(f"{group.label}:"))
        # The URL is the link in a terminal; it names the repo, so the id need not be repeated.
        lines += [para(url, pad + "  ") for _, url in group.links]
        if more := group.more_text():
            lines.append(para(more, pad + "  "))
    return lines


def _dates(paper: Paper) -> str:
    dates = []
    if paper.published_at:
        dates.append(f"published {paper.published_at.date().isoformat()}")
    if paper.daily_date:
        dates.append(f"on Daily Papers {paper.daily_date.isoformat()}")
    return " · ".join(dates)


def _fill(text: str, width: int, *, indent: str = "", hang: str | None = None) -> str:
    """*text* as lines of at most *width* columns, broken only between words (a longer word, a URL, stays whole)."""
    indent = indent or _leading(text)
    return textwrap.fill(_clean(text).strip(), width, initial_indent=indent,
                         subsequent_indent=indent if hang is None else hang,
                         break_long_words=False, break_on_hyphens=False) or indent.rstrip()


def fill_lines(text: str, width: int) -> str:
    """Each line of *text* filled apart, its continuation lines two columns in from its own indent."""
    return "\n".join(_fill(line, width, hang=_leading(line) + "  ") for line in text.splitlines())


def _leading(text: str) -> str:
    return text[: len(text) - len(text.lstrip(" "))]


def _count(number: int | None, noun: str) -> str | None:
    if number is None:
        return None
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _clean(text: str) -> str:
    return _CONTROL.sub("", text)  # keeps newlines and tabs, drops escapes and other controls
