"""The pipeline: fetch the lists, match channels' topics, and queue what each channel is owed.

This is the one module that joins the paper side (sources, topics) to the delivery
side (the outbox worker and, through it, the adapters).
"""

from __future__ import annotations

import gc
import logging
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Awaitable, Callable, Mapping, Protocol

from bot.arxiv_feeds import CategoryFeeds, CategoryRead
from bot.channel_interest import Interest, InterestStore
from bot.delivery import Adapter
from bot.leaderboard import Leaderboard, LeaderboardStore
from bot.metrics import Metrics
from bot.platforms import Platforms
from bot.lists import CurrentLists, arrivals, as_known, list_fetches, remember_list
from bot.paper import Paper
from bot.picks import Picks, PicksStore
from bot.planning import edit_tag, plan_digest
from bot.schedule import digest_due, is_weekly
from bot.sources import HuggingFaceClient, SourceError
from bot.topics import EveryPaper, Match, PaperText, Query, QueryError, parse_query
from bot.topics.index import TopicIndex
from bot.worker import DeliveryReport, DeliveryStore, DeliveryWorker, utcnow
from bot.rows import Channel

log = logging.getLogger(__name__)
EVERY = EveryPaper()
ARXIV = "arXiv categories"
SETTLED_MAX = 10_000


class PollStore(DeliveryStore, LeaderboardStore, PicksStore, InterestStore, Protocol):
    """What the poll uses: the topics, the cache, the ledger it queues to, and what its worker, leaderboard,
    picks and interest model use (it makes them when not given them)."""


@dataclass(slots=True)
class PollReport:
    """What one poll cycle did, for the CLI and tests."""

    fetched: int = 0
    errors: list[str] = field(default_factory=list)
    baselined: int = 0
    enqueued: list[tuple[Channel, Paper, str]] = field(default_factory=list)
    """(channel, paper, why) newly matched this cycle."""
    categories_read: list[str] = field(default_factory=list)
    """The arXiv categories read this cycle (each at most once per PAPERBOY_ARXIV_INTERVAL)."""
    categories_deferred: list[str] = field(default_factory=list)
    """Categories due but left for the next cycle, whose time for arXiv reads ran out."""
    digests: int = 0
    leaderboards: int = 0
    picks: int = 0
    """Daily picks posts queued this cycle."""
    updates: int = 0
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    causes: set[str] = field(default_factory=set)
    """What the errors are about: two errors with one cause (a host that is down) are one line."""

    def add_error(self, error: SourceError) -> None:
        """Record *error* in one line, unless an error of the same cause is recorded already."""
        if error.cause not in self.causes:
            self.causes.add(error.cause)
            self.errors.append(str(error))

    @property
    def sent(self) -> int:
        return self.delivery.sent

    @property
    def failed(self) -> int:
        return self.delivery.failed

    @property
    def paused(self) -> list[tuple[Channel, str]]:
        return self.delivery.paused


