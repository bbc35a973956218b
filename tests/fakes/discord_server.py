"""A fake Discord (REST and gateway) on 127.0.0.1 that the real discord.py client talks to.

It behaves like Discord where Paperboy's adapter could get it wrong: 401 for a bad
token, 400 (code 50035) for any message over Discord's limits, 404 (code 10062
"Unknown interaction") for a first response later than three seconds, 400 (code
40060) for a second one, 403/404 for channels the test marks as forbidden or gone,
and 429 (with the ``Via`` header real Discord sends) as often as the test asks.
`answer_raw` makes a route answer a body that is not Discord's JSON (a proxy's HTML
502, a text/plain 405) for a number of requests, as a proxy in front of Discord would.

Rate limits are enforced as sliding windows (a request is refused while ``count``
requests were accepted in the last ``per`` seconds): ``channel_limit`` for message
sends per channel, ``global_limit`` for every REST request except interaction
callbacks and webhooks (exempt on real Discord too). Only accepted requests fill a
window; each refusal is a 429 whose ``retry_after`` is exactly when room frees up,
counted in ``count_429``.

Buttons: `click` sends a component interaction (type 3) for a button of a stored
message, recorded like a command's. Files: multipart bodies (``payload_json`` and
``files[n]``) are read like Discord reads them; the attachments' bytes are kept
(`Request.files`, `Interaction.files`). Threads: a thread opened on a message has the
message's id (``POST /channels/{c}/messages/{m}/threads``, once per message, else
400 code 160004), and ``GET /channels/{id}`` answers for threads and the guild channel.
`pings` says whom a message body would notify under its ``allowed_mentions``.
`run_command` (and `click`) can act as another user, in a DM (``dm_user``), and pass
a role option (`FakeRole`).

Every accepted channel message is kept (``channel_messages``: the bodies as sent,
``posted_paper_ids``: the papers they show) for as long as the fake runs, so a bot
that is killed and restarted is judged on everything it ever posted; each restart
logs in and IDENTIFYs again on a fresh gateway connection.

Usage::

    async with FakeDiscord() as fake:
        settings = Settings(discord_token=fake.token, discord_api_url=fake.api_url,
                            discord_gateway_url=fake.gateway_url,
                            discord_guild_ready_timeout=GUILD_READY_TIMEOUT, ...)
        ...
        sent = await fake.run_command("show", {"paper": "2403.10001"})
        await fake.wait_for(lambda: sent.done)

Its parts are in tests/fakes/discord/: ``wire`` (limits, mentions, rate windows, the records),
``rest`` (REST routes), ``interactions`` (commands, clicks, answers), ``gateway`` (websocket).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from typing import Any, Callable

from aiohttp import web

# The fake's parts; its helpers are re-exported for the tests that import them from here.
from tests.fakes.discord.gateway import GatewayMixin
from tests.fakes.discord.interactions import InteractionsMixin
from tests.fakes.discord.rest import RestMixin
from tests.fakes.discord.wire import (
    ADMIN_PERMISSIONS, DEADLINE, FakeRole, Interaction, MANAGE_CHANNELS, MEMBER_PERMISSIONS, RawAnswer, Request,
    SlidingWindow, THREAD_EXISTS, component_errors, discord_limit_errors, paper_ids_in, pings, snowflake,
)

GUILD_READY_TIMEOUT = 0.1
"""What the tests set `discord_guild_ready_timeout` to: the fake sends its one guild right after READY,
so discord.py's own 2 s wait for more would only make every start-up slower."""


