"""Pace sends to stay inside each platform's rate limits, per channel, workspace and bot."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Awaitable, Callable, Sequence

from bot.channels import ChannelRef
from bot.delivery import RateLimit

# The platform counts a message when it arrives, a little after we count it when we send:
# a small margin keeps network jitter from ever tipping a window over its limit.
_MARGIN = 1.02
_SLACK = 0.01


class _Window:
    """The send times inside one sliding window of one limit."""

    def __init__(self, limit: RateLimit) -> None:
        self.count = limit.count
        self.per = limit.per * _MARGIN + _SLACK
        self.sent: collections.deque[float] = collections.deque()

    def wait(self, now: float) -> float:
        while self.sent and self.sent[0] <= now - self.per:
            self.sent.popleft()
        return 0.0 if len(self.sent) < self.count else self.sent[0] + self.per - now


class Pacer:
    """Admit a send only when every limit that covers it has room (sliding windows).

    All of a send's windows are checked and recorded together, with no await in
    between, so a send never holds one window's slot while waiting for another's.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self._clock, self._sleep = clock, sleep
        self._windows: dict[tuple[str, str, str], _Window] = {}

    async def wait(self, platform: str, channel: ChannelRef, limits: Sequence[RateLimit]) -> float:
        """Wait until a send to *channel* fits every limit; return how long it waited."""
        windows = [self._window(platform, channel, limit) for limit in limits]
        started = self._clock()
        while True:
            now = self._clock()
            delay = max((w.wait(now) for w in windows), default=0.0)
            if delay <= 0:
                for window in windows:
                    window.sent.append(now)
                return now - started
            await self._sleep(delay)

    def _window(self, platform: str, channel: ChannelRef, limit: RateLimit) -> _Window:
        scope_key = {"channel": f"{channel.workspace}/{channel.channel}", "workspace": channel.workspace}
        key = (platform, limit.scope, scope_key.get(limit.scope, "*"))
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(limit)
        return window
