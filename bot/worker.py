"""The delivery worker: sends what the outbox owes, paced, in parallel across channels.

Each entry is claimed (pending -> sending) just before it is handed to the adapter and
settled right after. An entry found in ``sending`` when no send is in flight is
ambiguous (the process died mid-send): the adapter looks for its own post, and the
entry is resent only when the post is not there. Asked to stop, the worker claims
nothing more and lets the sends in flight settle, so a clean stop leaves nothing ambiguous.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

from bot.delivery import Adapter, DeliveryResult, DeliveryStatus
from bot.pacing import Pacer, Slot
from bot.paper import Paper
from bot.replies import PaperCard, PaperList, Post
from bot.store_errors import StorageLost, StorageUnavailable
from bot.store import Store
from bot.rows import Channel, OutboxEntry

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
UPVOTE_MILESTONES = (10, 25, 50, 100, 250, 500, 1000)
STOP_GRACE = 10.0
STORAGE_BACKOFF = (1.0, 60.0)
"""Seconds between delivery rounds while the database refuses writes: the first wait, and the most."""
"""Seconds the sends in flight get to finish once Paperboy is asked to stop."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def finish_within(task: asyncio.Task, seconds: float) -> bool:
    """Give *task* up to *seconds* to end by itself, then cancel it; return whether it ended by itself."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if done:
        return True
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return False


def posted_state(paper: Paper) -> str:
    """Summarise what a paper's post shows that is worth an edit when it changes."""
    milestone = max((m for m in UPVOTE_MILESTONES if (paper.upvotes or 0) >= m), default=0)
    return f"code={int(bool(paper.github_repo))};upvotes={milestone}"


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    reconciled: int = 0
    paused: list[tuple[Channel, str]] = field(default_factory=list)


