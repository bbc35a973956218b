"""What Matrix's answers mean for a delivery, the transaction ids that make a send exactly once, and the
history check for what lies beyond the server's transaction window.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from typing import Any

import aiohttp
from nio import AsyncClient, ErrorResponse, MessageDirection, RoomMessagesError

from adapters.matrix.render import MARKER
from bot.ports.adapter import DeliveryResult, DeliveryStatus, HistoryUnreadable

NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError, ConnectionError)
LOST_ACCESS = {
    "M_FORBIDDEN": "Paperboy can no longer post in this room (it was removed, or may not speak there)",
    "M_NOT_FOUND": "the room is gone, or Paperboy was never in it",
    "M_UNKNOWN_TOKEN": "the homeserver no longer accepts Paperboy's access token (MATRIX_ACCESS_TOKEN)",
    "M_MISSING_TOKEN": "the homeserver no longer accepts Paperboy's access token (MATRIX_ACCESS_TOKEN)",
    "M_USER_DEACTIVATED": "Paperboy's Matrix account was deactivated",
}
"""Error codes that retrying cannot fix: the room is paused (a `PERMANENT` result)."""
ENCRYPTED = "the room is end-to-end encrypted, and Paperboy cannot read or post in encrypted rooms yet"
HISTORY_PAGES = 20
"""Pages of 100 events the history check reads at most (without ``sent_after``: one page)."""


def transaction_id(room_id: str, purpose: str, tag: str) -> str:
    """A stable transaction id for one outbox entry: the room and the entry's tag (unique per room in the
    outbox), and what is sent (``post``, ``edit:<event>``, ``thread:<event>``). The same entry, retried after
    a crash, gets the same id, and the homeserver answers with the first event instead of a second one."""
    digest = hashlib.sha256(f"{room_id}\n{purpose}\n{tag}".encode()).hexdigest()[:40]
    return f"paperboy.{digest}"


def result_of(answer: Any) -> DeliveryResult | None:
    """The `DeliveryResult` an error answer means, or None for a success."""
    if not isinstance(answer, ErrorResponse):
        return None
    code = answer.status_code or ""
    reason = f"{code or 'error'}: {answer.message}"[:300]
    if code == "M_LIMIT_EXCEEDED":
        wait = (answer.retry_after_ms or 5000) / 1000
        return DeliveryResult(DeliveryStatus.RATE_LIMITED, reason=f"rate limited by the homeserver ({reason})",
                              retry_after=wait)
    if code in LOST_ACCESS:
        return DeliveryResult(DeliveryStatus.PERMANENT, reason=f"{LOST_ACCESS[code]} ({reason})")
    return DeliveryResult(DeliveryStatus.TRANSIENT, reason=reason)


def network_result(error: BaseException) -> DeliveryResult:
    return DeliveryResult(DeliveryStatus.TRANSIENT, reason=f"cannot reach the homeserver ({error or type(error).__name__})")


async def find_marked(client: AsyncClient, room_id: str, *, tag: str, kind: str, sent_after: datetime | None,
                      thread_root: str | None = None) -> str | None:
    """The id of Paperboy's own event tagged *tag* (of *kind*: ``post`` or ``thread``) in the room, or None.

    Reads back from the newest event: one page without *sent_after*, else until events older than it.
    Raises `HistoryUnreadable` (its result says what the same failure means for a send) when it cannot tell.
    """
    wanted = {"types": ["m.room.message"], "senders": [client.user_id]}
    start = None
    oldest_ms = sent_after.timestamp() * 1000 - 60_000 if sent_after else None  # a minute for clock skew
    for _ in range(HISTORY_PAGES if sent_after else 1):
        try:
            page = await client.room_messages(room_id, start=start, direction=MessageDirection.back, limit=100,
                                              message_filter=wanted)
        except NETWORK_ERRORS as error:
            raise HistoryUnreadable(network_result(error).reason or "", network_result(error)) from None
        if isinstance(page, RoomMessagesError):
            result = result_of(page) or DeliveryResult(DeliveryStatus.TRANSIENT, reason=str(page))
            raise HistoryUnreadable(result.reason or "history unreadable", result)
        for event in page.chunk:
            source = getattr(event, "source", {}) or {}
            marker = (source.get("content") or {}).get(MARKER) or {}
            related = ((source.get("content") or {}).get("m.relates_to") or {}).get("event_id")
            if marker.get("tag") == tag and marker.get("kind", "post") == kind and \
                    (thread_root is None or related == thread_root):
                return event.event_id
        if not page.chunk or not page.end or (oldest_ms is not None and
                                              min(e.server_timestamp for e in page.chunk) < oldest_ms):
            return None
        start = page.end
    return None
