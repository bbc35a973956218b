"""What reaches Paperboy from Slack: read before Bolt runs anything, and each delivery run once.

Slack delivers the same thing more than once: anyone who saw a signed request can replay
it byte for byte while its timestamp is fresh (5 minutes), and the Events API retries a
delivery it thinks went unanswered, re-signed, with the same ``event_id``. `Repeats` is a
Bolt middleware (run right after Bolt's signature check) that answers such repeats 200
with nothing run. `web_app` serves Slack's HTTP requests, answering a body that is no
Slack request 400 (401 unless it is signed) instead of a 500 with a traceback.
"""

from __future__ import annotations

import heapq
import logging
import time
from typing import Any, Awaitable, Callable, Mapping

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

SIGNATURE_WINDOW = 5 * 60
"""Seconds either side of now within which slack_sdk accepts a request's timestamp."""
EVENT_WINDOW = 60 * 60
"""Seconds an ``event_id`` is remembered: Slack retries within about 5 minutes."""
MAX_REMEMBERED = 10_000
"""At most this many signatures, and as many event ids, are remembered (the soonest to expire go first)."""

_COMMAND_FIELDS = ("command", "team_id", "channel_id", "user_id", "response_url")
"""What every slash command carries and the adapter reads (besides ``text``, which may be empty)."""


