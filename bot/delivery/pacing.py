"""Pace sends to stay inside each platform's rate limits, per channel, workspace and bot."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Sequence

from bot.model.channels import ChannelRef
from bot.ports.adapter import RateLimit

# A send counts from when its request completes, which is never before the platform saw it;
# the margin covers clock granularity and the platform's own rounding.
_MARGIN = 1.01


class Slot:
    """One send's place in its windows: in flight until `Pacer.done` stamps its completion."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = None


class _Window:
    """The sends inside one sliding window of one limit."""

    def __init__(self, limit: RateLimit) -> None:
        self.count = limit.count
        self.per = limit.per * _MARGIN
        self.slots: list[Slot] = []

    def delay(self, now: float) -> float:
        """Return how long until one more send fits (0: now). A send in flight counts as now."""
        if len(self.slots) < self.count:
            return 0.0  # room even counting every slot kept: nothing to forget yet
        self.slots = [s for s in self.slots if s.at is None or s.at > now - self.per]
        if len(self.slots) < self.count:
            return 0.0
        times = sorted(now if s.at is None else s.at for s in self.slots)
        return max(0.0, times[len(times) - self.count] + self.per - now)


class _Scopes:
    """The windows of one channel's sends: its own, and those it shares (with the lock that queues for them)."""

    __slots__ = ("limits", "own", "windows", "lock")

    def __init__(self, limits: Sequence[RateLimit], own: list[_Window], shared: list[_Window],
                 lock: asyncio.Lock | None) -> None:
        self.limits, self.own, self.windows, self.lock = limits, tuple(own), (*own, *shared), lock


class Pacer:
    """Admit a send only when every limit that covers it has room (sliding windows).

    A channel's own windows are waited on first, without holding anything. Windows
    shared by many channels (a workspace, the whole bot) are then waited on one
    sender at a time, in arrival order, so a thousand waiting channels do not all
    wake for every freed slot. A send occupies its slots from admission until
    `done`, and counts from its completion time.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self._clock, self._sleep = clock, sleep
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._locks: dict[tuple, asyncio.Lock] = {}
        self._scopes: dict[tuple[str, ChannelRef], _Scopes] = {}
        """A channel's windows, found once: every send asks for them."""

    async def wait(self, platform: str, channel: ChannelRef, limits: Sequence[RateLimit]) -> Slot:
        """Wait until a send to *channel* fits every limit; return its slot for `done`."""
        scopes = self._scopes_of(platform, channel, limits)
        await self._until_free(scopes.own)
        slot = Slot()
        if scopes.lock is not None:
            async with scopes.lock:
                await self._until_free(scopes.windows)
                for window in scopes.windows:
                    window.slots.append(slot)
        else:
            for window in scopes.own:
                window.slots.append(slot)
        return slot

    def admit_now(self, platform: str, channel: ChannelRef, limits: Sequence[RateLimit]) -> Slot | None:
        """Return a slot at once when every limit has room now and nobody waits on a shared one; else None.

        The common case of a send that need not wait, without the tasks `wait` costs.
        """
        scopes = self._scopes_of(platform, channel, limits)
        if scopes.lock is not None and scopes.lock.locked():
            return None  # others wait in line for a shared window: join the line
        now = self._clock()
        for window in scopes.windows:
            if window.delay(now) > 0:
                return None
        slot = Slot()
        for window in scopes.windows:
            window.slots.append(slot)
        return slot

    def _scopes_of(self, platform: str, channel: ChannelRef, limits: Sequence[RateLimit]) -> _Scopes:
        scopes = self._scopes.get((platform, channel))
        if scopes is None or scopes.limits is not limits:  # limits are a platform's constant; a test may swap them
            own = [self._window(platform, channel, limit) for limit in limits if limit.scope == "channel"]
            shared_limits = [limit for limit in limits if limit.scope != "channel"]
            shared = [self._window(platform, channel, limit) for limit in shared_limits]
            keys = tuple(self._key(platform, channel, limit) for limit in shared_limits)
            lock = self._locks.setdefault(keys, asyncio.Lock()) if shared else None
            scopes = self._scopes[(platform, channel)] = _Scopes(limits, own, shared, lock)
        return scopes

    def done(self, slot: Slot) -> None:
        """Record that the send holding *slot* has completed."""
        slot.at = self._clock()

    async def _until_free(self, windows: Sequence[_Window]) -> None:
        while True:
            delay = max((w.delay(self._clock()) for w in windows), default=0.0)
            if delay <= 0:
                return
            await self._sleep(delay)

    def _key(self, platform: str, channel: ChannelRef, limit: RateLimit) -> tuple[str, str, str]:
        scope_key = {"channel": f"{channel.workspace}/{channel.channel}", "workspace": channel.workspace}
        return (platform, limit.scope, scope_key.get(limit.scope, "*"))

    def _window(self, platform: str, channel: ChannelRef, limit: RateLimit) -> _Window:
        key = self._key(platform, channel, limit)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(limit)
        return window