class DeliveryWorker:
    """Deliver outbox entries through the adapters: ``await worker.drain()`` sends all that is due."""

    def __init__(
        self,
        *,
        store: Store,
        adapters: Mapping[str, Adapter],
        pacer: Pacer | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.pacer = pacer or Pacer()
        self.clock = clock or utcnow
        self._active: dict[int, asyncio.Task[None]] = {}
        self._in_flight: set[int] = set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()  # set only by the stop event given to `run`
        self.totals = DeliveryReport()
        """Everything this worker has done since it was made."""

    def wake(self) -> None:
        """Look at the outbox now rather than at the next retry time."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, idle: float = 30.0, grace: float = STOP_GRACE) -> None:
        """Deliver until *stop* is set, sleeping until the next entry is due or `wake` is called.

        Once *stop* is set nothing new is claimed, and the sends in flight get *grace*
        seconds to settle. One still running then is abandoned in ``sending``: whether it
        reached the platform is unknown, so the next start looks for the post.
        """
        self._stop = stop
        rounds = asyncio.create_task(self._rounds(idle))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({rounds, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not await finish_within(rounds, grace):
                log.warning("gave up on the sends still in flight after %.0f s; the next start checks "
                            "whether they arrived", grace)
            self._stop = asyncio.Event()
        if not rounds.cancelled():
            rounds.result()

    async def _rounds(self, idle: float) -> None:
        stop = self._stop
        backoff = STORAGE_BACKOFF[0]
        while not stop.is_set():
            try:
                await self.drain()
                # What is due now was just sent (or waits for its platform): sleep until the next retry.
                due = await self.store.next_outbox_retry(now=self.clock())
                pause = idle if due is None else min(idle, max(0.05, (due - self.clock()).total_seconds()))
                backoff = STORAGE_BACKOFF[0]
            except StorageLost:
                raise  # writing on would lose what was sent; Paperboy stops
            except StorageUnavailable as error:
                # The outbox keeps every entry; they go out once the database takes writes again.
                log.warning("delivery: the database refuses writes (%s); trying again in %g s", error, backoff)
                pause, backoff = backoff, min(backoff * 2, STORAGE_BACKOFF[1])
            except Exception:
                log.exception("delivery round failed")
                pause = idle
            if stop.is_set():
                return
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=pause, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def drain(self) -> DeliveryReport:
        """Settle ambiguous entries, then send every due entry, each channel in order.

        Returns what this call saw happen (sends by rounds already running count too).
        """
        start = (self.totals.sent, self.totals.failed, self.totals.reconciled, len(self.totals.paused))
        if not self._stop.is_set():
            await self.reconcile()
        while True:
            progress = (self.totals.sent, self.totals.failed)
            due = [] if self._stop.is_set() else await self.store.channels_with_due_outbox(
                now=self.clock(), platforms=list(self.adapters))
            for channel_id in due:
                if channel_id not in self._active:
                    task = asyncio.create_task(self._deliver_channel(channel_id))
                    self._active[channel_id] = task
                    task.add_done_callback(lambda _, cid=channel_id: self._active.pop(cid, None))
            running = list(self._active.values())
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            # Stop once a round changes nothing: what is left waits for a retry time or a platform.
            if not running or (self.totals.sent, self.totals.failed) == progress or self._stop.is_set():
                return DeliveryReport(
                    sent=self.totals.sent - start[0], failed=self.totals.failed - start[1],
                    reconciled=self.totals.reconciled - start[2], paused=self.totals.paused[start[3]:])

    async def reconcile(self) -> int:
        """Resolve entries left in ``sending`` by a crash: sent if the platform has the post, else pending."""
        settled = 0
        for entry in await self.store.abandoned_outbox():
            if entry.id in self._in_flight:
                continue
            channel = await self.store.get_channel_by_id(entry.channel_id)
            adapter = self.adapters.get(channel.ref.platform) if channel else None
            if channel is None or adapter is None:
                continue
            if entry.kind == "update":  # an edit is safe to repeat
                await self.store.release_outbox(entry.id)
                continue
            post, papers = await self._post(entry, channel)
            if post is None:
                await self.store.release_outbox(entry.id)
                continue
            try:
                ref = await adapter.find_post(channel.ref, post)
            except Exception as error:  # cannot tell: ask again next round, never guess
                log.warning("cannot check %s for %s yet: %s", channel.ref, entry.tag, error)
                continue
            if ref is not None:
                await self.store.mark_outbox_sent(entry.id, message_ref=ref, at=self.clock(),
                                                  posted_states=_states(entry, papers))
            else:
                await self.store.release_outbox(entry.id)
            settled += 1
        self.totals.reconciled += settled
        return settled

    async def _deliver_channel(self, channel_id: int) -> None:
        """Send a channel's due entries in order, until none is due or one fails."""
        channel = await self.store.get_channel_by_id(channel_id)
        adapter = self.adapters.get(channel.ref.platform) if channel else None
        if channel is None or adapter is None:
            return  # that platform is not running in this process; its entries wait for it
        while not self._stop.is_set():
            entries = await self.store.due_outbox(now=self.clock(), channel_id=channel_id, limit=20)
            if not entries:
                return
            for entry in entries:
                if not await self._deliver(entry, channel, adapter):
                    return

    async def _deliver(self, entry: OutboxEntry, channel: Channel, adapter: Adapter) -> bool:
        """Send one entry; return whether to go on with this channel's next entry."""
        post, papers = await self._post(entry, channel)
        if post is None:
            await self.store.mark_outbox_dead(entry.id, error="its papers are no longer in the cache")
            return True
        slot = await self._wait_for_slot(adapter, channel)
        if slot is None:
            return False  # asked to stop: the entry stays pending for the next start
        try:
            if self._stop.is_set():
                return False
            if not await self.store.claim_outbox(entry.id):
                return True
            self._in_flight.add(entry.id)
            result = await self._attempt(adapter, channel, entry, post)
        finally:
            self.pacer.done(slot)
            self._in_flight.discard(entry.id)
        return await self._settle(entry, channel, adapter, result, papers)

    async def _wait_for_slot(self, adapter: Adapter, channel: Channel) -> Slot | None:
        """Wait for the pacer's go-ahead; return None when asked to stop first."""
        pacing = asyncio.ensure_future(self.pacer.wait(adapter.platform, channel.ref, getattr(adapter, "limits", ())))
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({pacing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not pacing.done():
                pacing.cancel()  # safe: Pacer.wait takes its slot only once it has nothing left to await
        return None if pacing.cancelled() else pacing.result()

    async def _attempt(self, adapter: Adapter, channel: Channel, entry: OutboxEntry, post: Post) -> DeliveryResult:
        try:
            if entry.kind == "update" and entry.target_ref:
                return await adapter.edit(channel.ref, entry.target_ref, post)
            return await adapter.send(channel.ref, post)
        except Exception as error:  # an adapter bug must not stop the other channels
            log.exception("sending %s to %s failed", entry.tag, channel.ref)
            return DeliveryResult(DeliveryStatus.TRANSIENT, reason=f"{type(error).__name__}: {error}")

    async def _settle(self, entry: OutboxEntry, channel: Channel, adapter: Adapter, result: DeliveryResult,
                      papers: dict[str, Paper]) -> bool:
        now = self.clock()
        report = self.totals
        if result.status is DeliveryStatus.SENT:
            await self.store.mark_outbox_sent(entry.id, message_ref=result.message_ref, at=now,
                                              posted_states=_states(entry, papers))
            report.sent += 1
            return True
        report.failed += 1
        reason = result.reason or result.status.value
        if entry.kind == "update" and result.status is DeliveryStatus.PERMANENT:
            await self.store.mark_outbox_dead(entry.id, error=reason)  # the old post is gone; nothing to fix
            return True
        if result.status is DeliveryStatus.PERMANENT:
            await self.store.mark_outbox_retry(entry.id, error=reason, retry_at=now, count_attempt=False)
            await self.store.update_channel(channel.id, paused_reason=reason)
            report.paused.append((channel, reason))
            log.warning("paused %s: %s", channel.ref, reason)
            await self._tell_about_pause(channel, adapter, reason)
            return False
        if result.status is DeliveryStatus.RATE_LIMITED:
            wait = timedelta(seconds=result.retry_after if result.retry_after is not None else 5)
            await self.store.mark_outbox_retry(entry.id, error=reason, retry_at=now + wait, count_attempt=False)
            return False
        if entry.attempts + 1 >= MAX_ATTEMPTS:
            await self.store.mark_outbox_dead(entry.id, error=reason)
            log.error("gave up on %s to %s after %d attempts: %s", entry.tag, channel.ref, MAX_ATTEMPTS, reason)
            return True
        delay = min(RETRY_CAP, RETRY_BASE * 2 ** entry.attempts) * random.uniform(0.5, 1.0)
        await self.store.mark_outbox_retry(entry.id, error=reason, retry_at=now + delay)
        return False

    async def _tell_about_pause(self, channel: Channel, adapter: Adapter, reason: str) -> None:
        topics = await self.store.list_topics(channel.id)
        subscriber = next((t.added_by_id for t in topics if t.added_by_id), None)
        text = (f"Paperboy paused its posts to this channel ({channel.ref.channel}): {reason}. "
                "Nothing is lost: once Paperboy can post there again, run '/papers resume' in that channel.")
        try:
            await adapter.notify(channel.ref, subscriber, text)
        except Exception:
            log.warning("could not tell anyone that %s is paused", channel.ref, exc_info=True)

    async def _post(self, entry: OutboxEntry, channel: Channel) -> tuple[Post | None, dict[str, Paper]]:
        papers = await self.store.get_papers(list(entry.paper_ids))
        if any(pid not in papers for pid in entry.paper_ids):
            return None, papers
        whys = await self.store.ledger_whys(channel.id, entry.paper_ids)
        cards = tuple(PaperCard(papers[pid], whys.get(pid)) for pid in entry.paper_ids)
        if entry.kind in ("paper", "update"):
            return Post(cards[0], tag=entry.tag, paper_ids=entry.paper_ids), papers
        return Post(PaperList(entry.title or "New papers", cards), tag=entry.tag, paper_ids=entry.paper_ids), papers


def _states(entry: OutboxEntry, papers: dict[str, Paper]) -> dict[str, str] | None:
    if entry.kind not in ("paper", "update"):
        return None
    return {pid: posted_state(papers[pid]) for pid in entry.paper_ids if pid in papers}
