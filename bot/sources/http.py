"""Keep a paper source's HTTP calls polite and bounded: a request budget, a small retry loop,
a total deadline per request and a cap on what one answer may weigh."""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import re
import socket
import ssl
import time
import zlib
from dataclasses import dataclass
from functools import cache
from typing import Any, Awaitable, Callable, Self

import httpx

from bot.sources.errors import MalformedResponse, SourceUnavailable
from bot.model.wording import plural

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[object]]
Clock = Callable[[], float]

_RATELIMIT_FIELD = re.compile(r";\s*([rt])\s*=\s*(\d+)")

MAX_BODY = 10 * 2**20
"""The most one answer may weigh (after decompression). A day's 100 papers are well under 1 MB;
a famous paper's page with thousands of linked models a few MB."""
MAX_SERVER_WAIT = 300.0
"""The longest we honour a server's ``Retry-After`` or ``RateLimit`` ``t=``: Hugging Face's
rate-limit window is 5 minutes, so a longer wait is a mistake (or hostile), and we try again after this."""
DEADLINE_PER_TIMEOUT = 3
"""A request's total deadline, by default, in multiples of its (per read) timeout."""


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every source's client: each loads the whole CA bundle (about 1 MB) otherwise."""
    return httpx.create_ssl_context()


class HttpSource:
    """What every paper source shares: a base URL, an httpx client it may own, `async with`.

    An ``http`` client passed in is used but not closed; the repr never shows credentials.
    """

    name = "the source"
    """How a user knows the source: "Hugging Face", "arXiv"."""

    def __init__(self, *, base_url: str, http: httpx.AsyncClient | None,
                 budget: RequestBudget | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(verify=_tls())
        self._last_failure: tuple[str, float] | None = None
        self._budget = budget

    def waiting(self) -> str | None:
        """Say in one line why requests are held back now, or None when they are not.

        "Hugging Face asked us to wait 999999 s; trying again in 300 s" while a server's wait
        (capped at `MAX_SERVER_WAIT`) is in force; "request budget used up (500 requests in 300 s);
        trying again in 12 s" while our own budget is spent.
        """
        if self._budget is None:
            return None
        server = self._budget.server_wait()
        if server is not None:
            asked, remaining = server
            return f"{self.name} asked us to wait {_seconds(asked)} s; trying again in {_seconds(remaining)} s"
        remaining = self._budget.full_for()
        if remaining:
            return (f"request budget used up ({plural(self._budget.limit, 'request')} "
                    f"in {_seconds(self._budget.window)} s); "
                    f"trying again in {_seconds(remaining)} s")
        return None

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


def _seconds(value: float) -> str:
    """Whole seconds for a person, rounded up so that a wait still in force never reads "0 s"."""
    return f"{max(0, math.ceil(value - 1e-9)):d}"


class BodyTooLarge(MalformedResponse):
    """The answer weighs more than `MAX_BODY`; not retried (the same request would get the same)."""


class DeadlineExceeded(httpx.TimeoutException):
    """The whole request, body included, took longer than its deadline: a timeout like any other."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete HTTP answer of bounded size, read within a deadline."""

    status_code: int
    headers: httpx.Headers
    content: bytes | bytearray
    """Empty for a 4xx or 5xx: nothing reads an error's body."""


def default_deadline(timeout: float, deadline: float | None) -> float:
    """Return *deadline*, or `DEADLINE_PER_TIMEOUT` times the per-read *timeout* when it is None."""
    if deadline is None:
        return DEADLINE_PER_TIMEOUT * timeout
    if deadline <= 0:
        raise ValueError(f"a deadline must be positive, not {deadline}")
    return deadline


async def fetch(http: httpx.AsyncClient, url: str, *, params: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None, timeout: float, deadline: float,
                max_body: int = MAX_BODY, where: str) -> Answer:
    """GET *url*, reading at most *max_body* bytes of body, all within *deadline* seconds.

    httpx's *timeout* bounds each read; the deadline bounds the whole request, so a body that
    trickles in a byte at a time ends too. Past the deadline raise `DeadlineExceeded`
    (an ``httpx.TimeoutException``, retried like one); past *max_body*, or when the declared
    ``Content-Length`` is over it, stop reading and raise `BodyTooLarge` saying "*where* answered
    with more than N MB". A gzip body counts as it inflates, never more than *max_body* at once.
    """
    headers = {**(headers or {}), "Accept-Encoding": "gzip"}  # the one encoding we inflate ourselves
    try:
        async with asyncio.timeout(deadline):
            async with http.stream("GET", url, params=params, headers=headers, timeout=timeout) as response:
                if response.status_code >= 400:
                    return Answer(response.status_code, response.headers, b"")
                declared = response.headers.get("content-length", "").strip()
                if declared.isdigit() and int(declared) > max_body:
                    raise BodyTooLarge(f"{where} answered with more than {_size(max_body)}")
                body = await _bounded_body(response, max_body=max_body, where=where)
                return Answer(response.status_code, response.headers, body)
    except TimeoutError:
        raise DeadlineExceeded(f"no complete answer within {deadline:g} s") from None


async def _bounded_body(response: httpx.Response, *, max_body: int, where: str) -> bytearray:
    """Read and inflate *response*'s body, stopping as soon as it would pass *max_body* bytes."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        inflater = None
    elif encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    else:  # httpx would inflate it in one go, however large: we asked for gzip only
        raise MalformedResponse(f"{where} answered in an encoding it was not asked for ({_short_text(encoding)})")
    body = bytearray()
    try:
        async for raw in response.aiter_raw():
            if inflater is None:
                body += raw
            while inflater is not None and raw:
                # At most 1 MB at a time, and never more than one byte past the room left: getting
                # that byte means too large.
                out = inflater.decompress(raw, min(max_body - len(body) + 1, _INFLATE_STEP))
                if not out and inflater.unconsumed_tail == raw:
                    raise zlib.error("no progress")
                body += out
                raw = inflater.unconsumed_tail
                if len(body) > max_body:
                    break
            if len(body) > max_body:
                raise BodyTooLarge(f"{where} answered with more than {_size(max_body)}")
        if inflater is not None:
            body += inflater.flush()
    except zlib.error:
        raise MalformedResponse(f"{where} answered with a gzip body that does not inflate") from None
    if len(body) > max_body:
        raise BodyTooLarge(f"{where} answered with more than {_size(max_body)}")
    return body


_INFLATE_STEP = 2**20


def _short_text(text: str) -> str:
    return repr(text[:40])


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**20:g} MB" if nbytes >= 2**20 else f"{nbytes:,} bytes"


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
                 max_server_wait: float = MAX_SERVER_WAIT, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep, name: str = "the server") -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a request budget needs limit >= 1 and window > 0")
        self.limit, self.window, self.max_wait = limit, window, max_wait
        self.max_server_wait = max_server_wait
        self.name = name
        """Who asks for the waits, for the log: the client sets it."""
        self._clock, self._sleep = clock, sleep
        self._sent: collections.deque[float] = collections.deque()
        self._blocked_until = 0.0
        self._asked = 0.0
        """The wait the server asked for, uncapped, while `_blocked_until` is in force."""
        self._lock = asyncio.Lock()

    def server_wait(self) -> tuple[float, float] | None:
        """Return (the wait the server asked for, seconds still held back) while a server's wait holds, else None."""
        remaining = self._blocked_until - self._clock()
        return (self._asked, remaining) if remaining > 0 else None

    def full_for(self) -> float:
        """Return how many seconds until our own budget has room again (0 when it has room now)."""
        now = self._clock()
        self._forget_before(now - self.window)
        return max(0.0, self._sent[0] + self.window - now) if len(self._sent) >= self.limit else 0.0

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
            server_wait = self._blocked_until - now
            own_wait = self._sent[0] + self.window - now if len(self._sent) >= self.limit else 0.0
            wait = max(server_wait, own_wait)
            held_by_server = server_wait > 0 and server_wait >= own_wait
            if wait > self.max_wait:
                if held_by_server:
                    raise BudgetExhausted(f"asked to wait {_seconds(self._asked)} s; "
                                          f"next request allowed in {_seconds(wait)} s")
                raise BudgetExhausted(f"request budget used up, next request allowed in {wait:.0f} s")
            if wait > 0:
                if held_by_server and wait >= 1:
                    log.info("%s asked us to wait %s s; trying again in %s s",
                             self.name, _seconds(self._asked), _seconds(wait))
                await self._sleep(wait)
                # Trust the sleep even when the clock is a frozen test clock.
                now = max(self._clock(), now + wait)
                self._forget_before(now - self.window)
                while len(self._sent) >= self.limit:
                    self._sent.popleft()
            self._blocked_until = 0.0
            self._sent.append(now)

    def observe(self, headers: httpx.Headers, status_code: int = 200) -> None:
        """Stop sending for as long as the server asks, up to `max_server_wait`.

        It asks with ``RateLimit: …;r=0;t=<s>`` on any answer, and with ``Retry-After`` on a 429 or 5xx.
        """
        asked = server_delay(headers, retry_after=status_code == 429 or status_code >= 500)
        if not asked or asked <= 0:
            return
        now = self._clock()
        wait = min(asked, self.max_server_wait)
        if wait < asked:
            log.warning("%s asked us to wait %s s, longer than its %s s rate-limit window; trying again in %s s",
                        self.name, _seconds(asked), _seconds(self.max_server_wait), _seconds(wait))
        if now + wait > self._blocked_until:
            self._blocked_until, self._asked = now + wait, asked


def server_delay(headers: httpx.Headers, *, retry_after: bool = True) -> float | None:
    """Return how long the server asked us to wait (``Retry-After`` or ``RateLimit`` ``t=``), if it did."""
    delays: list[float] = []
    retry_after_text = headers.get("retry-after", "").strip() if retry_after else ""
    # Hugging Face sends seconds; an HTTP date falls back to backoff. Absurd lengths are not numbers.
    if retry_after_text.isdigit() and len(retry_after_text) <= 12:
        delays.append(float(retry_after_text))
    fields = dict(_RATELIMIT_FIELD.findall(headers.get("ratelimit", "")))
    # Hugging Face sends RateLimit on every answer; t= is a wait only once nothing remains.
    if "t" in fields and fields.get("r", "0") == "0" and len(fields["t"]) <= 12:
        delays.append(float(fields["t"]))
    return max(delays) if delays else None


AnyResponse = Answer | httpx.Response


async def send_with_retries(send: Callable[[], Awaitable[AnyResponse]], *, max_retries: int,
                            sleep: Sleep = asyncio.sleep, budget: RequestBudget | None = None,
                            backoff: float = 0.5, max_delay: float = 60.0,
                            on_failure: Callable[[str], object] | None = None) -> AnyResponse:
    """Send a request, retrying 429, 5xx, timeouts and connection errors with exponential backoff.

    Return the first response that is neither 429 nor 5xx; raise `RetriesExhausted`
    (a `SourceUnavailable`) when every attempt failed or the server asks for a wait
    longer than *max_delay* (the *budget*, when given, still holds back later requests for
    that wait, up to its ``max_server_wait``). *on_failure* hears each attempt that got no
    answer, with the reason, so a caller that stops waiting early can still say what is wrong.
    Any other error of *send* (a `BodyTooLarge`, say) is not retried.
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
                budget.observe(response.headers, response.status_code)
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
    raise RetriesExhausted(f"{reason} (after {plural(max_retries + 1, 'attempt')})")


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
