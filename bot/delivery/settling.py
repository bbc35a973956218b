"""What the delivery worker writes down after each send: a post that went out (its settlement batched with
other channels', while the channel waits for its next slot), or why it did not and what happens next.

Split from `bot.delivery.worker`, which mixes `Settling` in: the sending is there, the record-keeping here.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Mapping

from bot.delivery.batching import Batcher
from bot.delivery.planning import pause_notice, posted_states
from bot.model.paper import Paper
from bot.model.rows import Channel, OutboxEntry, Settlement
from bot.ports.adapter import Adapter, DeliveryResult, DeliveryStatus
from bot.runtime.metrics import Metrics

if TYPE_CHECKING:
    from bot.delivery.worker import DeliveryReport, DeliveryStore

log = logging.getLogger("bot.delivery.worker")  # the worker's log lines, under the worker's name as before

MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)


@dataclass(slots=True)
class _Sent:
    """A post that went out, its settlement still being written: the channel's next claim waits for it."""

    written: asyncio.Future[None]
    entry: OutboxEntry
    channel: Channel
    platform: str


class Settling:
    """The worker's settlements: its claims and settlements go to the store in batches (`Batcher`)."""

    store: DeliveryStore
    clock: Callable[[], datetime]
    metrics: Metrics
    totals: DeliveryReport
    _in_flight: set[int]

    def __init__(self) -> None:
        self._claims: Batcher[int, bool] = Batcher(self._claim_batch)
        self._settlements: Batcher[Settlement, None] = Batcher(self._settle_batch)
        self._unsettled: dict[int, _Sent] = {}
        """Channel id → its last post that went out, while its settlement is written (`_settled`)."""

    async def _settle(self, entry: OutboxEntry, channel: Channel, adapter: Adapter, result: DeliveryResult,
                      papers: Mapping[str, Paper]) -> bool:
        now = self.clock()
        report = self.totals
        if result.status is DeliveryStatus.SENT:
            states = posted_states(entry, papers)
            written = self._settlements.put(Settlement(entry.id, result.message_ref, now, states))
            self._unsettled[channel.id] = _Sent(written, entry, channel, adapter.platform)
            return True
        report.failed += 1
        self.metrics.posts_failed.labels(adapter.platform, result.status.value).inc()  # the kind: few label values
        reason = result.reason or result.status.value
        log.info("sending %s to %s failed: %s", entry.tag, channel.ref, reason, extra=_log_context(entry, channel))
        if entry.kind in ("update", "thread") and result.status is DeliveryStatus.PERMANENT:
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

    async def _settled(self, channel_id: int) -> None:
        """Wait for the settlement of the channel's last post that went out, if any, and count it as sent."""
        sent = self._unsettled.pop(channel_id, None)
        if sent is None:
            return
        try:
            await sent.written  # the flush it joined writes it even if this wait is cancelled
        finally:
            self._in_flight.discard(sent.entry.id)
        self.totals.sent += 1
        self.metrics.posts_sent.labels(sent.platform).inc()
        if log.isEnabledFor(logging.INFO):  # the fields cost a little on every send: only when written
            log.info("sent %s to %s", sent.entry.tag, sent.channel.ref, extra=_log_context(sent.entry, sent.channel))

    async def _tell_about_pause(self, channel: Channel, adapter: Adapter, reason: str) -> None:
        topics = await self.store.list_topics(channel.id)
        subscriber = next((t.added_by_id for t in topics if t.added_by_id), None)
        try:
            await adapter.notify(channel.ref, subscriber, pause_notice(channel, reason))
        except Exception:
            log.warning("could not tell anyone that %s is paused", channel.ref, exc_info=True)

    async def _claim_batch(self, entry_ids: list[int]) -> list[bool]:
        claimed = await self.store.claim_outbox_many(entry_ids)
        return [entry_id in claimed for entry_id in entry_ids]

    async def _settle_batch(self, settlements: list[Settlement]) -> list[None]:
        await self.store.mark_outbox_sent_many(settlements)
        return [None] * len(settlements)


def _log_context(entry: OutboxEntry, channel: Channel) -> dict[str, str]:
    """The ``channel`` and ``paper`` fields of a send's log line (JSON logs show them as fields)."""
    return {"channel": str(channel.ref), "paper": ",".join(entry.paper_ids)}
