"""Keep a paper source's HTTP calls polite: a request budget and a small retry loop."""

from __future__ import annotations

import asyncio
import collections
import re
import socket
import ssl
import time
from typing import Awaitable, Callable, Self

import httpx

from bot.sources.errors import SourceUnavailable

Sleep = Callable[[float], Awaitable[object]]
Clock = Callable[[], float]

_RATELIMIT_FIELD = re.compile(r";\s*([rt])\s*=\s*(\d+)")


class HttpSource:
    """What every paper source shares: a base URL, an httpx client it may own, `async with`.

    An ``http`` client passed in is used but not closed; the repr never shows credentials.
    """

    def __init__(self, *, base_url: str, http: httpx.AsyncClient | None) -> None:
        self.base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient()
        self._last_failure: tuple[str, float] | None = None

    def recent_failure(self, *, within: float = 60.0) -> str | None:
        """Return why the last request got no answer, if it failed within *within* seconds and nothing answered since."""
        if self._last_failure is None:
            return None
        reason, at = self._last_failure
        return reason if time.monotonic() - at <= within else None

    def _failed(self, reason: str) -> None:
        self._last_failure = (reason, time.monotonic())

    def _answered(self) -> None:
        self._last_failure = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._owns_http:
            await self._http.aclose()


class BudgetExhausted(SourceUnavailable):
    """The request budget would make us wait longer than allowed."""


class RetriesExhausted(SourceUnavailable):
    """Every attempt failed; ``str(error)`` is the short reason, without the source's name."""


class RequestBudget:
    """Allow at most *limit* requests in any *window* seconds, waiting for a slot when needed.

    A sliding window: it never exceeds the server's fixed window whatever that window's
    alignment. Share one budget across every call of a client (and across clients that
    share an IP budget). Waiting holds the lock, so waiters go in order.
    """

    def __init__(self, *, limit: int = 500, window: float = 300.0, max_wait: float = 60.0,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a request budget needs limit >= 1 and window > 0")
        self.limit, self.window, self.max_wait = limit, window, max_wait
        self._clock, self._sleep = clock, sleep
        self._sent: collections.deque[float] = collections.deque()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()

    def in_flight(self) -> int:
        """Return how many requests count against the current window."""
        self._forget_before(self._clock() - self.window)
        return len(self._sent)

    def _forget_before(self, cutoff: float) -> None:
        while self._sent and self._sent[0] <= cutoff:
            self._sent.popleft()

    async def acquire(self) -> None:
        """Wait until one more request fits, then count it; raise `BudgetExhausted` past ``max_wait``."""
        async with self._lock:
            now = self._clock()
            self._forget_before(now - self.window)
            wait = self._blocked_until - now
            if len(self._sent) >= self.limit:
                wait = max(wait, self._sent[0] + self.window - now)
            if wait > self.max_wait:
                raise BudgetExhausted(f"request budget used up, next request allowed in {wait:.0f} s")
            if wait > 0:
                await self._sleep(wait)
                # Trust the sleep even when the clock is a frozen test clock.
                now = max(self._clock(), now + wait)
                self._forget_before(now - self.window)
                while len(self._sent) >= self.limit:
                    self._sent.popleft()
            self._blocked_until = 0.0
            self._sent.append(now)

    def observe(self, headers: httpx.Headers) -> None:
        """Stop sending until the reset when the server says ``RateLimit: …;r=0;t=<s>``."""
        fields = dict(_RATELIMIT_FIELD.findall(headers.get("ratelimit", "")))
        if fields.get("r") == "0" and "t" in fields:
            self._blocked_until = max(self._blocked_until, self._clock() + int(fields["t"]))


def server_delay(headers: httpx.Headers) -> float | None:
    """Return how long the server asked us to wait (``Retry-After`` or ``RateLimit`` ``t=``), if it did."""
    delays: list[float] = []
    retry_after = headers.get("retry-after", "").strip()
    if retry_after.isdigit():  # Hugging Face sends seconds; an HTTP date falls back to backoff
        delays.append(float(retry_after))
    fields = dict(_RATELIMIT_FIELD.findall(headers.get("ratelimit", "")))
    # Hugging Face sends RateLimit on every answer; t= is a wait only once nothing remains.
    if "t" in fields and fields.get("r", "0") == "0":
        delays.append(float(fields["t"]))
    return max(delays) if delays else None


async def send_with_retries(send: Callable[[], Awaitable[httpx.Response]], *, max_retries: int,
                            sleep: Sleep = asyncio.sleep, budget: RequestBudget | None = None,
                            backoff: float = 0.5, max_delay: float = 60.0,
                            on_failure: Callable[[str], object] | None = None) -> httpx.Response:
    """Send a request, retrying 429, 5xx, timeouts and connection errors with exponential backoff.

    Return the first response that is neither 429 nor 5xx; raise `RetriesExhausted`
    (a `SourceUnavailable`) when every attempt failed or the server asks for a wait
    longer than *max_delay*. *on_failure* hears each attempt that got no answer, with the reason,
    so a caller that stops waiting early can still say what is wrong.
    """
    reason = "no attempt made"
    for attempt in range(max_retries + 1):
        if budget is not None:
            await budget.acquire()
        delay: float | None = None
        try:
            response = await send()
        except httpx.TransportError as error:
            reason = transport_reason(error)
            if on_failure is not None:
                on_failure(reason)
        else:
            if budget is not None:
                budget.observe(response.headers)
            if response.status_code != 429 and response.status_code < 500:
                return response
            reason = f"HTTP {response.status_code}"
            delay = server_delay(response.headers)
        if attempt == max_retries:
            break
        delay = backoff * 2**attempt if delay is None else delay
        if delay > max_delay:
            raise RetriesExhausted(f"{reason}, asked to wait {delay:.0f} s")
        await sleep(delay)
    raise RetriesExhausted(f"{reason} (after {max_retries + 1} attempts)")


def transport_reason(error: httpx.TransportError) -> str:
    """Say in a few words why a request got no answer: timed out, refused, unresolvable host…"""
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return "cannot resolve the host name"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ssl.SSLError):
            return "the TLS handshake failed"
        cause = cause.__cause__ or cause.__context__
    # httpcore re-raises OS errors as its own, keeping only their text.
    text = str(error).lower()
    if "name or service not known" in text or "name resolution" in text or "nodename nor servname" in text:
        return "cannot resolve the host name"
    if "connection refused" in text:
        return "connection refused"
    return f"connection failed ({type(error).__name__})"
