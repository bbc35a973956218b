"""Paper look-ups as a service: the sources asked within a deadline, with the cache to fall back on.

The composition root (`bot.runtime.app.open_core`) builds one `Lookups` and hands it to the engine,
which hands it to every collaborator that looks papers up (`show`, `save`, `similar`, 👎, `week`,
`preview`, `status`…), so they share its in-flight requests and its one way of saying what went wrong.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Awaitable, Callable, TypeVar

from bot.commands.answers import fallback_note
from bot.sources.lists import CurrentLists, cached_lists, fetch_lists, remember_lists
from bot.model.paper import Paper
from bot.sources import ArxivClient, HuggingFaceClient, PaperNotFound, SourceError
from bot.ports.store import PaperStore

log = logging.getLogger(__name__)

T = TypeVar("T")


class Lookups:
    """Fetch papers and lists from Hugging Face (then arXiv) within a deadline, caching what comes back."""

    def __init__(self, *, store: PaperStore, hf: HuggingFaceClient, arxiv: ArxivClient | None = None, clock: Callable[[], datetime],
                 answer_timeout: float = 2.5, cache_patience: float = 1.0) -> None:
        self.store = store
        self.hf = hf
        self.arxiv = arxiv
        self.clock = clock
        self.answer_timeout = answer_timeout
        self.cache_patience = cache_patience
        self._inflight: dict[str, asyncio.Future] = {}

    def source_notes(self) -> list[str]:
        """Say which sources are being waited for (a rate limit, a back-off), one line each."""
        sources = (self.hf, self.arxiv) if self.arxiv else (self.hf,)
        return [note for source in sources if (note := source.waiting())]

    async def fresh(
        self, key: str, fetch: Callable[[], Awaitable[T]], *, have_cache: bool = False,
        list_name: str | None = None,
    ) -> tuple[T | None, str | None]:
        """Fetch and cache within the deadline; on failure return None and what went wrong, in one line.

        Concurrent commands asking for the same *key* share one request (and one cache
        write), so a crowd typing the same look-up costs the source one call. With
        *have_cache*, the wait is short: a slow source should not hold back an answer
        the cache can give. A fetch that misses the deadline goes on in the background,
        so the cache is fresh for the next person.
        """
        task = self._inflight.get(key)
        if task is None:
            task = self._inflight[key] = asyncio.ensure_future(self._fetch_and_remember(fetch, list_name))
            task.add_done_callback(lambda done: self._settled(key, done))
        patience = min(self.cache_patience, self.answer_timeout) if have_cache else self.answer_timeout
        try:
            return await asyncio.wait_for(asyncio.shield(task), patience), None
        except PaperNotFound:
            raise
        except asyncio.TimeoutError:
            # Retries may still be going on; the attempts so far say why better than the clock does.
            reason = self.hf.recent_failure() or f"no answer within {patience:g} s"
            return None, f"cannot reach Hugging Face at {self.hf.base_url}: {reason}"
        except SourceError as error:
            return None, str(error)

    async def _fetch_and_remember(self, fetch: Callable[[], Awaitable[T]], list_name: str | None) -> T:
        result = await fetch()
        now = self.clock()
        if isinstance(result, CurrentLists):
            await remember_lists(self.store, result, at=now)
        elif isinstance(result, Paper):
            await self.store.save_papers([result])
        elif isinstance(result, list):
            await self.store.save_papers(result)
            if list_name:
                await self.store.save_list(list_name, [p.id for p in result], at=now)
        return result

    def _settled(self, key: str, task: asyncio.Future) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.debug("look-up %s failed: %s", key, task.exception())  # also marks it retrieved

    async def current_lists(self) -> tuple[CurrentLists | None, str | None]:
        """Return today's and the trending lists (fresh, or None) and a one-line note on what failed."""
        cached = await cached_lists(self.store)
        lists, note = await self.fresh("lists", lambda: fetch_lists(self.hf), have_cache=bool(cached))
        if lists is not None and lists.errors:
            note = f"{lists.errors[0]}; showing what could be fetched"
        elif lists is None:
            note = fallback_note(note, cached=bool(cached))
        return lists, note

    async def look_up(self, paper_id: str) -> tuple[Paper | None, str | None, Paper | None]:
        """Fetch *paper_id* as `show` does (Hugging Face, then arXiv) and cache it.

        Return (the fresh paper or None, a one-line note, the paper as cached before the call).
        """
        cached = await self.store.get_paper(paper_id)
        try:
            paper, note = await self.fresh(f"paper:{paper_id}", lambda: self.hf.paper(paper_id),
                                           have_cache=cached is not None)
            if paper is not None:
                # The paper endpoint lacks what only daily lists carry (comments); the cache merged both.
                paper = await self.store.get_paper(paper_id) or paper
        except PaperNotFound:
            paper, note = (await self._from_arxiv(paper_id) if self.arxiv
                           else (None, f"No paper {paper_id} on Hugging Face Papers."))
            if paper is not None:
                await self.store.save_papers([paper])
        return paper, note, cached

    async def _from_arxiv(self, paper_id: str) -> tuple[Paper | None, str | None]:
        assert self.arxiv is not None
        try:
            return await self.arxiv.paper(paper_id), "Not on Hugging Face Papers; details from arXiv."
        except PaperNotFound:
            return None, f"No paper {paper_id} on Hugging Face Papers or arXiv."
        except SourceError as error:
            return None, f"{paper_id} is not on Hugging Face Papers, and arXiv failed: {error}"