class FakeDiscord(InteractionsMixin, RestMixin, GatewayMixin):
    """Discord's REST API and gateway for one bot, one application and one guild."""

    def __init__(
        self,
        *,
        token: str | None = None,
        guild_id: str | None = None,
        channel_limit: tuple[int, float] = (5, 5.0),
        global_limit: tuple[int, float] = (50, 1.0),
        nonce_window: float = 0.0,
    ) -> None:
        """Make a fake Discord; ``nonce_window`` > 0 turns on Discord's ``enforce_nonce`` de-duplication.

        It is off by default so that a test of Paperboy's own reconciliation is not
        helped by it: a repeated send is then logged as the duplicate it would be.
        """
        self.bot_id = snowflake()
        self.application_id = self.bot_id
        # A real-shaped token: base64 of the bot id, a timestamp part and an HMAC part.
        self.token = token or (
            base64.urlsafe_b64encode(self.bot_id.encode()).decode().rstrip("=") + ".GfAkEd.fake-hmac-part"
        )
        self.guild_id = guild_id or snowflake()
        self.channel_id = snowflake()
        self.roles = [FakeRole(snowflake(), "Researchers")]
        """The guild's roles besides @everyone (sent in GUILD_CREATE)."""
        self.threads: dict[str, dict[str, Any]] = {}
        """Each thread opened on a message, by its id (the message's id)."""
        self.requests: list[Request] = []
        self.interactions: dict[str, Interaction] = {}
        self.channel_messages: dict[str, list[dict[str, Any]]] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[str, list[dict[str, Any]]] = {}
        self.forbidden_channels: set[str] = set()
        self.missing_channels: set[str] = set()
        self.rate_limit_next = 0
        """How many of the next channel message sends (and thread opens) get a 429."""
        self._raw_answers: dict[tuple[str, str], list[RawAnswer]] = {}
        self.retry_after = 0.2
        self.channel_limit = channel_limit
        self.global_limit = global_limit
        self.nonce_window = nonce_window
        self.count_429 = 0
        """Every 429 the fake answered (channel, global and forced ones)."""
        self.count_429_global = 0
        self.messages: dict[str, list[dict[str, Any]]] = {}
        """Each channel's messages as Discord now holds them (edits applied), oldest first."""
        self.dm_channels: dict[str, str] = {}
        """The DM channel id opened for each user id."""
        self.edits: dict[str, list[dict[str, Any]]] = {}
        """The edit bodies each channel message received, by message id."""
        self.nonce_duplicates = 0
        self.identify_count = 0
        self.identified_shards: list = []
        self.identified = asyncio.Event()
        self._global_window = SlidingWindow(*global_limit)
        self._channel_windows: dict[str, SlidingWindow] = {}
        self._nonces: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._shard_of: dict[web.WebSocketResponse, tuple[int, int]] = {}
        self._sequence = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application(middlewares=[self._record])
        api = "/api/v10"
        routes = [
            ("GET", "/users/@me", self._me),
            ("GET", "/oauth2/applications/@me", self._application),
            ("GET", "/gateway", self._gateway_info),
            ("GET", "/applications/{app}/commands", self._get_commands),
            ("PUT", "/applications/{app}/commands", self._put_commands),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self._get_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._put_commands),
            ("POST", "/interactions/{id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app}/{token}", self._followup),
            ("PATCH", "/webhooks/{app}/{token}/messages/@original", self._edit_original),
            ("DELETE", "/webhooks/{app}/{token}/messages/@original", self._delete_original),
            ("POST", "/channels/{channel}/messages", self._channel_message),
            ("GET", "/channels/{channel}/messages", self._history),
            ("PATCH", "/channels/{channel}/messages/{message}", self._edit_message),
            ("POST", "/channels/{channel}/messages/{message}/threads", self._open_thread),
            ("GET", "/channels/{channel}", self._get_channel),
            ("POST", "/users/@me/channels", self._open_dm),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, api + path, handler)
        app.router.add_get("/gateway/ws", self._websocket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway/ws"

    # -- what tests use ----------------------------------------------------------------------

    def requests_to(self, method: str, path_contains: str) -> list[Request]:
        """Return the recorded requests with *method* whose path contains *path_contains*."""
        return [r for r in self.requests if r.method == method and path_contains in r.path]

    def answer_raw(self, method: str, route: str, body: str, *, status: int = 502,
                   content_type: str = "text/html", times: int = 1) -> None:
        """Make the next *times* requests to *route* answer *body* as is, as a proxy in front of Discord would.

        *route* is written as the fake declares it, e.g. ``/channels/{channel}/messages``
        (any channel); the proxy answers before Discord sees anything, so these requests
        are recorded but fill no rate-limit window. Then the route answers normally again.
        """
        answer = RawAnswer(body=body, status=status, content_type=content_type, times=times)
        self._raw_answers.setdefault((method.upper(), route), []).append(answer)

    def _next_raw_answer(self, request: web.Request) -> RawAnswer | None:
        resource = request.match_info.route.resource
        route = resource.canonical.removeprefix("/api/v10") if resource is not None else request.path
        queue = self._raw_answers.get((request.method, route))
        if not queue:
            return None
        answer = queue[0]
        answer.times -= 1
        if answer.times <= 0:
            queue.pop(0)
        return answer

    def posted_paper_ids(self, channel_id: str) -> list[str]:
        """Return the paper ids of every message accepted in *channel_id*, in order (repeats kept)."""
        return [pid for body in self.channel_messages.get(str(channel_id), []) for pid in paper_ids_in(body)]

    def dm_messages(self, user_id: str) -> list[dict[str, Any]]:
        """Return the message bodies accepted in the DM channel with *user_id*."""
        dm = self.dm_channels.get(str(user_id))
        return self.channel_messages.get(dm, []) if dm else []

    def delete_message(self, channel_id: str, message_id: str) -> None:
        """Delete a message as a moderator would (it stays in the log of accepted messages)."""
        held = self.messages.get(str(channel_id), [])
        held[:] = [m for m in held if m["id"] != str(message_id)]

    @staticmethod
    async def wait_for(condition: Callable[[], Any], *, timeout: float = 10.0) -> None:
        """Wait until *condition()* is true, failing the test after *timeout* seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the bot")
            await asyncio.sleep(0.02)

    # -- payloads ------------------------------------------------------------------------------

    # -- REST ----------------------------------------------------------------------------------

    # -- gateway -------------------------------------------------------------------------------
