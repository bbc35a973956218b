"""`more`: the rest of a long list, a page at a time, for the person who asked, where they asked."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from bot.model.channels import ChannelRef, Command
from bot.model.replies import PaperCard, PaperList, Text

PAGE = 10
"""Papers in one reply; the rest wait for `more`."""
KEEP_FOR = timedelta(hours=6)
MAX_WAITING = 5000
"""Callers whose lists are remembered at once; the longest-idle one is forgotten first."""


@dataclass(slots=True)
class _Waiting:
    title: str
    cards: tuple[PaperCard, ...]
    shown: int
    at: datetime
    private: bool = False
    lines: tuple[str, ...] = ()
    """A list of text lines (`log`) rather than of papers."""


class Pages:
    """Remember, per (channel, caller), the list last shown to them and how far they got."""

    def __init__(self, *, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._waiting: OrderedDict[tuple[ChannelRef, str], _Waiting] = OrderedDict()

    def first(self, command: Command, title: str, cards: tuple[PaperCard, ...], *, note: str | None = None,
              empty: str = "No papers.", size: int = PAGE, private: bool = False) -> PaperList:
        """Return the first page of *cards*, remembering the rest for this caller's `more`.

        *private*: the list is only the caller's (a reading list), so its later pages are too.
        """
        key = (command.channel, command.caller.id)
        self._waiting.pop(key, None)
        if len(cards) > size:
            self._waiting[key] = _Waiting(title, cards, size, self.clock(), private)
            while len(self._waiting) > MAX_WAITING:
                self._waiting.popitem(last=False)
        return _page(title, cards, 0, size, note=note, empty=empty)

    def first_lines(self, command: Command, title: str, lines: tuple[str, ...], *, empty: str,
                    private: bool = False) -> Text:
        """Return the first page of *lines* (a list that is not papers, such as `log`); `more` continues it."""
        key = (command.channel, command.caller.id)
        self._waiting.pop(key, None)
        if len(lines) > PAGE:
            self._waiting[key] = _Waiting(title, (), PAGE, self.clock(), private, lines)
            while len(self._waiting) > MAX_WAITING:
                self._waiting.popitem(last=False)
        return _text_page(title, lines, 0, empty=empty)

    def is_private(self, command: Command) -> bool:
        """Say whether the list waiting for this caller's `more` is theirs alone."""
        waiting = self._waiting.get((command.channel, command.caller.id))
        return waiting is not None and waiting.private

    def more(self, command: Command) -> PaperList | Text | None:
        """Return this caller's next page, or None when nothing is waiting."""
        key = (command.channel, command.caller.id)
        waiting = self._waiting.get(key)
        if waiting is None or self.clock() - waiting.at > KEEP_FOR:
            self._waiting.pop(key, None)
            return None
        start = waiting.shown
        waiting.shown += PAGE
        waiting.at = self.clock()
        self._waiting.move_to_end(key)
        if waiting.shown >= len(waiting.cards or waiting.lines):
            del self._waiting[key]
        if waiting.lines:
            return _text_page(waiting.title, waiting.lines, start)
        return _page(waiting.title, waiting.cards, start, PAGE)


def _page(title: str, cards: tuple[PaperCard, ...], start: int, size: int, *, note: str | None = None,
          empty: str = "No papers.") -> PaperList:
    total = len(cards)
    shown = cards[start:start + size]
    if not total:
        return PaperList(title, shown, note=note, empty=empty)
    end = start + len(shown)
    left = total - end
    # Every list says which of how many it shows, a list of one page too.
    title = f"{title} ({start + 1}–{end} of {total})"
    if start == 0 and not left:
        return PaperList(title, shown, note=note, empty=empty)
    hint = f"type 'more' for the next {min(PAGE, left)}" if left else "that is all"
    return PaperList(title, shown, note=_joined(note, hint), empty=empty, start=start + 1)


def _text_page(title: str, lines: tuple[str, ...], start: int, *, empty: str = "Nothing yet.") -> Text:
    if not lines:
        return Text(empty, title=title)
    shown = lines[start:start + PAGE]
    end = start + len(shown)
    left = len(lines) - end
    body = list(shown)
    if start or left:
        body.append(f"Type 'more' for the next {min(PAGE, left)}." if left else "That is all.")
    return Text("\n".join(body), title=f"{title} ({start + 1}–{end} of {len(lines)})")


def _joined(note: str | None, hint: str) -> str:
    """*note* then *hint*: after a sentence a new one (never ".;"), else after a semicolon."""
    if not note:
        return hint[0].upper() + hint[1:]
    if note.rstrip().endswith((".", "!", "?")):
        return f"{note.rstrip()} {hint[0].upper()}{hint[1:]}."
    return f"{note}; {hint}"
