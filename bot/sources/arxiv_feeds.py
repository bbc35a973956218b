"""arXiv categories as a paper source: what is new in each category an active topic names.

A topic with ``cat:cs.CL`` follows Hugging Face's lists like any topic, and also arXiv's new
submissions in cs.CL. The poller asks `CategoryFeeds.read` for the papers that are new since the
last read; this module decides which categories are due, how far back to read, and what is new.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable, Protocol

from bot.model.paper import Paper
from bot.sources import ArxivClient, SourceError
from bot.ports.store import PaperStore, StateStore
from bot.topics.arxiv_taxonomy import is_known

log = logging.getLogger(__name__)

FIRST_READ_DAYS = 3
"""A category's first read (its baseline) looks this far back, past a weekend's announcement gap."""
OVERLAP = timedelta(days=1)
"""Later reads start this long before the newest paper seen last time: arXiv announces papers after
they are submitted (a day or more, papers on hold longer), so a read by submission date must overlap."""
MOST_PER_READ = 500
READ_BUDGET = 120.0
"""Seconds of category reads one poll starts at most: at arXiv's 3 s a request, many categories would
outrun the poll's watchdog (PAPERBOY_POLL_TIMEOUT) and none would ever be marked read. The rest wait
for the next poll, the longest unread first."""


def _read_key(category: str) -> str:
    return f"arxiv.read.{category}"


def _newest_key(category: str) -> str:
    return f"arxiv.newest.{category}"


async def last_reads(store: StateStore, categories: Iterable[str]) -> dict[str, datetime | None]:
    """When each of *categories* was last read (None: not yet), for `status`."""
    found: dict[str, datetime | None] = {}
    for category in sorted(set(categories)):
        read = await store.get_state(_read_key(category))
        found[category] = datetime.fromisoformat(read) if read else None
    return found


class FeedStore(PaperStore, StateStore, Protocol):
    """What the category reads use: the paper cache, and when each category was last read (state)."""


@dataclass(slots=True)
class CategoryRead:
    """What one round of category reads found."""

    fresh: list[Paper] = field(default_factory=list)
    """Papers no earlier category read had seen, from categories read before (not first reads)."""
    baselined: dict[str, int] = field(default_factory=dict)
    """Category -> how many papers its first read saw (none of them posted)."""
    read: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    """Due categories left for the next poll: this one's time for reading ran out."""
    errors: list[SourceError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Names the topics give that arXiv's taxonomy lacks (stored before topics were checked): never asked for."""


class CategoryFeeds:
    """Read each due category once per *interval* seconds, through one polite `ArxivClient`."""

    def __init__(self, *, store: FeedStore, arxiv: ArxivClient, interval: float, budget: float = READ_BUDGET,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.arxiv = arxiv
        self.interval = timedelta(seconds=interval)
        self.budget = budget
        self._monotonic = monotonic
        self._said_unknown: set[str] = set()

    async def read(self, categories: Iterable[str], *, now: datetime) -> CategoryRead:
        """Read the due ones among *categories*, one after another (the client spaces the requests),
        never reading for longer than `budget` seconds: the longest unread go first."""
        result = CategoryRead()
        wanted = set(categories)
        result.skipped = sorted(c for c in wanted if not is_known(c))
        for name in sorted(set(result.skipped) - self._said_unknown):  # once, not every poll
            log.warning("a topic follows cat:%s, which is not an arXiv category; arXiv is never asked for it", name)
        self._said_unknown.update(result.skipped)
        seen: set[str] = set()
        started, attempted = self._monotonic(), 0
        for category, last in await self._due(wanted - set(result.skipped), now):
            if attempted and self._monotonic() - started >= self.budget:
                result.deferred.append(category)
                continue
            attempted += 1
            try:
                papers = await self._read_one(category, first=last is None, now=now)
            except SourceError as error:  # the next poll tries again; other categories go on
                result.errors.append(error)
                continue
            result.read.append(category)
            fresh = await self._remember(category, papers, now=now)
            if last is None:
                result.baselined[category] = len(papers)
            else:
                result.fresh += [p for p in fresh if p.id not in seen]
            seen.update(p.id for p in fresh)
        return result

    async def _due(self, categories: Iterable[str], now: datetime) -> list[tuple[str, str | None]]:
        """The categories due for a read with their last read, never read first, then the oldest."""
        due = []
        for category in sorted(set(categories)):
            last = await self.store.get_state(_read_key(category))
            if last is None or now - datetime.fromisoformat(last) >= self.interval:
                due.append((category, last))
        return sorted(due, key=lambda item: (item[1] is not None, item[1] or ""))

    async def _read_one(self, category: str, *, first: bool, now: datetime) -> list[Paper]:
        newest = await self.store.get_state(_newest_key(category))
        if first or newest is None:
            since = now - timedelta(days=FIRST_READ_DAYS)
        else:
            since = datetime.fromisoformat(newest) - OVERLAP
        return await self.arxiv.new_in_category(category, since=since, most=MOST_PER_READ)

    async def _remember(self, category: str, papers: list[Paper], *, now: datetime) -> list[Paper]:
        """Cache *papers* (merged with what Hugging Face knows) and return the ones new to category reads.

        A paper is new unless the cache already has its categories: only arXiv gives them, so a paper
        Hugging Face listed first is still new here, and a paper an overlapping read saw again is not.
        """
        known = await self.store.get_papers([p.id for p in papers])
        fresh_ids = {p.id for p in papers if p.id not in known or not known[p.id].categories}
        await self.store.save_papers(papers)
        await self.store.set_state(_read_key(category), now.isoformat())
        dated = [p.published_at for p in papers if p.published_at is not None]
        if dated:
            await self.store.set_state(_newest_key(category), max(dated).isoformat())
        merged = await self.store.get_papers(sorted(fresh_ids))
        return [merged[p.id] for p in papers if p.id in merged and p.id in fresh_ids]