class Poller:
    """Run poll cycles: ``await poller.poll_once()`` fetches, matches, queues and delivers."""

    def __init__(
        self,
        *,
        store: PollStore,
        hf: HuggingFaceClient,
        adapters: Mapping[str, Adapter] | None = None,
        clock: Callable[[], datetime] | None = None,
        max_posts_per_hour: int = 10,
        update_posts: bool = False,
        worker: DeliveryWorker | None = None,
        feeds: CategoryFeeds | None = None,
        metrics: Metrics | None = None,
        interest: Interest | None = None,
    ) -> None:
        self.store = store
        self.hf = hf
        # The registry itself when given one (`bot.app.open_core`): adapters that start later join it.
        self.adapters = adapters if isinstance(adapters, Platforms) else Platforms(adapters or {})
        self.clock = clock or utcnow
        self.max_posts_per_hour = max_posts_per_hour
        self.update_posts = update_posts
        self.metrics = metrics or (worker.metrics if worker else Metrics())
        self.worker = worker or DeliveryWorker(store=store, adapters=self.adapters, clock=self.clock,
                                               metrics=self.metrics)
        self._topic_index: TopicIndex[tuple[int, int]] | None = None
        self._every_paper: list[tuple[int, int]] = []
        """(channel id, topic id) of the ``*`` topics, which match every paper without the index."""
        self._index_signature: tuple[int, int, int] | None = None
        self.feeds = feeds
        """arXiv's category listings, for the topics that name a category (``cat:cs.CL``); None: not read."""
        self._category_topics: dict[tuple[int, int], frozenset[str]] = {}
        """(channel id, topic id) -> the categories that topic names, for the topics that name any."""
        self.interest = interest or Interest(store=store, clock=self.clock)
        self.picks = Picks(store=store, clock=self.clock, interest=self.interest)
        """Daily picks, and the order of digests ranked by interest."""
        self._settled: dict[str, tuple[tuple[int, int, int] | None, Paper]] = {}
        """Paper id -> (topics' signature, the paper) when every match it had then was queued: matching it
        again, unchanged and by the same topics, would find only channels that have it already."""

    async def poll_once(self, *, deliver: bool = True) -> PollReport:
        """Fetch, match, queue and (unless *deliver* is False) deliver once.

        The sources are read at once and each one's papers are matched and queued as they arrive:
        a slow source holds back only itself. `bot.dry_run` runs this on a copy of the database.
        """
        report = PollReport()
        self.metrics.polls.inc()
        lists, now = CurrentLists(), self.clock()
        fetches: dict[str, Awaitable[object]] = {**list_fetches(self.hf)}
        if self.feeds is not None and (wanted := await self._wanted_categories()):
            fetches[ARXIV] = self.feeds.read(wanted, now=now)
        async with aclosing(arrivals(fetches)) as arriving:
            async for name, result in arriving:
                if isinstance(result, CategoryRead):
                    await self._take_categories(result, report, now=self.clock())
                elif isinstance(result, SourceError):
                    lists.add(name, result)
                    report.add_error(result)
                elif isinstance(result, list):
                    lists.add(name, result)
                    await self._take_list(name, result, report, now=self.clock())
                if not deliver:
                    self.worker.wake()  # what this source brought goes out now, not after the slowest
        now = self.clock()
        report.fetched = len(lists.papers())
        if lists.papers() and lists.complete:
            await self._take_baselines(lists.papers(), report, now=now)
        channels = await self.store.list_channels()
        await self._queue_digests(channels, report, now)
        report.leaderboards = await Leaderboard(store=self.store, clock=self.clock).queue_weekly(channels, now=now)
        report.picks = await self.picks.queue_due(channels, now=now)
        await self._record_health(report, now)
        if deliver:
            report.delivery = await self.worker.drain()
        else:
            self.worker.wake()
        return report

    async def _take_list(self, name: str, papers: list[Paper], report: PollReport, *, now: datetime) -> None:
        """Cache the list *name* that just arrived, queue its papers' matches and (if asked) posts' updates."""
        await remember_list(self.store, name, papers, at=now)
        await self._match_papers(await as_known(self.store, papers), report, now=now)
        if self.update_posts:
            await self._queue_updates(papers, report, now)

    async def _record_health(self, report: PollReport, now: datetime) -> None:
        if report.errors:
            self.metrics.poll_errors.inc()
            await self.store.set_state("poll.last_error", "; ".join(report.errors))
            await self.store.set_state("poll.last_error_at", now.isoformat())
        if report.fetched:
            await self.store.set_state("poll.last_ok_at", now.isoformat())

    async def _index(self) -> TopicIndex[tuple[int, int]]:
        """Return the index of every active topic, rebuilt only when the topics changed."""
        signature = await self.store.active_topics_signature()
        if self._topic_index is None or signature != self._index_signature:
            index: TopicIndex[tuple[int, int]] = TopicIndex()
            every_paper: list[tuple[int, int]] = []
            category_topics: dict[tuple[int, int], frozenset[str]] = {}
            parsed: dict[str, Query | None] = {}  # many channels follow the same query: parse it once
            for channel_id, topic_id, text in await self.store.active_topics():
                if text not in parsed:
                    parsed[text] = _parse_stored(text)
                if (query := parsed[text]) is None:
                    continue
                if query.everything:
                    every_paper.append((channel_id, topic_id))
                else:
                    index.add((channel_id, topic_id), query)
                    if categories := query.categories():
                        category_topics[(channel_id, topic_id)] = categories
            self._topic_index, self._index_signature = index, signature
            self._every_paper, self._category_topics = every_paper, category_topics
            # The index lives until the topics change: keep the cyclic collector from
            # walking its hundreds of thousands of objects on every collection.
            gc.collect()
            gc.freeze()
        return self._topic_index

    async def _take_baselines(self, papers: list[Paper], report: PollReport, *, now: datetime) -> None:
        """New topics take their baseline once every list is in and matched, so it never hides a match of
        an older topic. It is what they match now: a paper that misses a filter (upvotes:>=20) is posted once
        it passes. The papers are taken as the cache knows them (with arXiv's categories)."""
        papers = await as_known(self.store, papers)
        for channel_id, topic_ids in (await self.store.topics_awaiting_baseline()).items():
            report.baselined += await self.store.record_baseline(
                channel_id, await self._matching(channel_id, topic_ids, papers), at=now)
            await self.store.mark_baseline_taken(topic_ids)

    async def _wanted_categories(self) -> set[str]:
        """The arXiv categories the active topics name."""
        await self._index()
        return set().union(*self._category_topics.values()) if self._category_topics else set()

    async def _take_categories(self, read: CategoryRead, report: PollReport, *, now: datetime) -> None:
        """Match what the arXiv category reads found new, only to the topics that name a category."""
        report.categories_read, report.categories_deferred = read.read, read.deferred
        for error in read.errors:
            report.add_error(error)
        if read.fresh:
            # A topic without cat: follows Hugging Face's lists only, so arXiv's papers skip it.
            await self._match_papers(read.fresh, report, now=now, only=set(self._category_topics))

    async def _match_papers(self, papers: list[Paper], report: PollReport, *, now: datetime,
                            only: set[tuple[int, int]] | None = None) -> None:
        """Find each channel's new matches among *papers* (by the topics in *only*, if given); hand them over."""
        index = await self._index()
        signature = self._index_signature
        if only is None:  # a paper handled before, unchanged, by the same topics, owes no channel anything new
            papers = [p for p in papers if self._settled.get(p.id) != (signature, p)]
        firsts: list[tuple[Paper, dict[int, tuple[int, str]]]] = []  # paper, {channel: (topic, why)} owed
        for paper in papers:  # one paper at a time: a poll's matches can run to hundreds of thousands
            first: dict[int, tuple[int, Match]] = {}  # channel -> its oldest matching topic
            every = [(key, EVERY.match(paper)) for key in self._every_paper] if only is None else []
            for key, match in chain(every, index.matches(PaperText.of(paper))):  # walked once, not copied
                channel_id, topic_id = key
                if only is not None and key not in only:
                    continue
                if channel_id not in first or topic_id < first[channel_id][0]:
                    first[channel_id] = (topic_id, match)
            # Ask the ledger only about the channels that matched, not about every channel's history.
            fresh = set(first) - await self.store.channels_having(paper.id, list(first))
            firsts.append((paper, _explained({c: first[c] for c in sorted(fresh)})))
        wanted = sorted({c for _, first in firsts for c in first})
        channels = await self.store.get_channels(wanted) if wanted else {}
        found, held = _owed(firsts, channels)
        del firsts[:]  # each match is in *found* now, once
        await self._hand_over(channels, found, {p.id: p for p in papers}, report, now=now)
        if only is None:
            if len(self._settled) > SETTLED_MAX:
                self._settled.clear()  # it only saves work: forget papers long gone from the lists
            self._settled.update((p.id, (signature, p)) for p in papers if p.id not in held)

    async def _matching(self, channel_id: int, topic_ids: list[int], papers: list[Paper]) -> list[str]:
        """The ids of *papers* that any of the channel's topics *topic_ids* (new ones, a few) matches."""
        wanted = set(topic_ids)
        queries = [q for t in await self.store.list_topics(channel_id)
                   if t.id in wanted and (q := _parse_stored(t.query)) is not None]
        return [p.id for p in papers if any(q.match(p) for q in queries)]

    async def _hand_over(self, channels: dict[int, Channel], found: dict[int, list[tuple[str, str, int]]],
                         papers: dict[str, Paper], report: PollReport, *, now: datetime) -> None:
        """Queue every channel's new (paper id, why, topic id) at once: posts where they are posted as found,
        else for the digest."""
        posts, queued = {}, {}
        for channel_id, matches in found.items():
            channel = channels[channel_id]
            (posts if channel.realtime and not channel.digest_time else queued)[channel_id] = matches
        new = await self.store.enqueue_matches(posts, queued, at=now, max_per_hour=self.max_posts_per_hour)
        for channel_id, matches in found.items():
            fresh = set(new.get(channel_id, ()))
            report.enqueued += [(channels[channel_id], papers[p], why) for p, why, _ in matches if p in fresh]

    async def _queue_digests(self, channels: list[Channel], report: PollReport, now: datetime) -> None:
        """Queue the digest of every channel whose digest time has come."""
        for channel in channels:
            scheduled = digest_due(channel, now)
            if scheduled is None:
                continue
            queued = await self.store.queued_deliveries(channel.id)
            papers = await self.store.get_papers([r.paper_id for r in queued])
            ranked = sorted((r.paper_id for r in queued if r.paper_id in papers),
                            key=lambda pid: -(papers[pid].upvotes or 0))
            ranked, cold = await self.picks.digest_order(channel, ranked, papers)
            plan = plan_digest(channel, scheduled, ranked, weekly=is_weekly(channel), cold=cold)
            if plan is None:
                await self.store.update_channel(channel.id, last_digest_at=now)
                continue
            if await self.store.enqueue_digest(channel.id, tag=plan.tag, title=plan.title, top=plan.top,
                                               skipped=plan.skipped, at=now):
                report.digests += 1

    async def _queue_updates(self, papers: list[Paper], report: PollReport, now: datetime) -> None:
        """Queue edits of earlier posts whose paper gained code or passed an upvote milestone."""
        by_id = {p.id: p for p in papers}
        for card in await self.store.posted_cards(list(by_id)):
            if (tag := edit_tag(card, by_id[card.paper_id])) is not None:
                if await self.store.enqueue_update(card.channel_id, card.paper_id, target_ref=card.message_ref,
                                                   tag=tag, at=now):
                    report.updates += 1


