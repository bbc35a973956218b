"""The two Hugging Face lists Paperboy watches: trending and the newest Daily Papers."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import AsyncIterator, Awaitable, TypeVar

from bot.model.paper import Paper
from bot.sources import HuggingFaceClient, SourceError
from bot.ports.store import PaperStore

TRENDING_LIMIT = 50
DAILY_LIMIT = 100
T = TypeVar("T")


@dataclass(slots=True)
class CurrentLists:
    """What the lists hold right now, and what failed while fetching them (one error per cause)."""

    trending: list[Paper] = field(default_factory=list)
    daily: list[Paper] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    causes: set[str] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        return not self.errors

    def papers(self) -> list[Paper]:
        """Every paper in either list, once, trending first."""
        seen: dict[str, Paper] = {}
        for paper in (*self.trending, *self.daily):
            seen.setdefault(paper.id, paper)
        return list(seen.values())

    def add(self, name: str, result: list[Paper] | SourceError) -> None:
        """Keep the list *name* as fetched, or why it could not be (unless that cause is already kept)."""
        if not isinstance(result, SourceError):
            setattr(self, name, result)
        elif result.cause not in self.causes:
            self.causes.add(result.cause)
            self.errors.append(str(result))


async def arrivals(fetches: dict[str, Awaitable[T]]) -> AsyncIterator[tuple[str, T | SourceError]]:
    """Run *fetches* at once and yield each (name, result or its `SourceError`) as it completes.

    Use it under ``contextlib.aclosing``: leaving early cancels the fetches still running.
    """
    async def named(name: str, fetch: Awaitable[T]) -> tuple[str, T | SourceError]:
        try:
            return name, await fetch
        except SourceError as error:
            return name, error

    tasks = [asyncio.ensure_future(named(name, fetch)) for name, fetch in fetches.items()]
    try:
        for arrival in asyncio.as_completed(tasks):
            yield await arrival
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def list_fetches(hf: HuggingFaceClient) -> dict[str, Awaitable[list[Paper]]]:
    """The requests for the two lists, by name."""
    return {"trending": hf.trending(limit=TRENDING_LIMIT), "daily": hf.daily(limit=DAILY_LIMIT)}


async def fetch_lists(hf: HuggingFaceClient) -> CurrentLists:
    """Fetch the trending list and the newest daily papers concurrently."""
    lists = CurrentLists()
    async with aclosing(arrivals(list_fetches(hf))) as arriving:
        async for name, result in arriving:
            lists.add(name, result)
    return lists


async def remember_list(store: PaperStore, name: str, papers: list[Paper], *, at: datetime) -> None:
    """Cache the papers of the list *name* and its order, as soon as it arrives."""
    await store.save_papers(papers)
    if papers:
        await store.save_list(name, [p.id for p in papers], at=at)


async def remember_lists(store: PaperStore, lists: CurrentLists, *, at: datetime) -> None:
    """Cache every paper in *lists* and the lists' order, so look-ups survive an outage."""
    await store.save_papers(lists.papers())
    if lists.trending:
        await store.save_list("trending", [p.id for p in lists.trending], at=at)
    if lists.daily:
        await store.save_list("daily", [p.id for p in lists.daily], at=at)


async def as_known(store: PaperStore, papers: list[Paper]) -> list[Paper]:
    """*papers* as the cache knows them: merged with what other sources said (arXiv's categories)."""
    known = await store.get_papers([p.id for p in papers])
    return [known.get(p.id, p) for p in papers]


async def cached_lists(store: PaperStore) -> list[Paper]:
    """The papers of the last lists fetched, trending first, each once."""
    trending, _ = await store.get_list("trending")
    daily, _ = await store.get_list("daily")
    return CurrentLists(trending=trending, daily=daily).papers()
