"""Crash recovery: settle an entry a crash left in ``sending`` by asking its platform whether it went out.

Never guess: an entry is marked sent only when the platform shows the post, put back to
pending only when the platform shows it is not there (or it is an edit, safe to repeat), and
left in ``sending`` (its channel's later posts waiting behind it) while the platform cannot say.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.ports.adapter import Adapter, DeliveryResult, DeliveryStatus, HistoryUnreadable
from bot.model.paper import Paper
from bot.delivery.planning import posted_states
from bot.model.replies import Post
from bot.model.rows import Channel, OutboxEntry
from bot.ports.store import OutboxStore

log = logging.getLogger(__name__)

Built = tuple[Post | None, Mapping[str, Paper]]
"""An entry's post as the worker builds it from the cache (None when a paper is missing), and its papers."""


@dataclass(slots=True)
class Recovery:
    """What one pass over the abandoned entries did: how many it settled, and when to ask a paced platform again."""

    settled: int = 0
    recheck_at: datetime | None = None

    def recheck(self, at: datetime) -> None:
        self.recheck_at = min(at, self.recheck_at or at)


async def recover(entry: OutboxEntry, channel: Channel, adapter: Adapter, recovery: Recovery, *,
                  store: OutboxStore, build: Callable[[], Awaitable[Built]], clock: Callable[[], datetime]) -> None:
    """Settle the abandoned *entry*: sent if *adapter* finds its post, pending if not, as it was if it cannot tell."""
    if entry.kind == "update":  # an edit is safe to repeat
        await store.release_outbox(entry.id)
        return
    post, papers = await build()
    if post is None or (entry.kind == "thread" and not entry.target_ref):
        await store.release_outbox(entry.id)
        return
    post = replace(post, sent_after=entry.claimed_at)  # nothing older need be read
    try:
        ref = (await adapter.find_thread(channel.ref, entry.target_ref, post) if entry.kind == "thread"
               else await adapter.find_post(channel.ref, post))
    except Exception as error:  # cannot tell: ask again next round, never guess
        if entry.kind == "thread" and _gone(error):
            await store.mark_outbox_dead(entry.id, error=str(error))  # its post is gone
        elif (wait := _wait(error)) is not None:
            # The platform paces history reads (Slack: once a minute): the entry stays in
            # sending, its channel's later posts wait behind it, and the other channels go on.
            recovery.recheck(clock() + timedelta(seconds=wait))
            log.info("%s for %s waits %.0f s to be checked: %s", channel.ref, entry.tag, wait, error)
        else:
            log.warning("cannot check %s for %s yet: %s", channel.ref, entry.tag, error)
        return
    if ref is not None:
        await store.mark_outbox_sent(entry.id, message_ref=ref, at=clock(), posted_states=posted_states(entry, papers))
    else:
        await store.release_outbox(entry.id)
    recovery.settled += 1


def _result(error: Exception) -> DeliveryResult | None:
    """What a failed look for a post means, when the adapter said (`HistoryUnreadable`)."""
    return error.result if isinstance(error, HistoryUnreadable) else None


def _gone(error: Exception) -> bool:
    """Whether a failed look for a post says it is gone for good (PERMANENT)."""
    result = _result(error)
    return result is not None and result.status is DeliveryStatus.PERMANENT


def _wait(error: Exception) -> float | None:
    """The seconds a failed look for a post asks to wait before the next (RATE_LIMITED), else None."""
    result = _result(error)
    if result is None or result.status is not DeliveryStatus.RATE_LIMITED:
        return None
    return result.retry_after if result.retry_after is not None else 5.0