class Seen:
    """Keys remembered until each one's expiry time, *limit* of them at most.

    Past the limit the key closest to its expiry is forgotten first: the one least likely
    to come back before it would have expired anyway.
    """

    def __init__(self, limit: int, *, name: str) -> None:
        self.limit = limit
        self.name = name
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._warned = False

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, key: str, *, expires: float, now: float) -> bool:
        """Remember *key* until *expires*; return False if it was already remembered (a repeat)."""
        self._forget_expired(now)
        if key in self._expiry:
            return False
        self._expiry[key] = expires
        heapq.heappush(self._heap, (expires, key))
        while len(self._expiry) > self.limit:
            self._pop_soonest()
            if not self._warned:
                self._warned = True
                log.warning("Slack: more than %d %s at once; the oldest are forgotten early", self.limit, self.name)
        return True

    def discard(self, key: str) -> None:
        """Forget *key* (its heap entry goes when it expires, or at the next compaction)."""
        self._expiry.pop(key, None)
        if len(self._heap) > 2 * self.limit:
            self._heap = [(when, k) for k, when in self._expiry.items()]
            heapq.heapify(self._heap)

    def _forget_expired(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            self._pop_soonest()

    def _pop_soonest(self) -> None:
        when, key = heapq.heappop(self._heap)
        if self._expiry.get(key) == when:  # not a stale entry left by discard()
            del self._expiry[key]


class Repeats(AsyncMiddleware):
    """Bolt middleware: answer 200, running nothing, a request or an event already accepted.

    Give it as ``AsyncApp(before_authorize=...)``: it then sees only requests whose
    signature Bolt has verified, so forged requests cannot crowd out real ones.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, limit: int = MAX_REMEMBERED) -> None:
        self.clock = clock
        self.signatures = Seen(limit, name="signed requests in 5 minutes")
        self.events = Seen(limit, name="events in an hour")

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        now = self.clock()
        signature, expires = _signature(req)
        if signature is not None and not self.signatures.add(signature, expires=expires, now=now):
            log.info("Slack: ignored a replayed request (its signature was already used)")
            return BoltResponse(status=200, body="")
        event_id = _event_id(req)
        if event_id is not None and not self.events.add(event_id, expires=now + EVENT_WINDOW, now=now):
            retry = _header(req, "x-slack-retry-num")
            reason = _header(req, "x-slack-retry-reason")
            log.info("Slack: ignored event %s delivered again%s", event_id,
                     f" (retry {retry}: {reason or 'no reason given'})" if retry else "")
            return BoltResponse(status=200, body="")
        return await next()

    def forget(self, req: AsyncBoltRequest) -> None:
        """Forget *req* as if it never came: it failed, so Slack's retry of it should run."""
        signature, _ = _signature(req)
        if signature is not None:
            self.signatures.discard(signature)
        event_id = _event_id(req)
        if event_id is not None:
            self.events.discard(event_id)


def _header(req: AsyncBoltRequest, name: str) -> str | None:
    values = req.headers.get(name) or []
    return values[0] if values else None


def _signature(req: AsyncBoltRequest) -> tuple[str | None, float]:
    """Return the request's signature and when its timestamp stops being accepted (None in Socket Mode)."""
    signature, timestamp = _header(req, "x-slack-signature"), _header(req, "x-slack-request-timestamp")
    if req.mode != "http" or not signature or timestamp is None:
        return None, 0.0
    return signature, int(timestamp) + SIGNATURE_WINDOW + 1  # Bolt has checked that it is a number


def _event_id(req: AsyncBoltRequest) -> str | None:
    body = req.body
    if body.get("type") != "event_callback":
        return None
    event_id = body.get("event_id")
    return event_id if isinstance(event_id, str) and event_id else None


class Malformed(ValueError):
    """The body of a request is nothing Slack sends; the message says why."""


def read_request(raw: bytes, *, query: str, headers: Mapping[str, str]) -> AsyncBoltRequest:
    """Build Bolt's request from one HTTP POST; raise `Malformed` when no Slack request looks like it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8") from None
    timestamp = headers.get("X-Slack-Request-Timestamp")
    if timestamp is not None and not timestamp.strip().isdigit():
        raise Malformed("X-Slack-Request-Timestamp is not a number")
    try:
        request = AsyncBoltRequest(body=text, query=query, headers=headers)  # type: ignore[arg-type]
    except Exception as error:  # Bolt's own parser: invalid JSON, or JSON it cannot read
        raise Malformed(f"Bolt cannot read the body ({type(error).__name__}: {error})"[:200]) from None
    if not request.body and "payload" in text and "payload=" not in text:
        # slack_bolt takes any body containing the word for an interaction's `payload=` form,
        # and so reads nothing from a command such as `/papers search payload`.
        raise Malformed("slack_bolt cannot read a form that contains the word 'payload' but no payload field")
    problem = _shape_problem(request.body)
    if problem is not None:
        raise Malformed(problem)
    return request


def _shape_problem(body: Any) -> str | None:
    """Say what is missing from *body* for it to be a request Slack sends, or None."""
    if not isinstance(body, dict) or not body:
        return "the body is empty or not an object"
    if "ssl_check" in body:
        return None
    if "command" in body:
        missing = [name for name in _COMMAND_FIELDS if not _text(body.get(name))]
        if not isinstance(body.get("text"), str):
            missing.append("text")
        return f"a slash command without {', '.join(missing)}" if missing else None
    kind = body.get("type")
    if not _text(kind):
        return "neither a slash command, an event nor an interaction (no command, no type)"
    if kind == "url_verification":
        return None if _text(body.get("challenge")) else "a url_verification without its challenge"
    if kind == "event_callback":
        return _event_problem(body)
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not all(
            isinstance(action, dict) and _text(action.get("action_id")) for action in actions
        ):
            return "a block_actions payload without its actions"
        user = body.get("user")
        if not isinstance(user, dict) or not _text(user.get("id")):
            return "a block_actions payload without the user who clicked"
    return None


def _event_problem(body: dict[str, Any]) -> str | None:
    event = body.get("event")
    if not _text(body.get("event_id")) or not isinstance(event, dict) or not _text(event.get("type")):
        return "an event_callback without its event_id, or its event and type"
    if event["type"] == "app_mention":
        if not isinstance(event.get("text"), str) or not _text(event.get("channel")) or not (
            event.get("user") is None or isinstance(event.get("user"), str)
        ):
            return "an app_mention event without its text and channel"
    return None


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


class _Server:
    """Bolt's aiohttp endpoints for *app*: Slack's POSTs read with `read_request`, then OAuth's GETs."""

    def __init__(self, app: AsyncApp, *, signing_secret: str, repeats: Repeats) -> None:
        self.app = app
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.repeats = repeats

    async def post(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            bolt_request = read_request(raw, query=request.query_string, headers=request.headers)
        except Malformed as problem:
            return self._refuse(raw, request.headers, problem)
        response = await self.app.async_dispatch(bolt_request)
        if response.status >= 500:
            self.repeats.forget(bolt_request)
        return await to_aiohttp_response(response)

    def _refuse(self, raw: bytes, headers: Mapping[str, str], problem: Malformed) -> web.Response:
        # 400 only to Slack; anyone else gets what Bolt gives any unsigned request. A body
        # that is not UTF-8 cannot be checked (slack_sdk signs text) and is refused either way.
        if not str(problem).startswith("the body is not UTF-8") and not self._signed(raw, headers):
            return web.json_response({"error": "invalid request"}, status=401)
        log.warning("Slack: refused a request: %s", problem)
        return web.json_response({"error": f"bad request: {problem}"}, status=400)

    def _signed(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        if self.verifier is None:
            return False
        try:
            return self.verifier.is_valid_request(raw, dict(headers))
        except ValueError:  # a timestamp that is not a number
            return False

    async def get(self, request: web.Request) -> web.Response:
        flow = self.app.oauth_flow
        assert flow is not None
        # A GET's body means nothing here: not reading it spares Bolt a body it could choke on.
        bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)  # type: ignore[arg-type]
        if request.path == flow.install_path:
            response = await flow.handle_installation(bolt_request)
        else:
            response = await flow.handle_callback(bolt_request)
        return await to_aiohttp_response(response)


def web_app(app: AsyncApp, *, path: str, signing_secret: str, repeats: Repeats) -> web.Application:
    """Return the aiohttp application serving Slack's requests at *path* (and the OAuth pages, if any)."""
    server = _Server(app, signing_secret=signing_secret, repeats=repeats)
    application = web.Application()
    application.router.add_post(path, server.post)
    if app.oauth_flow is not None:
        application.router.add_get(app.oauth_flow.install_path, server.get)
        application.router.add_get(app.oauth_flow.redirect_uri_path, server.get)
    return application
