"""A fake Slack on 127.0.0.1: Web API, command ``response_url``s and a Socket Mode server.

    async with FakeSlack() as slack:
        settings = Settings(slack_api_url=slack.api_url, ...)
        slack.fail("chat.postMessage", "not_in_channel")
        ...
        call = slack.calls_to("chat.postMessage")[0]

Tests queue failures into it and inspect what the real slack_sdk sent (opsdroid's
external_api pattern). Everything it records is plain data: method, token, params.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

BOT_USER_ID = "UPAPERBOY"
BOT_ID = "BPAPERBOY"
APP_ID = "APAPERBOY"


@dataclass
class ApiCall:
    """One Web API call as the fake received it."""

    method: str
    token: str | None
    params: dict[str, Any]


@dataclass
class Failure:
    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    times: int = 1


@dataclass
class SocketEnvelope:
    """What the app answered on the Socket Mode connection for one envelope."""

    envelope_id: str
    payload: dict[str, Any] | None = None


@dataclass
class FakeSlack:
    """Slack's Web API, response URLs and Socket Mode, served from one loopback aiohttp app."""

    tokens: dict[str, str] = field(default_factory=lambda: {"xoxb-test": "T1"})
    """Bot token → team id: the tokens ``auth.test`` accepts."""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    """User id → ``users.info`` user object (``is_admin``, ``is_owner``)."""
    oauth_codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    """OAuth code → (team id, bot token) that ``oauth.v2.access`` hands out."""

    def __post_init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.responses: list[dict[str, Any]] = []
        self.socket_acks: list[SocketEnvelope] = []
        self._failures: dict[str, list[Failure]] = {}
        self._new_response = asyncio.Condition()
        self._new_ack = asyncio.Condition()
        self._new_call = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_connected = asyncio.Event()
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)  # slack_sdk GETs some methods
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """The Web API base URL to give slack_sdk (``PAPERBOY_SLACK_API_URL``)."""
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "r") -> str:
        """A ``response_url`` for a slash command; what the app posts there lands in `responses`."""
        return f"{self.base_url}/response/{name}"

    # -- scripting -------------------------------------------------------------------

    def fail(self, method: str, error: str, *, status: int = 200, times: int = 1) -> None:
        """Make the next *times* calls to *method* answer ``{"ok": false, "error": error}``."""
        self._failures.setdefault(method, []).append(Failure(error=error, status=status, times=times))

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Make the next *times* calls to *method* answer HTTP 429 with ``Retry-After``."""
        self._failures.setdefault(method, []).append(
            Failure(error="ratelimited", status=429, retry_after=retry_after, times=times)
        )

    def calls_to(self, method: str) -> list[ApiCall]:
        """Return the recorded calls to *method*, oldest first."""
        return [call for call in self.calls if call.method == method]

    async def wait_for_call(self, method: str, *, count: int = 1, timeout: float = 10.0) -> list[ApiCall]:
        """Wait until *method* was called *count* times; return those calls."""
        async with self._new_call:
            await asyncio.wait_for(
                self._new_call.wait_for(lambda: len(self.calls_to(method)) >= count), timeout
            )
        return self.calls_to(method)

    async def wait_for_response(self, *, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until *count* bodies were posted to response URLs; return the last of them."""
        async with self._new_response:
            await asyncio.wait_for(self._new_response.wait_for(lambda: len(self.responses) >= count), timeout)
        return self.responses[count - 1]

    # -- Socket Mode -----------------------------------------------------------------

    async def wait_for_socket(self, timeout: float = 10.0) -> None:
        """Wait until an app has connected to the Socket Mode endpoint."""
        await asyncio.wait_for(self._socket_connected.wait(), timeout)

    async def push_envelope(self, envelope_type: str, payload: dict[str, Any], *,
                            accepts_response_payload: bool = True) -> str:
        """Send one Socket Mode envelope to the connected app; return its ``envelope_id``."""
        envelope_id = f"env-{next(self._ts)}"
        message = {"type": envelope_type, "envelope_id": envelope_id, "payload": payload,
                   "accepts_response_payload": accepts_response_payload, "retry_attempt": 0,
                   "retry_reason": ""}
        await self._sockets[-1].send_str(json.dumps(message))
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, *, timeout: float = 10.0) -> SocketEnvelope:
        """Wait for the app's acknowledgement of *envelope_id*."""
        def found() -> SocketEnvelope | None:
            return next((ack for ack in self.socket_acks if ack.envelope_id == envelope_id), None)

        async with self._new_ack:
            await asyncio.wait_for(self._new_ack.wait_for(lambda: found() is not None), timeout)
        ack = found()
        assert ack is not None
        return ack

    # -- handlers --------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
        async with self._new_call:
            self.calls.append(ApiCall(method, token, params))
            self._new_call.notify_all()
        failure = self._next_failure(method)
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return web.json_response({"ok": False, "error": failure.error}, status=failure.status, headers=headers)
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(handler(token, params))

    def _next_failure(self, method: str) -> Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _api_auth_test(self, token: str | None, params: dict) -> dict:
        team = self.tokens.get(token or "")
        if team is None:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": f"https://{team.lower()}.slack.com/", "team": f"Team {team}",
                "user": "paperboy", "team_id": team, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
                "is_enterprise_install": False}

    def _api_users_info(self, token: str | None, params: dict) -> dict:
        user = self.users.get(params.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": params["user"], "name": params["user"].lower(), **user}}

    def _api_chat_postMessage(self, token: str | None, params: dict) -> dict:
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        return {"ok": True, "channel": params.get("channel"), "ts": ts,
                "message": {"type": "message", "text": params.get("text"), "bot_id": BOT_ID, "ts": ts}}

    def _api_chat_postEphemeral(self, token: str | None, params: dict) -> dict:
        return {"ok": True, "message_ts": f"{int(time.time())}.{next(self._ts):06d}"}

    def _api_apps_connections_open(self, token: str | None, params: dict) -> dict:
        if not (token or "").startswith("xapp-"):
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": f"{self.base_url.replace('http', 'ws', 1)}/socket"}

    def _api_oauth_v2_access(self, token: str | None, params: dict) -> dict:
        grant = self.oauth_codes.get(params.get("code", ""))
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        team, bot_token = grant
        self.tokens[bot_token] = team
        return {"ok": True, "app_id": APP_ID, "authed_user": {"id": "UINSTALLER"},
                "scope": "commands,chat:write", "token_type": "bot", "access_token": bot_token,
                "bot_user_id": BOT_USER_ID, "team": {"id": team, "name": f"Team {team}"},
                "enterprise": None, "is_enterprise_install": False}

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self._new_response:
            self.responses.append({"name": request.match_info["name"], **body})
            self._new_response.notify_all()
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": APP_ID}}))
        self._socket_connected.set()
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            async with self._new_ack:
                self.socket_acks.append(SocketEnvelope(data.get("envelope_id", ""), data.get("payload")))
                self._new_ack.notify_all()
        self._sockets.remove(ws)
        return ws


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return await request.json()
    form = await request.post()
    params: dict[str, Any] = dict(request.query)
    for key, value in form.items():
        params[key] = value if isinstance(value, str) else value.file.read().decode()
    for key in ("blocks", "metadata"):  # slack_sdk sends these JSON-encoded inside forms
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def signed_headers(secret: str, body: str, *, timestamp: int | None = None,
                   content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
    """Return the headers Slack sends with *body*: timestamp and ``v0=`` HMAC-SHA256 signature."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature, "Content-Type": content_type}


def slash_command_body(text: str, *, response_url: str, team_id: str = "T1", channel_id: str = "C1",
                       user_id: str = "U1", user_name: str = "ada") -> str:
    """Return the form body Slack posts for ``/papers <text>``."""
    return urlencode({
        "token": "legacy-verification", "team_id": team_id, "team_domain": team_id.lower(),
        "channel_id": channel_id, "channel_name": "papers", "user_id": user_id, "user_name": user_name,
        "command": "/papers", "text": text, "api_app_id": APP_ID, "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": "1.2.3",
    })


def mention_event_body(text: str, *, team_id: str = "T1", channel_id: str = "C1", user_id: str = "U1",
                       event_id: str = "Ev1") -> str:
    """Return the JSON body of an ``app_mention`` event callback."""
    return json.dumps({
        "token": "legacy-verification", "team_id": team_id, "api_app_id": APP_ID, "type": "event_callback",
        "event_id": event_id, "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": BOT_USER_ID,
                            "is_bot": True, "is_enterprise_install": False}],
        "event": {"type": "app_mention", "user": user_id, "text": f"<@{BOT_USER_ID}> {text}",
                  "ts": "1700000000.000100", "channel": channel_id, "event_ts": "1700000000.000100",
                  "team": team_id},
    })
