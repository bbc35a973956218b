"""A fake Slack on 127.0.0.1: Web API, command ``response_url``s and a Socket Mode server.

    async with FakeSlack() as slack:
        settings = Settings(slack_api_url=slack.api_url, ...)
        slack.fail("chat.postMessage", "not_in_channel")
        slack.answer_raw("conversations.history", "<html>502 Bad Gateway</html>", status=502)
        ...
        call = slack.calls_to("chat.postMessage")[0]
        [upload] = slack.files_in(slack.dm_channel("U1"))  # files_upload_v2's three steps, done

Tests queue failures into it and inspect what the real slack_sdk sent (opsdroid's
external_api pattern). Everything it records is plain data: method, token, params.

It also keeps what a real workspace keeps: every message it accepted, per channel, for
as long as the fake runs (so across any number of bot restarts), readable back through
``conversations.history`` and `posted_paper_ids`. ``chat.postMessage`` is rate limited
like Slack: at most ``channel_limit`` accepted messages per channel and ``workspace_limit``
per workspace, each a *sliding* window ``(count, seconds)`` measured on arrival; past
either, it answers HTTP 429 ``ratelimited`` with an integer ``Retry-After`` (the seconds
until the window has room, rounded up) and counts it in `count_429`. Given `history_limit` and
`history_page_max`, history reads are limited as Slack limits apps outside its Marketplace
(one call a minute per workspace, 15 messages a page); they honour ``oldest`` and ``cursor``.

Files arrive as ``files_upload_v2`` sends them: ``files.getUploadURLExternal`` hands out
an upload URL on the fake itself, the bytes are POSTed there, and
``files.completeUploadExternal`` shares them in a channel (`files_in` reads them back).
``conversations.open`` with ``users=U1`` opens the direct message `dm_channel` ``("U1")``.

Threads work as in Slack: ``chat.postMessage`` with ``thread_ts`` replies to a top-level
message of the channel (``thread_not_found`` if there is none), ``conversations.replies``
reads a thread back (the parent first, then its replies, oldest first), and thread replies
are in neither ``conversations.history`` nor `posted_paper_ids`: they are not posts.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import math
import time
from collections import deque
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
    body: str | None = None
    """Answered as is instead of Slack's JSON (a proxy's page), with ``content_type``."""
    content_type: str = "application/json"


@dataclass
class UploadedFile:
    """One file shared through ``files.completeUploadExternal``, as the fake keeps it."""

    id: str
    filename: str
    content: bytes
    channel_id: str | None
    title: str | None
    initial_comment: str | None
    team: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")


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
    channel_limit: tuple[int, float] | None = (1, 1.0)
    """``chat.postMessage``: at most this many accepted messages per channel per seconds (None: no limit)."""
    workspace_limit: tuple[int, float] | None = (300, 60.0)
    """``chat.postMessage``: at most this many accepted messages per workspace per seconds (None: no limit)."""
    latency: dict[str, float] = field(default_factory=dict)
    """Method → seconds the fake takes before answering it, so that a test can catch calls in flight."""
    history_limit: tuple[int, float] | None = None
    """``conversations.history`` and ``conversations.replies``: at most this many calls per workspace per
    seconds, each method on its own (None: no limit). Slack's for apps outside the Marketplace: ``(1, 60.0)``."""
    history_page_max: int | None = None
    """The most messages one of those calls returns, whatever its ``limit`` (outside the Marketplace: 15)."""
    scopes: list[str] | None = None
    """The bot scopes ``auth.test`` lists in its ``x-oauth-scopes`` header (None: all the manifest asks for)."""

    def __post_init__(self) -> None:
        self.count_429 = 0
        """How many HTTP 429 answers the fake has given (enforced limits and scripted ones)."""
        self.archived: set[str] = set()
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._accepted: dict[tuple[str, str], deque[float]] = {}
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
        self._pending_files: dict[str, dict[str, Any]] = {}
        """File id → what ``files.getUploadURLExternal`` was told (and ``content`` once uploaded)."""
        self.files: list[UploadedFile] = []
        """Every file shared by ``files.completeUploadExternal``, oldest first."""
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)  # slack_sdk GETs some methods
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
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

    def answer_raw(self, method: str, body: str, *, status: int = 502, content_type: str = "text/html",
                   times: int = 1) -> None:
        """Make the next *times* calls to *method* answer *body* as is: what a proxy in front of Slack says.

        The Content-Type is exactly *content_type* (``application/json`` with a body that is
        not JSON is allowed too); then the method answers normally again.
        """
        self._failures.setdefault(method, []).append(
            Failure(status=status, times=times, body=body, content_type=content_type)
        )

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Make the next *times* calls to *method* answer HTTP 429 with ``Retry-After``."""
        self._failures.setdefault(method, []).append(
            Failure(error="ratelimited", status=429, retry_after=retry_after, times=times)
        )

    def archive(self, channel_id: str) -> None:
        """Archive *channel_id*: posting there now fails with ``is_archived``; its history stays readable."""
        self.archived.add(channel_id)

    def messages_in(self, channel_id: str) -> list[dict[str, Any]]:
        """Return copies of the messages accepted in *channel_id* (as edited since), oldest first."""
        return copy.deepcopy(self._messages.get(channel_id, []))

    def posted_paper_ids(self, channel_id: str) -> list[str]:
        """Return every paper id of every accepted top-level message in *channel_id*, in posting order.

        Ids come from each message's current metadata ``event_payload.paper_ids``, so a
        paper posted twice appears twice. Thread replies are left out: they are not posts.
        """
        return [
            paper_id
            for message in self._messages.get(channel_id, [])
            if not _is_reply(message)
            for paper_id in ((message.get("metadata") or {}).get("event_payload") or {}).get("paper_ids", [])
        ]

    def replies_to(self, channel_id: str, ts: str) -> list[dict[str, Any]]:
        """Return copies of the thread replies to the message *ts* in *channel_id*, oldest first."""
        return [copy.deepcopy(m) for m in self._messages.get(channel_id, [])
                if _is_reply(m) and m["thread_ts"] == ts]

    def files_in(self, channel_id: str) -> list[UploadedFile]:
        """Return copies of the files shared in *channel_id*, oldest first."""
        return [copy.deepcopy(f) for f in self.files if f.channel_id == channel_id]

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """Return the id of the direct-message channel the app gets when it posts to *user_id*."""
        return "D" + user_id

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
        if self.latency.get(method):
            await asyncio.sleep(self.latency[method])
        failure = self._next_failure(method)
        if failure is not None:
            if failure.status == 429:
                self.count_429 += 1
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            if failure.body is not None:
                return web.Response(body=failure.body.encode(), status=failure.status,
                                    headers={**headers, "Content-Type": failure.content_type})
            return web.json_response({"ok": False, "error": failure.error}, status=failure.status, headers=headers)
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        if method.startswith(("chat.", "conversations.", "files.")) and token not in self.tokens:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        answer = handler(token, params)
        if isinstance(answer, web.Response):
            return answer
        return web.json_response(answer)

    def _next_failure(self, method: str) -> Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _api_auth_test(self, token: str | None, params: dict) -> dict | web.Response:
        team = self.tokens.get(token or "")
        if team is None:
            return {"ok": False, "error": "invalid_auth"}
        scopes = _manifest_bot_scopes() if self.scopes is None else self.scopes
        return web.json_response(
            {"ok": True, "url": f"https://{team.lower()}.slack.com/", "team": f"Team {team}",
             "user": "paperboy", "team_id": team, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
             "is_enterprise_install": False},
            headers={"x-oauth-scopes": ",".join(scopes)})  # as Slack answers for a bot token

    def _api_users_info(self, token: str | None, params: dict) -> dict:
        user = self.users.get(params.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": params["user"], "name": params["user"].lower(), **user}}

    def _api_chat_postMessage(self, token: str | None, params: dict) -> dict | web.Response:
        team = self.tokens[token or ""]
        channel = str(params.get("channel", ""))
        if channel[:1] in ("U", "W"):  # posting to a user opens the app's direct message with them
            channel = self.dm_channel(channel)
        if channel in self.archived:
            return {"ok": False, "error": "is_archived"}
        wait = self._rate_limit_wait(team, channel)
        if wait is not None:
            self.count_429 += 1
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(wait)})
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID, "team": team,
                   "ts": self._new_ts(), "text": params.get("text"), "blocks": params.get("blocks")}
        if params.get("metadata"):
            message["metadata"] = params["metadata"]
        if params.get("thread_ts"):
            thread_ts = str(params["thread_ts"])
            if self._top_level(channel, thread_ts) is None:
                return {"ok": False, "error": "thread_not_found"}
            message["thread_ts"] = thread_ts
        self._messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": _without_metadata(message)}

    def _rate_limit_wait(self, team: str, channel: str) -> int | None:
        """Record one accepted message now, or return the whole seconds to wait if a window is full."""
        now = time.monotonic()
        windows = [(("channel", f"{team}/{channel}"), self.channel_limit), (("workspace", team), self.workspace_limit)]
        waits = []
        for key, limit in windows:
            if limit is None:
                continue
            count, per = limit
            accepted = self._accepted.setdefault(key, deque())
            while accepted and accepted[0] <= now - per:
                accepted.popleft()
            if len(accepted) >= count:
                waits.append(accepted[-count] + per - now)
        if waits:
            return max(1, math.ceil(max(waits)))
        for key, limit in windows:
            if limit is not None:
                self._accepted[key].append(now)
        return None

    def _api_chat_update(self, token: str | None, params: dict) -> dict:
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        message = next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        for key in ("text", "blocks", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        message["edited"] = {"user": BOT_USER_ID, "ts": self._new_ts()}
        return {"ok": True, "channel": channel, "ts": ts, "text": message.get("text"),
                "message": _without_metadata(message)}

    def _top_level(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self._messages.get(channel, []) if m["ts"] == ts and not _is_reply(m)), None)

    def _history_wait(self, token: str | None, method: str) -> web.Response | None:
        """Count one history call now, or return the 429 that `history_limit` answers when its window is full."""
        if self.history_limit is None:
            return None
        count, per = self.history_limit
        now = time.monotonic()
        accepted = self._accepted.setdefault(("history", f"{self.tokens.get(token or '')}/{method}"), deque())
        while accepted and accepted[0] <= now - per:
            accepted.popleft()
        if len(accepted) >= count:
            self.count_429 += 1
            wait = max(1, math.ceil(accepted[-count] + per - now))
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(wait)})
        accepted.append(now)
        return None

    def _page_limit(self, params: dict, default: int) -> int:
        limit = int(str(params.get("limit") or default))
        return min(limit, self.history_page_max) if self.history_page_max else limit

    def _api_conversations_replies(self, token: str | None, params: dict) -> dict | web.Response:
        # Like Slack: the thread of *ts* (a parent, or any reply in it), the parent first, oldest first.
        refused = self._history_wait(token, "conversations.replies")
        if refused is not None:
            return refused
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        named = next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)
        if named is None:
            return {"ok": False, "error": "thread_not_found"}
        parent_ts = named.get("thread_ts", named["ts"])
        thread = [m for m in self._messages.get(channel, []) if m["ts"] == parent_ts or m.get("thread_ts") == parent_ts]
        thread = [m for m in thread if m["ts"] == parent_ts or _after(m, params.get("oldest"))]
        start = int(str(params.get("cursor") or "0"))
        limit = self._page_limit(params, 1000)
        page = thread[start:start + limit]
        if not _truthy(params.get("include_all_metadata")):
            page = [_without_metadata(m) for m in page]
        has_more = start + limit < len(thread)
        return {"ok": True, "messages": copy.deepcopy(page), "has_more": has_more,
                "response_metadata": {"next_cursor": str(start + limit) if has_more else ""}}

    def _api_conversations_history(self, token: str | None, params: dict) -> dict | web.Response:
        # Thread replies are not part of a channel's history; newest first, like Slack; after ``oldest`` only.
        refused = self._history_wait(token, "conversations.history")
        if refused is not None:
            return refused
        top_level = [m for m in self._messages.get(str(params.get("channel", "")), [])
                     if not _is_reply(m) and _after(m, params.get("oldest"))]
        newest_first = top_level[::-1]
        start = int(str(params.get("cursor") or "0"))
        limit = self._page_limit(params, 100)
        page = newest_first[start:start + limit]
        if not _truthy(params.get("include_all_metadata")):
            page = [_without_metadata(m) for m in page]
        has_more = start + limit < len(newest_first)
        return {"ok": True, "messages": copy.deepcopy(page), "has_more": has_more, "pin_count": 0,
                "response_metadata": {"next_cursor": str(start + limit) if has_more else ""}}

    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _api_conversations_open(self, token: str | None, params: dict) -> dict:
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if len(users) != 1:  # group DMs are not needed by Paperboy
            return {"ok": False, "error": "users_list_not_supplied" if not users else "not_supported"}
        channel = self.dm_channel(users[0])
        return {"ok": True, "channel": {"id": channel, "is_im": True, "user": users[0]}}

    def _api_files_getUploadURLExternal(self, token: str | None, params: dict) -> dict:
        filename, length = params.get("filename"), str(params.get("length") or "")
        if not filename or not length.isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ts):08d}"
        self._pending_files[file_id] = {"filename": filename, "length": int(length),
                                        "team": self.tokens[token or ""]}
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        # Like Slack's upload URLs: no token, the URL itself is the permission (once).
        pending = self._pending_files.get(request.match_info["file_id"])
        if pending is None or "content" in pending:
            return web.Response(status=404, text="upload URL not found")
        pending["content"] = await request.read()
        return web.Response(text=f"OK - {len(pending['content'])}")

    def _api_files_completeUploadExternal(self, token: str | None, params: dict) -> dict:
        files = params.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        if not files:
            return {"ok": False, "error": "invalid_arguments"}
        team = self.tokens[token or ""]
        done: list[UploadedFile] = []
        for item in files:
            pending = self._pending_files.get(str(item.get("id")))
            if pending is None or "content" not in pending or pending["team"] != team:
                return {"ok": False, "error": "file_not_found"}
            done.append(UploadedFile(
                id=str(item["id"]), filename=pending["filename"], content=pending["content"],
                channel_id=params.get("channel_id") or None, title=item.get("title") or pending["filename"],
                initial_comment=params.get("initial_comment") or None, team=team,
            ))
        for uploaded in done:
            del self._pending_files[uploaded.id]
        self.files += done
        return {"ok": True, "files": [{"id": f.id, "name": f.filename, "title": f.title} for f in done]}

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


def _manifest_bot_scopes() -> list[str]:
    """The bot scopes of adapters/slack/manifest.json: what a workspace grants when it installs the app."""
    from pathlib import Path

    manifest = Path(__file__).resolve().parents[2] / "adapters" / "slack" / "manifest.json"
    return json.loads(manifest.read_text(encoding="utf-8"))["oauth_config"]["scopes"]["bot"]


def _is_reply(message: dict[str, Any]) -> bool:
    """Say whether *message* is a reply in a thread (not the thread's parent, nor a plain post)."""
    return message.get("thread_ts", message["ts"]) != message["ts"]


def _after(message: dict[str, Any], oldest: Any) -> bool:
    """Say whether *message* is newer than *oldest* (a ``ts``; None or empty: any message is)."""
    return not oldest or float(message["ts"]) > float(str(oldest))


def _without_metadata(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key != "metadata"}


def _truthy(value: Any) -> bool:
    # slack_sdk sends booleans in query strings as "1"/"0"; JSON bodies keep true/false.
    return value is True or str(value).lower() in ("1", "true")


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
                       user_id: str = "U1", user_name: str = "ada", channel_name: str | None = None) -> str:
    """Return the form body Slack posts for ``/papers <text>`` (in a ``D…`` channel: from a direct message)."""
    if channel_name is None:
        channel_name = "directmessage" if channel_id.startswith("D") else "papers"
    return urlencode({
        "token": "legacy-verification", "team_id": team_id, "team_domain": team_id.lower(),
        "channel_id": channel_id, "channel_name": channel_name, "user_id": user_id, "user_name": user_name,
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


def block_actions_body(action_id: str, *, response_url: str | None, value: str = "", message_ts: str = "1.000001",
                       team_id: str = "T1", channel_id: str = "C1", user_id: str = "U1",
                       user_name: str = "ada") -> str:
    """Return the form body (``payload=<json>``) Slack posts when someone clicks the button *action_id*.

    The button sits on the message *message_ts* in *channel_id*; *response_url* None leaves it
    out (as for a button Slack gives no response URL).
    """
    payload: dict[str, Any] = {
        "type": "block_actions", "token": "legacy-verification", "api_app_id": APP_ID, "trigger_id": "1.2.3",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "team": {"id": team_id, "domain": team_id.lower()},
        "enterprise": None, "is_enterprise_install": False,
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False},
        "channel": {"id": channel_id, "name": "papers"},
        "message": {"type": "message", "ts": message_ts, "user": BOT_USER_ID, "bot_id": BOT_ID},
        "state": {"values": {}},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1", "value": value,
                     "text": {"type": "plain_text", "text": "button"}, "action_ts": str(time.time())}],
    }
    if response_url is not None:
        payload["response_url"] = response_url
    return urlencode({"payload": json.dumps(payload)})
