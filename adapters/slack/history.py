"""Find Paperboy's own message in a channel's history, within Slack's limits on reading it.

Since 2025 an app distributed outside the Slack Marketplace may call ``conversations.history``
and ``conversations.replies`` once a minute per workspace, 15 messages a call. So a search
reads 15 at a time, only from the time its post was claimed (nothing older can be it), page by
page. A 429 sets when that workspace may call the method again (``Retry-After``); until then a
search says "wait" at once instead of asking Slack, and a search cut short resumes at the page
it had reached, so that a post several pages back is found even at one page a minute.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Awaitable, Callable, Mapping

from bot.ports.adapter import DeliveryResult, DeliveryStatus, HistoryUnreadable

HISTORY_METHODS = ("conversations.history", "conversations.replies")
"""The Web API methods Slack limits for apps outside the Marketplace (and `HistoryReader` paces)."""
PAGE_SIZE = 15
"""Messages asked for per call: the most Slack returns to an app outside the Marketplace."""
MAX_PAGES = 7
"""Pages one search reads at most (about 100 messages): all it looks at without a claim time."""
CLOCK_MARGIN = 60.0
"""Seconds read before the claim time: this host's clock (or the database's) and Slack's may differ."""


class SlackHistoryError(HistoryUnreadable):
    """A channel's history could not be read, so whether a post went out is unknown.

    ``result`` is what the same failure means for a send (``PERMANENT`` when Paperboy
    lost access to the channel; ``RATE_LIMITED`` with ``retry_after``, the seconds until
    Slack lets Paperboy read again; ``TRANSIENT`` otherwise).
    """

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.reason or result.status.value, result)


def tagged(message: Mapping[str, Any], event_type: str, tag: str) -> bool:
    """Say whether *message* carries Paperboy's metadata of *event_type* with *tag*."""
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return metadata.get("event_type") == event_type and payload.get("tag") == tag


class HistoryReader:
    """Search history pages for a tagged message, paced per workspace and method by Slack's answers.

    *call* is `WorkspaceClients.call(workspace, method, *, permanent, **params)`: Slack's
    answer, or the `DeliveryResult` saying why there is none. *clock* is monotonic seconds.
    """

    def __init__(self, call: Callable[..., Awaitable[Any]], clock: Callable[[], float]) -> None:
        self._call = call
        self._clock = clock
        self._not_before: dict[tuple[str, str], float] = {}
        """(workspace, method) → when Slack lets Paperboy call it again, on `clock`."""
        self._resume: dict[tuple[Any, ...], str] = {}
        """A search cut short → the cursor of the page it reads next."""

    async def find(self, workspace: str, method: str, *, event_type: str, tag: str, sent_after: datetime | None,
                   permanent: Mapping[str, str], skip_ts: str | None = None,
                   **params: Any) -> Mapping[str, Any] | None:
        """Return the message tagged *tag* (of *event_type*, not *skip_ts*), or None when it is not there.

        Reads from *sent_after* on when given (else the newest `MAX_PAGES` pages). Raises
        `SlackHistoryError` when Slack cannot say yet: it refused, asks to wait, or there is more to read.
        """
        if sent_after is not None:
            params["oldest"] = f"{sent_after.timestamp() - CLOCK_MARGIN:.6f}"
        search = (workspace, method, event_type, tag, *sorted(params.items()))
        cursor = self._resume.pop(search, None)
        for _ in range(MAX_PAGES):
            self._check_pace(workspace, method, search, cursor)
            page = await self._call(workspace, method.replace(".", "_"), permanent=permanent, limit=PAGE_SIZE,
                                    include_all_metadata=True, cursor=cursor, **params)
            if isinstance(page, DeliveryResult):
                if page.status is DeliveryStatus.RATE_LIMITED:
                    self._not_before[(workspace, method)] = self._clock() + (page.retry_after or 0.0)
                    self._keep(search, cursor)
                raise SlackHistoryError(page)
            for message in page.get("messages") or []:
                if message.get("ts") != skip_ts and tagged(message, event_type, tag):
                    return message
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return None
        if sent_after is None:
            return None  # no claim time: the newest messages are all there is to go on
        self._keep(search, cursor)
        raise SlackHistoryError(DeliveryResult(
            DeliveryStatus.TRANSIENT,
            reason=f"more than {MAX_PAGES * PAGE_SIZE} messages since the post was claimed; reading on later"))

    def _check_pace(self, workspace: str, method: str, search: tuple[Any, ...], cursor: str | None) -> None:
        """Raise a wait, keeping the search's place, while Slack has asked not to call *method* in *workspace*."""
        wait = self._not_before.get((workspace, method), 0.0) - self._clock()
        if wait <= 0:
            return
        self._keep(search, cursor)
        raise SlackHistoryError(DeliveryResult(
            DeliveryStatus.RATE_LIMITED, retry_after=wait,
            reason=f"Slack's limit on reading history ({method}): reading again in {math.ceil(wait)} s"))

    def _keep(self, search: tuple[Any, ...], cursor: str | None) -> None:
        if cursor is not None:
            self._resume[search] = cursor
