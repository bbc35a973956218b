"""The delivery worker: sends what the outbox owes, paced, in parallel across channels.

Each entry is claimed (pending -> sending) just before it is handed to the adapter and
settled right after. An entry found in ``sending`` when no send is in flight is
ambiguous (the process died mid-send): the adapter looks for its own post, and the
entry is resent only when the post is not there. Asked to stop, the worker claims
nothing more and lets the sends in flight settle, so a clean stop leaves nothing ambiguous.
What each entry says is `bot.delivery.planning.compose`'s; how an ambiguous one is settled, `bot.delivery.recovery`'s.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Mapping, Protocol

from bot.ports.adapter import BUTTONS, THREADS, Adapter, DeliveryResult, DeliveryStatus
from bot.runtime.metrics import Metrics
from bot.delivery.pacing import Pacer, Slot
from bot.delivery.planning import Known, compose
from bot.delivery.recovery import Built, Recovery, recover
from bot.delivery.settling import MAX_ATTEMPTS, RETRY_BASE, RETRY_CAP, Settling  # noqa: F401  (named here too)
from bot.model.replies import Post
from bot.ports.store_errors import StorageLost, StorageUnavailable
from bot.ports.store import ChannelStore, CommunityStore, HealthStore, OutboxStore, PaperStore
from bot.model.rows import Channel, OutboxEntry

log = logging.getLogger(__name__)

STOP_GRACE = 10.0
"""Seconds the sends in flight get to finish once Paperboy is asked to stop."""
STORAGE_BACKOFF = (1.0, 60.0)
"""Seconds between delivery rounds while the database refuses writes: the first wait, and the most."""
PER_CHANNEL = 20
"""Entries of one channel a round reads at once (a channel's next ones are read as these go out)."""
FIRST_CHANNELS = 64
"""Channels a round starts before it reads the papers and reasons of the rest: a first batch of sends."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def finish_within(task: asyncio.Task, seconds: float, *, give_up: Callable[[], bool] | None = None) -> bool:
    """Give *task* up to *seconds* to end by itself, then cancel it; return whether it ended by itself.

    *give_up*, looked at a few times a second, ends the wait early: while the database is failing,
    a task that needs it can only wait on it, and a stop must not wait with it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not task.done() and loop.time() < deadline and not (give_up is not None and give_up()):
        await asyncio.wait({task}, timeout=min(0.2, deadline - loop.time()) if give_up else deadline - loop.time())
    if task.done():
        return True
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return False


class DeliveryStore(ChannelStore, PaperStore, OutboxStore, CommunityStore, HealthStore, Protocol):
    """What the worker uses: the channels, the papers, the outbox (and why each paper matched), the 👍 its
    buttons show, and whether the database is in trouble (a stop does not wait on a failing database)."""


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    reconciled: int = 0
    paused: list[tuple[Channel, str]] = field(default_factory=list)


class DeliveryWorker(Settling):
    """Deliver outbox entries through the adapters: ``await worker.drain()`` sends all that is due."""

    def __init__(
        self,
        *,
        store: DeliveryStore,
        adapters: Mapping[str, Adapter],
        pacer: Pacer | None = None,
        clock: Callable[[], datetime] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.metrics = metrics or Metrics()
        self.pacer = pacer or Pacer()
        self.clock = clock or utcnow
        self._active: dict[int, asyncio.Task[None]] = {}
        self._in_flight: set[int] = set()
        self._channels: dict[int, Channel] = {}
        super().__init__()  # the batched claims and settlements (`Settling`)
        self._pacing: set[asyncio.Future[Slot]] = set()
        """The waits for a slot in progress: a stop cancels them."""
        self._wake = asyncio.Event()
        self._recheck_at: datetime | None = None
        """When a platform that asked to wait before its history is read again lets `reconcile` ask."""
        self._stop = asyncio.Event()  # set only by the stop event given to `run`
        self.totals = DeliveryReport()
        """Everything this worker has done since it was made."""

    def wake(self) -> None:
        """Look at the outbox now rather than at the next retry time."""
        self._wake.set()

    @property
    def sending(self) -> int:
        """How many sends are in flight now (what a stop waits for)."""
        return len(self._in_flight)

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
            for pacing in list(self._pacing):  # nothing more is claimed: the waits for a slot end now
                pacing.cancel()
            if not await finish_within(rounds, grace, give_up=lambda: self.store.trouble is not None):
                log.warning("gave up on the sends still in flight after %.0f s; the next start checks "
                            "whether they arrived", grace)
            self._stop = asyncio.Event()
        if not rounds.cancelled():
            rounds.result()

    async def _rounds(self, idle: float) -> None:
        stop = self._stop
        backoff = STORAGE_BACKOFF[0]
        while not stop.is_set():
            # Cleared before the round, not after: a wake while it runs (a 👍 queued just after the
            # round read the outbox) must end the sleep below, not be lost until `idle` runs out.
            self._wake.clear()
            try:
                await self.drain()
                # What is due now was just sent (or waits for its platform): sleep until the next retry.
                due = await self.store.next_outbox_retry(now=self.clock())
                pause = idle if due is None else min(idle, max(0.05, (due - self.clock()).total_seconds()))
                if self._recheck_at is not None:  # an ambiguous post can be checked then
                    pause = min(pause, max(0.05, (self._recheck_at - self.clock()).total_seconds()))
                held = await self.store.held_for()
                if held is not None:  # a crashed process's claims and channels are free then
                    pause = min(pause, held + 0.1)
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
            await self._start_due_channels()
            running = list(self._active.values())
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            # Stop once a round changes nothing: what is left waits for a retry time or a platform.
            if not running or (self.totals.sent, self.totals.failed) == progress or self._stop.is_set():
                return DeliveryReport(
                    sent=self.totals.sent - start[0], failed=self.totals.failed - start[1],
                    reconciled=self.totals.reconciled - start[2], paused=self.totals.paused[start[3]:])

    async def _start_due_channels(self) -> None:
        """Read what is due on this process's platforms (one read for all channels) and start each channel.

        The papers and the reasons they matched are read for many channels at once too, so a
        send costs its own claim and settlement only, and those go in batches. The first
        `FIRST_CHANNELS` start before the rest's are read: their posts go out meanwhile.
        """
        if self._stop.is_set():
            return
        due = await self.store.due_outbox(now=self.clock(), platforms=list(self.adapters), per_channel=PER_CHANNEL)
        by_channel: dict[int, list[OutboxEntry]] = {}
        for entry in due:
            if entry.channel_id not in self._active:
                by_channel.setdefault(entry.channel_id, []).append(entry)
        channel_ids = list(by_channel)
        for group in (channel_ids[:FIRST_CHANNELS], channel_ids[FIRST_CHANNELS:]):
            if group:
                await self._start_channels({channel_id: by_channel[channel_id] for channel_id in group})

    async def _start_channels(self, by_channel: dict[int, list[OutboxEntry]]) -> None:
        """Read the round of *by_channel*'s entries, then start a task per channel to send them."""
        round_ = await self._read_round([e for entries in by_channel.values() for e in entries])
        unknown = [channel_id for channel_id in by_channel if channel_id not in self._channels]
        if unknown:  # one read for the round's new channels, not one per channel
            self._channels.update(await self.store.get_channels(unknown))
        for channel_id, entries in by_channel.items():
            task = asyncio.create_task(self._deliver_channel(channel_id, entries, round_))
            self._active[channel_id] = task
            task.add_done_callback(lambda _, cid=channel_id: self._active.pop(cid, None))

    async def reconcile(self) -> int:
        """Resolve entries left in ``sending`` by a crash: sent if the platform has the post, else pending."""
        recovery = Recovery()
        for entry in await self.store.abandoned_outbox():
            if entry.id in self._in_flight:
                continue
            channel = await self._channel(entry.channel_id)
            adapter = self.adapters.get(channel.ref.platform) if channel else None
            if channel is not None and adapter is not None:
                await recover(entry, channel, adapter, recovery, store=self.store, clock=self.clock,
                              build=lambda e=entry, a=adapter: self._post(e, a))
        self._recheck_at = recovery.recheck_at
        self.totals.reconciled += recovery.settled
        return recovery.settled

    async def _read_round(self, entries: list[OutboxEntry]) -> Known:
        """Read the papers of *entries*, why each matched its channel and its 👍 there, in one read each."""
        pairs = list({(e.channel_id, p) for e in entries for p in e.paper_ids})
        buttons = any(BUTTONS in a.capabilities for a in self.adapters.values())
        return Known(await self.store.get_papers(list({p for e in entries for p in e.paper_ids})),
                      await self.store.ledger_whys_many(pairs),
                      await self.store.vote_counts_many(pairs) if buttons else {})

    async def _channel(self, channel_id: int) -> Channel | None:
        """The channel's row, read once: a channel's ref never changes, and pauses are read with the outbox."""
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = await self.store.get_channel_by_id(channel_id)
            if channel is not None:
                self._channels[channel_id] = channel
        return channel

    async def _deliver_channel(self, channel_id: int, entries: list[OutboxEntry], round_: Known) -> None:
        """Send a channel's due entries in order, until none is due or one fails."""
        channel = await self._channel(channel_id)
        adapter = self.adapters.get(channel.ref.platform) if channel else None
        if channel is None or adapter is None:
            return  # that platform is not running in this process; its entries wait for it
        try:
            while not self._stop.is_set():
                for entry in entries:
                    if not await self._deliver(entry, channel, adapter, round_):
                        return
                if len(entries) < PER_CHANNEL:
                    return  # all that was due; what comes later is the next round's
                await self._settled(channel_id)  # what is due next depends on it
                entries = await self.store.due_outbox(now=self.clock(), channel_id=channel_id, limit=PER_CHANNEL)
                round_ = await self._read_round(entries)
        finally:
            await self._settled(channel_id)

    async def _deliver(self, entry: OutboxEntry, channel: Channel, adapter: Adapter, round_: Known) -> bool:
        """Send one entry; return whether to go on with this channel's next entry."""
        post, papers = self._build_post(entry, round_, adapter)
        if post is None:
            await self.store.mark_outbox_dead(entry.id, error="its papers are no longer in the cache")
            return True
        if entry.kind == "thread":
            await self._settled(channel.id)  # the post it opens on may be the one being settled
            entry = await self._with_target(entry)
            if not entry.target_ref or THREADS not in adapter.capabilities:
                # Its post never went out (or the platform lost threads): there is nothing to open it on.
                await self.store.mark_outbox_dead(entry.id, error="no post to open the thread on")
                return True
        # The last post's settlement is written while this one waits for its slot (a second, on Slack).
        slot = await self._wait_for_slot(adapter, channel)
        if slot is None:
            return False  # asked to stop: the entry stays pending for the next start
        # In flight from before the claim: a reconcile meanwhile must not take our claim for a crash's.
        self._in_flight.add(entry.id)
        sent = False
        try:
            await self._settled(channel.id)  # this channel's older entries are settled before the claim
            if self._stop.is_set():
                return False
            if not await self._claims.submit(entry.id):
                return False  # another process is sending this channel's entries, in order
            result = await self._attempt(adapter, channel, entry, post)
            sent = result.status is DeliveryStatus.SENT
        finally:
            self.pacer.done(slot)
            if not sent:  # a post that went out stays in flight until its settlement is written
                self._in_flight.discard(entry.id)
        return await self._settle(entry, channel, adapter, result, papers)

    async def _with_target(self, entry: OutboxEntry) -> OutboxEntry:
        """*entry* (a thread) with the post it opens on: read again when it was read before that post was settled."""
        if entry.target_ref:
            return entry
        return await self.store.outbox_entry(entry.id) or entry

    async def _wait_for_slot(self, adapter: Adapter, channel: Channel) -> Slot | None:
        """Wait for the pacer's go-ahead; return None when asked to stop first (`run` cancels the waits)."""
        if self._stop.is_set():
            return None
        limits = getattr(adapter, "limits", ())
        slot = self.pacer.admit_now(adapter.platform, channel.ref, limits)
        if slot is not None:
            return slot
        # One task a wait, which a stop cancels (safe: Pacer.wait takes its slot only once it has nothing left
        # to await), rather than a second task per wait to watch for the stop: a burst has thousands of waits.
        pacing = asyncio.ensure_future(self.pacer.wait(adapter.platform, channel.ref, limits))
        self._pacing.add(pacing)
        try:
            return await pacing
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._stop.is_set() and current is not None and not current.cancelling():
                return None  # the stop cancelled the wait, not whoever runs this channel
            raise
        finally:
            self._pacing.discard(pacing)

    async def _attempt(self, adapter: Adapter, channel: Channel, entry: OutboxEntry, post: Post) -> DeliveryResult:
        try:
            if entry.kind == "update" and entry.target_ref:
                return await adapter.edit(channel.ref, entry.target_ref, post)
            if entry.kind == "thread" and entry.target_ref:
                return await adapter.open_thread(channel.ref, entry.target_ref, post)
            return await adapter.send(channel.ref, post)
        except Exception as error:  # an adapter bug must not stop the other channels
            log.exception("sending %s to %s failed", entry.tag, channel.ref)
            return DeliveryResult(DeliveryStatus.TRANSIENT, reason=f"{type(error).__name__}: {error}")

    async def _post(self, entry: OutboxEntry, adapter: Adapter | None = None) -> Built:
        """Build *entry*'s post from the cache (None when one of its papers is missing), with its papers."""
        return self._build_post(entry, await self._read_round([entry]), adapter)

    def _build_post(self, entry: OutboxEntry, round_: Known, adapter: Adapter | None) -> Built:
        buttons = adapter is not None and BUTTONS in adapter.capabilities
        return compose(entry, round_, buttons=buttons), round_.papers
