"""The two Hugging Face lists Paperboy watches: trending and the newest Daily Papers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from bot.paper import Paper
from bot.sources import HuggingFaceClient, SourceError
from bot.store import Store

TRENDING_LIMIT = 50
DAILY_LIMIT = 100


@dataclass(slots=True)
class CurrentLists:
    """What the lists hold right now, and what failed while fetching them."""

    trending: list[Paper] = field(default_factory=list)
    daily: list[Paper] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.errors

    def papers(self) -> list[Paper]:
        """Every paper in either list, once, trending first."""
        seen: dict[str, Paper] = {}
        for paper in (*self.trending, *self.daily):
            seen.setdefault(paper.id, paper)
        return list(seen.values())


async def fetch_lists(hf: HuggingFaceClient) -> CurrentLists:
    """Fetch the trending list and the newest daily papers concurrently."""
    trending, daily = await asyncio.gather(
        hf.trending(limit=TRENDING_LIMIT), hf.daily(limit=DAILY_LIMIT), return_exceptions=True
    )
    lists = CurrentLists()
    for name, result in (("trending", trending), ("daily", daily)):
        if isinstance(result, SourceError):
            lists.errors.append(str(result))
        elif isinstance(result, BaseException):
            raise result
        else:
            setattr(lists, name, result)
    return lists


async def remember_lists(store: Store, lists: CurrentLists, *, at: datetime) -> None:
    """Cache every paper in *lists* and the lists' order, so look-ups survive an outage."""
    await store.save_papers(lists.papers())
    if lists.trending:
        await store.save_list("trending", [p.id for p in lists.trending], at=at)
    if lists.daily:
        await store.save_list("daily", [p.id for p in lists.daily], at=at)


async def as_known(store: Store, papers: list[Paper]) -> list[Paper]:
    """*papers* as the cache knows them: merged with what other sources said (arXiv's categories)."""
    known = await store.get_papers([p.id for p in papers])
    return [known.get(p.id, p) for p in papers]


async def cached_lists(store: Store) -> list[Paper]:
    """The papers of the last lists fetched, trending first, each once."""
    trending, _ = await store.get_list("trending")
    daily, _ = await store.get_list("daily")
    return CurrentLists(trending=trending, daily=daily).papers()
