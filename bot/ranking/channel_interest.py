"""A channel's (or a person's) interest at work: its signals, its candidates, and them ranked with the why.

`bot.ranking.interest` learns and ranks; this module feeds it from storage. The signals of a channel are
the 👍 and saves made there (positive) and its 👎 (negative); in a direct message they are the
person's whole reading list and their own 👍/👎 there. The candidates are what the cache holds of
the trending list, the last days of Daily Papers and the recent arXiv submissions of the
categories the channel's topics name, less what the channel already has or signalled. Until the
signals hold `MIN_POSITIVES` positives, candidates are ranked by upvotes and the answer says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Protocol

from bot.ranking.interest import MIN_POSITIVES, ModelCache, Ranked, Signalled
from bot.model.paper import Paper
from bot.model.rows import Channel, Reader
from bot.ports.store import ChannelStore, CommunityStore, LedgerStore, PaperStore
from bot.topics import QueryError, parse_query

CANDIDATE_DAYS = 7
"""Days of Daily Papers and of arXiv submissions a channel's candidates come from."""
MAX_RECENT = 5000
"""Recent arXiv submissions read from the cache at most, for every channel's candidates at once."""
TITLE_CHARS = 70


class InterestStore(ChannelStore, PaperStore, LedgerStore, CommunityStore, Protocol):
    """What the interest model uses: the channel's topics, the candidate papers, what it had, and its signals."""


@dataclass(frozen=True, slots=True)
class Pool:
    """The papers every channel's candidates come from, read once for many channels."""

    lists: tuple[Paper, ...]
    """The trending list and the last days of Daily Papers."""
    recent: tuple[Paper, ...]
    """Recent arXiv submissions in the cache (kept for the channels whose topics name their categories)."""

    def for_categories(self, categories: Iterable[str]) -> list[Paper]:
        """The lists' papers and the recent submissions in *categories* (``cs.*`` is a prefix), once each."""
        wanted = tuple(categories)
        found = [p for p in self.recent if any(_in_category(p, c) for c in wanted)] if wanted else []
        return list({p.id: p for p in [*self.lists, *found]}.values())


@dataclass(frozen=True, slots=True)
class Ranking:
    """A channel's candidates best first, each with its why, and the cold-start line (None: its own model)."""

    papers: tuple[tuple[Paper, str | None], ...]
    cold: str | None = None