def _explained(first: dict[int, tuple[int, Match]]) -> dict[int, tuple[int, str]]:
    """Each channel's (topic id, why): channels sharing a query share one `Match`, explained once."""
    whys: dict[int, str] = {}  # id(match) -> why; the matches live in *first* meanwhile
    explained = {}
    for channel_id, (topic_id, match) in first.items():
        why = whys.get(id(match))
        if why is None:
            why = whys[id(match)] = match.explain()
        explained[channel_id] = (topic_id, why)
    return explained


def _owed(firsts: list[tuple[Paper, dict[int, tuple[int, str]]]], channels: dict[int, Channel],
          ) -> tuple[dict[int, list[tuple[str, str, int]]], set[str]]:
    """Each channel's (paper id, why, topic id) owed, by the channel's upvote floor; and the papers a floor held
    back."""
    found: dict[int, list[tuple[str, str, int]]] = {}
    held: set[str] = set()
    for paper, first in firsts:
        for channel_id, (topic_id, why) in first.items():
            channel = channels.get(channel_id)
            if channel is None:
                continue
            if (paper.upvotes or 0) < channel.min_upvotes:
                held.add(paper.id)  # matched again next poll: it may have the upvotes then
                continue
            found.setdefault(channel_id, []).append((paper.id, why, topic_id))
    return found, held


def _parse_stored(text: str) -> Query | None:
    """Parse a stored topic; one that no longer parses (the language changed) is skipped, loudly."""
    try:
        return parse_query(text)
    except QueryError:
        log.warning("stored topic %r no longer parses; skipping it", text)
        return None
