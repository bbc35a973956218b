"""`preview <query>`: what a topic would have matched lately, and why.

The pool is what the poller would have seen: Hugging Face's current lists, the last days of Daily
Papers in the cache, and, for a query that names arXiv categories, those categories' newest
submissions, read through the one polite `ArxivClient` the poller uses (Hugging Face gives no
categories, so without them `cat:` would pass nothing on a fresh database).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Callable

from bot.commands.answers import query_arg, unique
from bot.model.channels import Command
from bot.sources.lists import as_known, cached_lists
from bot.sources.lookups import Lookups
from bot.commands.paging import Pages
from bot.model.paper import Paper
from bot.model.replies import PaperCard, Reply
from bot.sources import SourceError
from bot.ports.store import PaperStore
from bot.topics import Query
from bot.model.wording import plural

log = logging.getLogger(__name__)

PREVIEW_DAYS = 7
CATEGORY_NEWEST = 100
"""Newest submissions read per category: one request of arXiv's query API."""
MAX_CATEGORIES = 3
"""Categories one preview reads at most: arXiv asks for a request every 3 s, and an answer cannot wait long."""
KEEP_LISTING_FOR = 300.0
"""Seconds a category's listing answers the next previews without asking arXiv again."""


class Preview:
    """Match a query against what the poller would have seen lately, without recording anything."""

    def __init__(self, *, store: PaperStore, clock: Callable[[], datetime], pages: Pages, lookups: Lookups,
                 answer_timeout: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self.pages = pages
        self.lookups = lookups
        self.arxiv = lookups.arxiv
        self.answer_timeout = answer_timeout
        self._monotonic = monotonic
        self._listings: dict[str, tuple[float, list[Paper]]] = {}
        """Category -> (when read, its newest submissions): previews in a row ask arXiv once."""
        self._reading: dict[str, asyncio.Future] = {}

    async def preview(self, command: Command) -> Reply:
        query = query_arg(command.args)
        (lists, note), (from_arxiv, arxiv_notes, read) = await asyncio.gather(
            self.lookups.current_lists(), self._categories(query))
        recent = await self.store.papers_since(self.clock().date() - timedelta(days=PREVIEW_DAYS))
        listed = lists.papers() if lists else await cached_lists(self.store)
        # As the cache knows them (Hugging Face's counts, the categories an arXiv read gave), with the
        # categories this preview's listings gave, which the cache does not keep.
        pool = _with_categories(await as_known(self.store, unique([*listed, *recent, *from_arxiv])), from_arxiv)
        matches = [(p, m) for p in pool if (m := query.match(p))]
        found = tuple(PaperCard(p, m.explain()) for p, m in matches)
        where = f"the trending list and the last {PREVIEW_DAYS} days of Daily Papers"
        if read:
            where = (f"the trending list, the last {PREVIEW_DAYS} days of Daily Papers and arXiv's newest "
                     f"in {', '.join(read)}")
        title = f"Preview of {query.text}: {len(matches)} of {plural(len(pool), 'paper')} in {where} match"
        notes = "; ".join(n for n in (note, *arxiv_notes) if n) or None
        return Reply(self.pages.first(command, title, found, note=notes,
                                      empty="Nothing recent matches; try a broader query."))

    async def _categories(self, query: Query) -> tuple[list[Paper], list[str], list[str]]:
        """The newest submissions in the categories *query* names: (papers, notes, the categories read)."""
        categories = sorted(query.categories())
        if not categories or self.arxiv is None:
            return [], [], []
        notes = []
        if len(categories) > MAX_CATEGORIES:
            notes.append(f"read only {', '.join(categories[:MAX_CATEGORIES])} of the {len(categories)} "
                         "categories on arXiv (one request every 3 s, as arXiv asks)")
            categories = categories[:MAX_CATEGORIES]
        answers = await asyncio.gather(*(self._listing(category) for category in categories))
        papers = [p for found, _ in answers for p in found or ()]
        notes += [problem for _, problem in answers if problem]
        return papers, notes, [c for c, (found, _) in zip(categories, answers) if found is not None]

    async def _listing(self, category: str) -> tuple[list[Paper] | None, str | None]:
        """*category*'s newest submissions within the answer's deadline; a read cut short goes on for the next one.

        Never cached as papers: the poller counts a paper as new to a category until its read has seen
        it, so a preview that cached it first would keep it from ever being posted.
        """
        kept = self._listings.get(category)
        if kept and self._monotonic() - kept[0] < KEEP_LISTING_FOR:
            return kept[1], None
        task = self._reading.get(category)
        if task is None:  # previews asking at once share one request
            task = self._reading[category] = asyncio.ensure_future(self._read(category))
            task.add_done_callback(lambda done: self._settled(category, done))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.answer_timeout), None
        except asyncio.TimeoutError:
            return None, (f"arXiv has not listed {category} in time (Paperboy asks it once every 3 s); "
                          "the read goes on, so try the preview again in a moment")
        except SourceError as error:
            return None, str(error)

    async def _read(self, category: str) -> list[Paper]:
        assert self.arxiv is not None
        since = self.clock() - timedelta(days=PREVIEW_DAYS)
        papers = await self.arxiv.new_in_category(category, since=since, most=CATEGORY_NEWEST)
        self._listings[category] = (self._monotonic(), papers)
        return papers

    def _settled(self, category: str, task: asyncio.Future) -> None:
        self._reading.pop(category, None)
        if not task.cancelled() and task.exception() is not None:
            log.debug("listing %s for a preview failed: %s", category, task.exception())  # marks it retrieved


def _with_categories(pool: list[Paper], listed: list[Paper]) -> list[Paper]:
    """*pool*, each paper with the categories an arXiv listing gave it where it had none."""
    categories = {p.id: p.categories for p in listed if p.categories}
    return [p.model_copy(update={"categories": categories[p.id]}) if not p.categories and p.id in categories else p
            for p in pool]
