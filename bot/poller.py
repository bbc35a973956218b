"""The pipeline: fetch the lists, match channels' topics, record and deliver posts.

This is the one module that sees both the paper side (sources, topics) and the
delivery side (adapters). Adapters are looked up by platform name.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

from bot.delivery import Adapter, DeliveryResult, DeliveryStatus
from bot.lists import CurrentLists, fetch_lists, remember_lists
from bot.paper import Paper
from bot.replies import PaperCard, PaperList, Post
from bot.schedule import digest_due
from bot.sources import HuggingFaceClient
from bot.topics import Query, QueryError, parse_query
from storage import Store
from storage.models import Channel, Delivery, Topic

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(slots=True)
class PollReport:
    """What one poll cycle did, for the CLI and tests."""

    fetched: int = 0
    errors: list[str] = field(default_factory=list)
    baselined: int = 0
    enqueued: list[tuple[Channel, Paper, str]] = field(default_factory=list)
    """(channel, paper, why) newly matched this cycle."""
    sent: int = 0
    failed: int = 0
    paused: list[tuple[Channel, str]] = field(default_factory=list)
    digests: int = 0


class Poller:
    """Run poll cycles: ``await poller.poll_once()``."""

    def __init__(
        self,
        *,
        store: Store,
        hf: HuggingFaceClient,
        adapters: Mapping[str, Adapter] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.hf = hf
        self.adapters: dict[str, Adapter] = dict(adapters or {})
        self.clock = clock or utcnow
        self._queries: dict[str, Query | None] = {}

    async def poll_once(self, *, dry_run: bool = False) -> PollReport:
        """Fetch, match, record and deliver once. With *dry_run*, record and send nothing."""
        report = PollReport()
        lists = await fetch_lists(self.hf)
        now = self.clock()
        report.errors = lists.errors
        report.fetched = len(lists.papers())
        if not dry_run:
            await remember_lists(self.store, lists, at=now)
        if lists.papers():
            for channel, topics in await self.store.channels_with_topics():
                if not channel.paused_reason:
                    await self._match_channel(channel, topics, lists, report, dry_run=dry_run, now=now)
        if not dry_run:
            await self.deliver_due(report)
            await self.send_due_digests(report)
            await self._record_health(report, now)
        return report

    async def _record_health(self, report: PollReport, now: datetime) -> None:
        if report.errors:
            await self.store.set_state("poll.last_error", "; ".join(report.errors))
            await self.store.set_state("poll.last_error_at", now.isoformat())
        if report.fetched:
            await self.store.set_state("poll.last_ok_at", now.isoformat())

    def _query(self, text: str) -> Query | None:
        if text not in self._queries:
            try:
                self._queries[text] = parse_query(text)
            except QueryError:
                log.warning("stored topic %r no longer parses; skipping it", text)
                self._queries[text] = None
        return self._queries[text]

    async def _match_channel(
        self, channel: Channel, topics: list[Topic], lists: CurrentLists,
        report: PollReport, *, dry_run: bool, now: datetime,
    ) -> None:
        active = [(t, q) for t in topics if t.baseline_taken and (q := self._query(t.query))]
        seen = await self.store.ledger_paper_ids(channel.id)
        state = "pending" if channel.realtime and not channel.digest_time else "queued"
        for paper in lists.papers():
            if paper.id in seen or (paper.upvotes or 0) < channel.min_upvotes:
                continue
            for topic, query in active:
                match = query.match(paper)
                if match is None:
                    continue
                why = match.explain()
                added = dry_run or await self.store.enqueue(
                    channel.id, paper.id, state=state, why=why, topic_id=topic.id, at=now)
                if added:
                    report.enqueued.append((channel, paper, why))
                break
        # New topics take their baseline after matching, so it never hides a match of an older topic.
        fresh = [t.id for t in topics if not t.baseline_taken]
        if fresh and lists.complete and not dry_run:
            report.baselined += await self.store.record_baseline(
                channel.id, [p.id for p in lists.papers()], at=now)
            await self.store.mark_baseline_taken(fresh)

    # -- delivery -----------------------------------------------------------------------

    async def deliver_due(self, report: PollReport | None = None) -> PollReport:
        """Send every pending delivery that is due, channels in parallel, each channel in order."""
        report = report or PollReport()
        by_channel: dict[int, list[Delivery]] = {}
        for row in await self.store.due_deliveries(now=self.clock()):
            by_channel.setdefault(row.channel_id, []).append(row)
        await asyncio.gather(*(self._deliver_channel(cid, rows, report) for cid, rows in by_channel.items()))
        return report

    async def _deliver_channel(self, channel_id: int, rows: list[Delivery], report: PollReport) -> None:
        channel = await self.store.get_channel_by_id(channel_id)
        adapter = self.adapters.get(channel.ref.platform) if channel else None
        if channel is None or adapter is None:
            return  # that platform is not running in this process; its rows wait for it
        papers = await self.store.get_papers([r.paper_id for r in rows])
        for row in rows:
            paper = papers.get(row.paper_id)
            if paper is None:
                continue
            post = Post(PaperCard(paper, row.why), tag=f"paper:{paper.id}", paper_ids=(paper.id,))
            result = await self._send(adapter, channel, post)
            if not await self._settle(channel, [row], result, report):
                return

    async def send_due_digests(self, report: PollReport | None = None) -> PollReport:
        """Send the digest of every channel whose digest time has come."""
        report = report or PollReport()
        now = self.clock()
        for channel in await self.store.list_channels():
            scheduled = digest_due(channel, now)
            adapter = self.adapters.get(channel.ref.platform)
            if scheduled is None or adapter is None:
                continue
            queued = await self.store.queued_deliveries(channel.id)
            papers = await self.store.get_papers([r.paper_id for r in queued])
            queued = [r for r in queued if r.paper_id in papers]
            ranked = sorted(queued, key=lambda r: -(papers[r.paper_id].upvotes or 0))
            top, rest = ranked[: channel.top_n], ranked[channel.top_n:]
            if top:
                cards = tuple(PaperCard(papers[r.paper_id], r.why) for r in top)
                title = f"Paperboy digest for {scheduled:%a %d %b}: {len(top)} new papers"
                if rest:
                    title += f" (top {len(top)} of {len(queued)})"
                post = Post(PaperList(title, cards), tag=f"digest:{scheduled:%Y-%m-%d}",
                            paper_ids=tuple(r.paper_id for r in top))
                result = await self._send(adapter, channel, post)
                if not await self._settle(channel, top, result, report):
                    continue
                await self.store.mark_skipped([r.id for r in rest])
                report.digests += 1
            await self.store.update_channel(channel.id, last_digest_at=now)
        return report

    async def _send(self, adapter: Adapter, channel: Channel, post: Post) -> DeliveryResult:
        try:
            return await adapter.send(channel.ref, post)
        except Exception as error:  # an adapter bug must not stop the other channels
            log.exception("sending %s to %s failed", post.tag, channel.ref)
            return DeliveryResult(DeliveryStatus.TRANSIENT, reason=f"{type(error).__name__}: {error}")

    async def _settle(
        self, channel: Channel, rows: list[Delivery], result: DeliveryResult, report: PollReport,
    ) -> bool:
        """Record *result* for *rows*; return whether to keep sending to this channel."""
        now = self.clock()
        if result.status is DeliveryStatus.SENT:
            await self.store.mark_sent([r.id for r in rows], message_ref=result.message_ref, at=now)
            report.sent += len(rows)
            return True
        report.failed += len(rows)
        if result.status is DeliveryStatus.PERMANENT:
            reason = result.reason or "the platform refused the post"
            await self.store.update_channel(channel.id, paused_reason=reason)
            report.paused.append((channel, reason))
            log.warning("paused %s: %s", channel.ref, reason)
            return False
        for row in rows:
            if row.state != "pending":
                continue  # a digest row is retried with the digest at the next poll
            if result.retry_after is not None:
                delay = timedelta(seconds=result.retry_after)
            else:
                delay = min(RETRY_CAP, RETRY_BASE * 2 ** row.attempts) * random.uniform(0.5, 1.0)
            await self.store.mark_retry(row.id, error=result.reason or result.status.value, retry_at=now + delay)
        return False
