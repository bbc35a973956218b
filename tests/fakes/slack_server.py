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

Its parts are in tests/fakes/slack/: ``records``, ``bodies`` (what Slack sends an app), ``messages``
(chat and conversations), ``web_api`` (dispatch, auth, files, OAuth), ``socket_mode``.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# The fake's parts; its helpers are re-exported for the tests that import them from here.
from tests.fakes.slack.bodies import block_actions_body, mention_event_body, signed_headers, slash_command_body
from tests.fakes.slack.messages import MessagesMixin
from tests.fakes.slack.records import (
    APP_ID, ApiCall, BOT_ID, BOT_USER_ID, Failure, SocketEnvelope, UploadedFile, _is_reply,
)
from tests.fakes.slack.socket_mode import SocketModeMixin
from tests.fakes.slack.web_api import WebApiMixin


@dataclass
class FakeSlack(MessagesMixin, WebApiMixin, SocketModeMixin):
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

    # -- handlers --------------------------------------------------------------------