class Interest:
    """Rank candidates for channels and people with one bounded `ModelCache` shared by commands and the poller."""

    def __init__(self, *, store: InterestStore, clock: Callable[[], datetime], cache: ModelCache | None = None) -> None:
        self.store = store
        self.clock = clock
        self.cache = cache or ModelCache()

    async def pool(self) -> Pool:
        """Read the trending list, the recent Daily Papers and arXiv submissions from the cache."""
        now = self.clock()
        trending, _ = await self.store.get_list("trending")
        daily = await self.store.papers_since(now.date() - timedelta(days=CANDIDATE_DAYS))
        recent = await self.store.recent_papers(now - timedelta(days=CANDIDATE_DAYS), limit=MAX_RECENT)
        lists = {p.id: p for p in [*trending, *daily]}
        return Pool(tuple(lists.values()), tuple(p for p in recent if p.id not in lists))

    async def signalled(self, channel: Channel, reader: Reader | None = None) -> list[Signalled]:
        """The channel's signals (a person's, with *reader*: their direct message), for the papers the cache has."""
        rows = (await self.store.reader_signals(reader, channel.id) if reader
                else await self.store.channel_signals(channel.id))
        papers = await self.store.get_papers([r.paper_id for r in rows])
        return [Signalled(papers[r.paper_id], r.positive, r.negative) for r in rows if r.paper_id in papers]

    async def categories(self, channel: Channel) -> frozenset[str]:
        """The arXiv categories the channel's topics name."""
        found: set[str] = set()
        for topic in await self.store.list_topics(channel.id):
            try:
                found |= parse_query(topic.query).categories()
            except QueryError:
                continue
        return frozenset(found)

    async def rank(self, channel: Channel, *, reader: Reader | None = None, pool: Pool | None = None) -> Ranking:
        """The channel's new candidates (none it has or signalled) best first, with the why of each."""
        pool = pool or await self.pool()
        everything = pool.for_categories(await self.categories(channel))
        signalled = await self.signalled(channel, reader)
        known = await self.store.ledger_paper_ids(channel.id) | {s.paper.id for s in signalled}
        candidates = [p for p in everything if p.id not in known]
        return await self.order(channel, candidates, signalled=signalled, reader=reader, background=everything)

    async def standing(self, channel: Channel, paper: Paper) -> tuple[int, int, float | None, str | None]:
        """Where *paper* ranks among the channel's candidates now, as `rank` would put it, even if the channel
        has it: (rank from 1, of how many, the model's score or None while ranked by upvotes, cold-start line)."""
        pool = await self.pool()
        everything = pool.for_categories(await self.categories(channel))
        signalled = await self.signalled(channel)
        known = await self.store.ledger_paper_ids(channel.id) | {s.paper.id for s in signalled}
        candidates = [p for p in everything if p.id not in known and p.id != paper.id] + [paper]
        positives = sum(max(s.positive, 0) for s in signalled)
        if positives < MIN_POSITIVES:
            ranking = await self.order(channel, candidates, signalled=signalled)
            place = next(n for n, (p, _) in enumerate(ranking.papers, 1) if p.id == paper.id)
            return place, len(candidates), None, ranking.cold
        ranked = await asyncio.to_thread(self._rank, channel.id, signalled, everything or candidates, candidates)
        place, found = next((n, r) for n, r in enumerate(ranked, 1) if r.paper.id == paper.id)
        return place, len(candidates), found.score, None

    async def order(self, channel: Channel, candidates: Sequence[Paper], *,
                    signalled: Sequence[Signalled] | None = None, reader: Reader | None = None,
                    background: Sequence[Paper] = ()) -> Ranking:
        """*candidates* in the channel's order: its model's, or upvotes' until it has enough positives."""
        if signalled is None:
            signalled = await self.signalled(channel, reader)
        positives = sum(max(s.positive, 0) for s in signalled)
        if positives < MIN_POSITIVES:
            by_upvotes = sorted(candidates, key=lambda p: (-(p.upvotes or 0), p.id))
            return Ranking(tuple((p, None) for p in by_upvotes), cold_start_line(positives, person=reader is not None))
        scope: Hashable = (channel.id, reader.user_id) if reader else channel.id
        ranked = await asyncio.to_thread(self._rank, scope, signalled, background or candidates, candidates)
        return Ranking(tuple((r.paper, why(r)) for r in ranked))

    def _rank(self, scope: Hashable, signalled: Sequence[Signalled], background: Sequence[Paper],
              candidates: Sequence[Paper]) -> list[Ranked]:
        # CPU work (training when the signals changed, then ranking): off the event loop.
        return self.cache.get(scope, signalled, background).rank(candidates)


def why(ranked: Ranked) -> str | None:
    """Say, in words a person checks at a glance, why a paper ranks where it does."""
    parts = [f"close to: “{_short(paper.title)}”, 👍 by {count}" for paper, count in ranked.close_to]
    if ranked.terms:
        parts.append("weighs: " + ", ".join(ranked.terms))
    return "; ".join(parts) or None


def cold_start_line(positives: int, *, person: bool = False) -> str:
    """The one line that says the ranking is upvotes' for now, and how far the signals are."""
    if person:
        return (f"Ranked by upvotes until you have {MIN_POSITIVES} 👍 or saves; you have {positives}.")
    return f"Ranked by upvotes until this channel has {MIN_POSITIVES} 👍 or saves; it has {positives}."


def _short(title: str) -> str:
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1].rstrip() + "…"


def _in_category(paper: Paper, category: str) -> bool:
    if category.endswith("*"):
        return any(c.startswith(category[:-1]) for c in paper.categories)
    return category in paper.categories
