"""The pipeline: fetch the lists, match channels' topics, and queue what each channel is owed.

This is the one module that joins the paper side (sources, topics) to the delivery
side (the outbox worker and, through it, the adapters).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable, Mapping, Protocol

from bot.topics.active import ActiveTopics, parse_stored
from bot.sources.arxiv_feeds import CategoryFeeds, CategoryRead
from bot.ranking.channel_interest import Interest, InterestStore
from bot.runtime.collector import collector_paused
from bot.ports.adapter import Adapter
from bot.commands.leaderboard import Leaderboard, LeaderboardStore
from bot.runtime.metrics import Metrics
from bot.ports.platforms import Platforms
from bot.sources.lists import CurrentLists, arrivals, as_known, list_fetches, remember_list
from bot.model.paper import Paper
from bot.commands.picks import Picks, PicksStore
from bot.delivery.planning import edit_tag, plan_digest
from bot.delivery.schedule import digest_due, is_weekly
from bot.delivery.settled import Settled
from bot.sources import HuggingFaceClient, SourceError
from bot.topics import EveryPaper, PaperText
from bot.topics.index import Matches, TopicIndex
from bot.delivery.worker import DeliveryReport, DeliveryStore, DeliveryWorker, utcnow
from bot.model.rows import Channel

log = logging.getLogger(__name__)
EVERY = EveryPaper()
ARXIV = "arXiv categories"
EVERY_POSITION = -1
"""Where a ``*`` topic's match is, beside the positions of the index's matched queries."""


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
        # The registry itself when given one (`bot.runtime.app.open_core`): adapters that start later join it.
        self.adapters = adapters if isinstance(adapters, Platforms) else Platforms(adapters or {})
        self.clock = clock or utcnow
        self.max_posts_per_hour = max_posts_per_hour
        self.update_posts = update_posts
        self.metrics = metrics or (worker.metrics if worker else Metrics())
        self.worker = worker or DeliveryWorker(store=store, adapters=self.adapters, clock=self.clock,
                                               metrics=self.metrics)
        self.topics = ActiveTopics()
        """The active topics' index, the ``*`` topics and the topics that name categories, updated as they change."""
        self.feeds = feeds
        """arXiv's category listings, for the topics that name a category (``cat:cs.CL``); None: not read."""
        self.interest = interest or Interest(store=store, clock=self.clock)
        self.picks = Picks(store=store, clock=self.clock, interest=self.interest)
        """Daily picks, and the order of digests ranked by interest."""
        self.settled = Settled()
        """The papers every match of which was queued: matching them again, unchanged and by the same topics,
        would find only channels that have them already. Saved for the next process."""
        self._refreshing: asyncio.Future[None] | None = None
        """This poll's reading of the topics: once a poll, while the lists are on their way."""

    async def poll_once(self, *, deliver: bool = True) -> PollReport:
        """Fetch, match, queue and (unless *deliver* is False) deliver once.

        The sources are read at once and each one's papers are matched and queued as they arrive:
        a slow source holds back only itself. `bot.delivery.dry_run` runs this on a copy of the database.
        """
        report = PollReport()
        self.metrics.polls.inc()
        self._refreshing = None
        lists, now = CurrentLists(), self.clock()
        fetches: dict[str, Awaitable[object]] = {**list_fetches(self.hf), ARXIV: self._read_categories(now)}
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
        channels = await self.store.scheduled_channels()  # not every channel: most have nothing scheduled
        await self._queue_digests(channels, report, now)
        report.leaderboards = await Leaderboard(store=self.store, clock=self.clock).queue_weekly(channels, now=now)
        report.picks = await self.picks.queue_due(channels, now=now)
        await self._record_health(report, now)
        await self.settled.save(self.store)
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

    async def warm(self) -> None:
        """Read the topics and build their index now, at start-up, rather than in the first poll."""
        await self.topics.refresh(self.store)

    async def _index(self) -> TopicIndex[tuple[int, int]]:
        """Return the index of every active topic, brought up to date with the topics that changed.

        Once a poll: a topic added since has its baseline still to take, so it matches nothing yet."""
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self.topics.refresh(self.store))
        await asyncio.shield(self._refreshing)
        return self.topics.index

    async def _take_baselines(self, papers: list[Paper], report: PollReport, *, now: datetime) -> None:
        """New topics take their baseline once every list is in and matched, so it never hides a match of
        an older topic. It is what they match now: a paper that misses a filter (upvotes:>=20) is posted once
        it passes. The papers are taken as the cache knows them (with arXiv's categories)."""
        papers = await as_known(self.store, papers)
        for channel_id, topic_ids in (await self.store.topics_awaiting_baseline()).items():
            report.baselined += await self.store.record_baseline(
                channel_id, await self._matching(channel_id, topic_ids, papers), at=now)
            await self.store.mark_baseline_taken(topic_ids)

    async def _read_categories(self, now: datetime) -> CategoryRead | None:
        """Bring the topics' index up to date while the lists are on their way, then read the arXiv categories
        they name (None: no feeds, or no topic names one)."""
        await self._index()
        wanted = set().union(*self.topics.categories.values())
        return await self.feeds.read(wanted, now=now) if self.feeds is not None and wanted else None

    async def _take_categories(self, read: CategoryRead, report: PollReport, *, now: datetime) -> None:
        """Match what the arXiv category reads found new, only to the topics that name a category."""
        report.categories_read, report.categories_deferred = read.read, read.deferred
        for error in read.errors:
            report.add_error(error)
        if read.fresh:
            # A topic without cat: follows Hugging Face's lists only, so arXiv's papers skip it.
            await self._match_papers(read.fresh, report, now=now, only=set(self.topics.categories))

    async def _match_papers(self, papers: list[Paper], report: PollReport, *, now: datetime,
                            only: set[tuple[int, int]] | None = None) -> None:
        """Find each channel's new matches among *papers* (by the topics in *only*, if given); hand them over."""
        with collector_paused():  # 10^5 short-lived objects, no cycles: nothing for the collector to find
            await self._match_and_hand_over(papers, report, now=now, only=only)

    async def _match_and_hand_over(self, papers: list[Paper], report: PollReport, *, now: datetime,
                                   only: set[tuple[int, int]] | None) -> None:
        index = await self._index()
        signature = self.topics.signature
        if only is None:  # a paper handled before, unchanged, by the same topics, owes no channel anything new
            await self.settled.load(self.store)
            papers = self.settled.unsettled(papers, signature)
        firsts: list[tuple[Paper, dict[int, tuple[int, str]]]] = []  # paper, {channel: (topic, why)} owed
        asking: list[tuple[asyncio.Future[set[int]], Paper, Matches[tuple[int, int]], dict[int, tuple[int, int]]]] = []
        try:
            for paper in papers:  # one paper at a time: a poll's matches can run to hundreds of thousands
                found = index.matches(PaperText.of(paper))
                first = self._firsts(found, only)
                # Ask the ledger only about the channels that matched, and match the next paper meanwhile.
                asking.append((asyncio.ensure_future(self.store.channels_having(paper.id, sorted(first))),
                               paper, found, first))
                if len(asking) > 1:
                    firsts.append(await _answered(*asking.pop(0)))
            while asking:
                firsts.append(await _answered(*asking.pop(0)))
        finally:
            for asked, *_ in asking:
                asked.cancel()  # the poll failed or was cancelled: no question outlives it
        wanted = sorted({c for _, first in firsts for c in first})
        channels = await self.store.get_channels(wanted) if wanted else {}
        found_by_channel, held = _owed(firsts, channels)
        del firsts[:]  # each match is in *found_by_channel* now, once
        await self._hand_over(channels, found_by_channel, {p.id: p for p in papers}, report, now=now)
        if only is None:
            self.settled.add((p for p in papers if p.id not in held), signature)

    def _firsts(self, found: Matches[tuple[int, int]], only: set[tuple[int, int]] | None,
                ) -> dict[int, tuple[int, int]]:
        """Each matching channel's oldest matching topic, and where its match is: the position of its query in
        *found*, or `EVERY_POSITION` for ``*``. No `Match` is made: most channels have the paper already."""
        first: dict[int, tuple[int, int]] = {}
        if only is None:
            for channel_id, topic_id in self.topics.every_paper:
                if channel_id not in first or topic_id < first[channel_id][0]:
                    first[channel_id] = (topic_id, EVERY_POSITION)
        for position, keys in found.groups():
            for key in keys:
                channel_id, topic_id = key
                if only is not None and key not in only:
                    continue
                if channel_id not in first or topic_id < first[channel_id][0]:
                    first[channel_id] = (topic_id, position)
        return first

    async def _matching(self, channel_id: int, topic_ids: list[int], papers: list[Paper]) -> list[str]:
        """The ids of *papers* that any of the channel's topics *topic_ids* (new ones, a few) matches."""
        wanted = set(topic_ids)
        queries = [q for t in await self.store.list_topics(channel_id)
                   if t.id in wanted and (q := parse_stored(t.query)) is not None]
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


async def _answered(asked: asyncio.Future[set[int]], paper: Paper, found: Matches[tuple[int, int]],
                    first: dict[int, tuple[int, int]]) -> tuple[Paper, dict[int, tuple[int, str]]]:
    """The paper and its explained matches, once the ledger has said which channels have it already."""
    return paper, _explained(paper, found, first, await asked)


def _explained(paper: Paper, found: Matches[tuple[int, int]], first: dict[int, tuple[int, int]],
               having: set[int]) -> dict[int, tuple[int, str]]:
    """Each channel of *first* not *having* the paper yet, with its (topic id, why): channels sharing a query
    share its explanation, worked out once."""
    whys: dict[int, str] = {}  # position of the query in *found* -> why
    explained = {}
    for channel_id in sorted(first.keys() - having):
        topic_id, position = first[channel_id]
        why = whys.get(position)
        if why is None:
            match = EVERY.match(paper) if position == EVERY_POSITION else found.match_at(position)
            why = whys[position] = match.explain()  # type: ignore[union-attr]
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
