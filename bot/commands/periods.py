"""`week` and `month`: Hugging Face's top papers of an ISO week or a month, by upvotes."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Awaitable, Callable

from bot.commands.answers import UsageError, cards, error_reply, fallback_note
from bot.model.channels import Command
from bot.sources.lookups import Lookups
from bot.commands.paging import Pages
from bot.model.paper import Paper
from bot.model.replies import Reply
from bot.ports.store import PaperStore

_WEEK = re.compile(r"(\d{4})-W(\d{2})", re.IGNORECASE)
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def parse_week(text: str, today: date) -> tuple[str, date, date]:
    """Return (``YYYY-Www``, its Monday, its Sunday); blank is the current ISO week."""
    text = text.strip()
    if not text:
        year, week, _ = today.isocalendar()
    else:
        match = _WEEK.fullmatch(text)
        if not match:
            raise UsageError(f"'{text[:40]}' is not a week; write it as YYYY-Www, e.g. 2026-W49.")
        year, week = int(match[1]), int(match[2])
    try:
        start = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise UsageError(f"'{text[:40]}' is not a week: {year} has no week {week}.") from None
    return f"{year:04d}-W{week:02d}", start, start + timedelta(days=6)


def parse_month(text: str, today: date) -> tuple[str, date, date]:
    """Return (``YYYY-MM``, its first day, its last day); blank is the current month."""
    text = text.strip()
    if not text:
        year, month = today.year, today.month
    else:
        match = _MONTH.fullmatch(text)
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
            raise UsageError(f"'{text[:40]}' is not a month; write it as YYYY-MM, e.g. 2026-12.")
        year, month = int(match[1]), int(match[2])
    start = date(year, month, 1)
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return f"{year:04d}-{month:02d}", start, following - timedelta(days=1)


class Periods:
    """The top papers of a week or a month on Hugging Face, from the cache when it is down."""

    def __init__(self, *, store: PaperStore, clock: Callable[[], datetime], pages: Pages, lookups: Lookups) -> None:
        self.store = store
        self.clock = clock
        self.pages = pages
        self.lookups = lookups
        self.hf = lookups.hf

    async def week(self, command: Command) -> Reply:
        label, start, end = parse_week(command.args, self.clock().date())
        return await self._top(command, "week", label, start, end, lambda: self.hf.week(label))

    async def month(self, command: Command) -> Reply:
        label, start, end = parse_month(command.args, self.clock().date())
        return await self._top(command, "month", label, start, end, lambda: self.hf.month(label))

    async def _top(self, command: Command, period: str, label: str, start: date, end: date,
                   fetch: Callable[[], Awaitable[list[Paper]]]) -> Reply:
        cached = [p for p in await self.store.papers_since(start)
                  if p.daily_date is not None and start <= p.daily_date <= end]
        papers, note = await self.lookups.fresh(f"{period}:{label}", fetch, have_cache=bool(cached))
        if papers is None:
            if not cached:
                return error_reply(fallback_note(note, cached=False))
            papers, note = cached, fallback_note(note, cached=True)
        papers = sorted(papers, key=lambda p: (-(p.upvotes or 0), p.id))
        return Reply(self.pages.first(command, f"Top papers of the {period} {label} on Hugging Face", cards(papers),
                                      note=note, empty=f"No Daily Papers for the {period} {label} yet."))
