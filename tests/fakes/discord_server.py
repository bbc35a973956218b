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
                            discord_gateway_url=fake.gateway_url, ...)
        ...
        sent = await fake.run_command("show", {"paper": "2403.10001"})
        await fake.wait_for(lambda: sent.done)
"""

from __future__ import annotations

import asyncio
import base64
import collections
import itertools
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import WSMsgType, web

DEADLINE = 3.0
"""Seconds Discord gives a bot to answer an interaction for the first time."""

MANAGE_CHANNELS = 1 << 4
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16)  # view, send, embed links, history
ADMIN_PERMISSIONS = MEMBER_PERMISSIONS | MANAGE_CHANNELS

_BODY = web.RequestKey("body", object)
_FILES = web.RequestKey("files", list)
THREAD_EXISTS = 160004
_PAPER_URL = re.compile(r"^https?://(?:huggingface\.co/papers|arxiv\.org/abs)/([^\s?#()]+?)/?$", re.IGNORECASE)
_LINK_TARGET = re.compile(r"(?<!\\)\]\((https?://[^\s()]+)\)")
# Real Discord exempts interaction responses and webhooks from the global limit.
_GLOBAL_EXEMPT = ("/interactions/", "/webhooks/")
_snowflakes = itertools.count(1_200_000_000_000_000_000)


def snowflake() -> str:
    """Return a fresh id, as a string like Discord's."""
    return str(next(_snowflakes))


def discord_limit_errors(payload: dict[str, Any]) -> list[str]:
    """Return how *payload* (a message body) breaks Discord's limits; empty when it fits."""
    errors = []
    content = payload.get("content") or ""
    if len(content) > 2000:
        errors.append(f"content: {len(content)} > 2000")
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        errors.append(f"embeds: {len(embeds)} > 10")
    total = 0
    for number, embed in enumerate(embeds):
        checks = [
            ("title", embed.get("title") or "", 256),
            ("description", embed.get("description") or "", 4096),
            ("footer.text", (embed.get("footer") or {}).get("text") or "", 2048),
            ("author.name", (embed.get("author") or {}).get("name") or "", 256),
        ]
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.append(f"embeds.{number}.fields: {len(fields)} > 25")
        for index, fld in enumerate(fields):
            checks.append((f"fields.{index}.name", fld.get("name") or "", 256))
            checks.append((f"fields.{index}.value", fld.get("value") or "", 1024))
            if not fld.get("name") or not fld.get("value"):
                errors.append(f"embeds.{number}.fields.{index}: empty name or value")
        for name, value, limit in checks:
            total += len(value)
            if len(value) > limit:
                errors.append(f"embeds.{number}.{name}: {len(value)} > {limit}")
    if total > 6000:
        errors.append(f"embeds: {total} characters > 6000")
    errors += component_errors(payload.get("components") or [])
    if not content and not embeds and "content" in payload and "embeds" in payload:
        errors.append("cannot send an empty message")
    return errors


def component_errors(rows: list[dict[str, Any]]) -> list[str]:
    """Return how *rows* (a message's action rows) break Discord's component limits."""
    errors = []
    if len(rows) > 5:
        errors.append(f"components: {len(rows)} rows > 5")
    custom_ids: list[str] = []
    for number, row in enumerate(rows):
        children = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(children) <= 5:
            errors.append(f"components.{number}: an action row holds 1 to 5 components")
        for index, button in enumerate(children):
            where = f"components.{number}.{index}"
            label = button.get("label") or ""
            if len(label) > 80:
                errors.append(f"{where}.label: {len(label)} > 80")
            if button.get("style") == 5:
                if not str(button.get("url") or "").startswith(("http://", "https://")) or "custom_id" in button:
                    errors.append(f"{where}: a link button has an http(s) url and no custom_id")
                continue
            custom_id = button.get("custom_id") or ""
            if not 1 <= len(custom_id) <= 100:
                errors.append(f"{where}.custom_id: {len(custom_id)} characters, not 1 to 100")
            custom_ids.append(custom_id)
    if len(custom_ids) != len(set(custom_ids)):
        errors.append("components: custom ids must be unique within a message")
    return errors


def pings(body: dict[str, Any]) -> set[str]:
    """Return whom a message body would notify: ``everyone``, ``role:<id>``, ``user:<id>``.

    As Discord does: only mentions in the content count (never embeds), filtered by
    ``allowed_mentions`` (absent: everything in the content pings).
    """
    content = body.get("content") or ""
    allowed = body.get("allowed_mentions")
    parse = set(allowed.get("parse") or []) if allowed is not None else {"everyone", "roles", "users"}
    roles = {str(r) for r in (allowed or {}).get("roles") or []}
    users = {str(u) for u in (allowed or {}).get("users") or []}
    found = set()
    if "everyone" in parse and re.search(r"@(everyone|here)", content):
        found.add("everyone")
    for role in re.findall(r"<@&([0-9]+)>", content):
        if "roles" in parse or role in roles:
            found.add(f"role:{role}")
    for user in re.findall(r"<@!?([0-9]+)>", content):
        if "users" in parse or user in users:
            found.add(f"user:{user}")
    return found


def paper_ids_in(message: dict[str, Any]) -> list[str]:
    """Return the ids of the papers a message body shows: its embeds' URLs and list-line links."""
    ids: list[str] = []
    for embed in message.get("embeds") or []:
        urls = [embed["url"]] if embed.get("url") else []
        urls += _LINK_TARGET.findall(embed.get("description") or "")
        for url in urls:
            match = _PAPER_URL.match(url)
            if match and match.group(1) not in ids:
                ids.append(match.group(1))
    return ids


class SlidingWindow:
    """At most ``count`` accepted requests in any ``per`` seconds."""

    def __init__(self, count: int, per: float) -> None:
        self.count, self.per = count, per
        self.accepted: collections.deque[float] = collections.deque()

    def admit(self, now: float) -> float:
        """Record a request at *now* and return 0, or return the seconds until one would fit."""
        while self.accepted and self.accepted[0] <= now - self.per:
            self.accepted.popleft()
        if len(self.accepted) < self.count:
            self.accepted.append(now)
            return 0.0
        # Rounded up to the millisecond, like Discord, so a client that sleeps exactly this long fits.
        return math.ceil((self.accepted[0] + self.per - now) * 1000) / 1000


async def _read_multipart(request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
    """Read a multipart body as Discord does: ``payload_json`` is the JSON body, ``files[n]`` the attachments."""
    form = await request.post()
    files = [(part.filename, part.file.read()) for key, part in form.items()
             if key.startswith("files[") and isinstance(part, web.FileField)]
    payload = form.get("payload_json")
    return (json.loads(payload) if isinstance(payload, (str, bytes, bytearray)) else None), files


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly application/json (no charset).
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status=status)


def _too_many(retry_after: float, *, is_global: bool) -> web.Response:
    # discord.py retries a 429 only when it carries Via (else it assumes a Cloudflare ban).
    headers = {"Via": "1.1 google", "Retry-After": str(math.ceil(retry_after)),
               "X-RateLimit-Scope": "global" if is_global else "user"}
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return _json({"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global,
                  "code": 0}, status=429, headers=headers)


@dataclass
class RawAnswer:
    """A body answered as is, instead of Discord's JSON: what a proxy in front of Discord says."""

    body: str
    status: int
    content_type: str
    times: int

    def response(self) -> web.Response:
        # The Content-Type is set exactly: "application/json" with a body that is not JSON is a case too.
        return web.Response(body=self.body.encode(), status=self.status, headers={"Content-Type": self.content_type})


@dataclass
class Request:
    """One request the bot made: method, path (without the API prefix), query, JSON body, time."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float
    status: int = 200
    files: list[tuple[str, bytes]] = field(default_factory=list)
    """The attachments of a multipart body: (file name, bytes)."""


@dataclass
class Interaction:
    """An interaction the fake sent, and everything the bot did about it."""

    id: str
    token: str
    created: float
    payload: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    callback_times: list[float] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    deleted_original: bool = False
    rejected: list[str] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    """Every attachment the bot sent the user in answer: (file name, bytes)."""

    @property
    def first_response_delay(self) -> float | None:
        return self.callback_times[0] - self.created if self.callback_times else None

    @property
    def deferred(self) -> bool:
        return any(c["type"] == 5 for c in self.callbacks)

    @property
    def done(self) -> bool:
        """True once the user can see an answer (a message, an edit or a follow-up)."""
        answered = any(c["type"] == 4 for c in self.callbacks) or self.edits or self.followups
        return bool(answered) or any(c["type"] == 8 for c in self.callbacks) or bool(self.rejected)

    def messages(self) -> list[dict[str, Any]]:
        """Return every message body the user was shown, in order."""
        shown = [c.get("data") or {} for c in self.callbacks if c["type"] == 4]
        return shown + self.edits + self.followups


@dataclass(frozen=True)
class FakeRole:
    """A role of the fake guild; as a `run_command` option value it is sent as a role option."""

    id: str
    name: str

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "permissions": "0", "position": 1, "color": 0,
                "hoist": False, "managed": False, "mentionable": True, "flags": 0}


class FakeDiscord:
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

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to every connected client, on the shard its guild belongs to, as Discord does."""
        frame = json.dumps({"op": 0, "t": event, "s": next(self._sequence), "d": data})
        guild = int(data.get("guild_id") or 0)
        for socket in list(self._sockets):
            shard = self._shard_of.get(socket)
            if shard is None or (guild >> 22) % shard[1] == shard[0]:
                await socket.send_str(frame)

    async def run_command(
        self,
        subcommand: str,
        options: dict[str, Any] | None = None,
        *,
        permissions: int = ADMIN_PERMISSIONS,
        channel_id: str | None = None,
        focused: str | None = None,
        user_id: str = "4242",
        dm_user: str | None = None,
    ) -> Interaction:
        """Send INTERACTION_CREATE for ``/papers <subcommand>`` (or ``<group> <subcommand>``); ``focused`` makes it an autocomplete.

        A `FakeRole` value is a role option (resolved, as Discord sends it); ``dm_user`` sends it
        from that user's direct message with the bot instead of the guild channel.
        """
        typed = []
        resolved: dict[str, Any] = {}
        for name, value in (options or {}).items():
            kind = 4 if isinstance(value, int) and not isinstance(value, bool) else 3
            if isinstance(value, FakeRole):
                kind, value = 8, (resolved.setdefault("roles", {}).setdefault(value.id, value.payload()))["id"]
            option: dict[str, Any] = {"name": name, "type": kind, "value": value}
            if name == focused:
                option["focused"] = True
            typed.append(option)
        data: dict[str, Any] = {
            "id": self._command_id("papers"),
            "name": "papers",
            "type": 1,
            "options": [{"name": subcommand, "type": 1, "options": typed}],
        }
        group, _, sub = subcommand.partition(" ")
        if sub:  # ``interest vote``: a subcommand in a subcommand group (type 2)
            data["options"] = [{"name": group, "type": 2, "options": [{"name": sub, "type": 1, "options": typed}]}]
        if resolved:
            data["resolved"] = resolved
        if self.guild_commands.get(self.guild_id):
            data["guild_id"] = self.guild_id
        payload = self._interaction_payload(
            kind=4 if focused else 2, data=data, permissions=permissions,
            channel_id=channel_id or self.channel_id, user_id=dm_user or user_id, dm=dm_user is not None,
        )
        return await self._send_interaction(payload)

    async def click(self, message_id: str, custom_id: str, *, channel_id: str | None = None,
                    user_id: str = "4242", permissions: int = MEMBER_PERMISSIONS,
                    dm_user: str | None = None) -> Interaction:
        """Send a button click (a component interaction, type 3) on a stored message, as *user_id*."""
        channel = channel_id or (self.dm_channels.get(dm_user) if dm_user else None) or self.channel_id
        message = next((m for m in self.messages.get(channel, []) if m["id"] == str(message_id)), None)
        if message is None:
            raise AssertionError(f"no message {message_id} in channel {channel}")
        payload = self._interaction_payload(kind=3, data={"custom_id": custom_id, "component_type": 2},
                                            permissions=permissions, channel_id=channel,
                                            user_id=dm_user or user_id, dm=dm_user is not None)
        payload["message"] = message
        return await self._send_interaction(payload)

    def dm_channel(self, user_id: str) -> str:
        """Return the id of the direct-message channel between the bot and *user_id* (opened if need be)."""
        return self.dm_channels.setdefault(str(user_id), snowflake())

    async def _send_interaction(self, payload: dict[str, Any]) -> Interaction:
        interaction = Interaction(id=payload["id"], token=payload["token"], created=time.monotonic(),
                                  payload=payload)
        self.interactions[interaction.token] = interaction
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    @staticmethod
    async def wait_for(condition: Callable[[], Any], *, timeout: float = 10.0) -> None:
        """Wait until *condition()* is true, failing the test after *timeout* seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the bot")
            await asyncio.sleep(0.02)

    # -- payloads ------------------------------------------------------------------------------

    def _command_id(self, name: str) -> str:
        for command in self.guild_commands.get(self.guild_id, []) + self.global_commands:
            if command["name"] == name:
                return command["id"]
        return snowflake()

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "username": "Paperboy", "discriminator": "0", "global_name": None,
                "avatar": None, "bot": True, "public_flags": 0, "flags": 0, "verified": True,
                "mfa_enabled": False}

    def _interaction_payload(self, *, kind: int, data: dict[str, Any], permissions: int,
                             channel_id: str, user_id: str = "4242", dm: bool = False) -> dict[str, Any]:
        name = "ada" if user_id == "4242" else f"user{user_id}"
        user = {"id": user_id, "username": name, "discriminator": "0", "global_name": name.capitalize(),
                "avatar": None, "public_flags": 0}
        if dm:
            return self._dm_interaction_payload(kind=kind, data=data, user=user)
        return {
            "id": snowflake(),
            "application_id": self.application_id,
            "type": kind,
            "token": "itoken-" + snowflake(),
            "version": 1,
            "guild_id": self.guild_id,
            "guild": {"id": self.guild_id, "locale": "en-US", "features": []},
            "channel_id": channel_id,
            "channel": {"id": channel_id, "type": 0, "name": "papers", "guild_id": self.guild_id,
                        "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None,
                        "topic": None, "rate_limit_per_user": 0, "flags": 0,
                        "permissions": str(permissions)},
            "member": {"user": user, "roles": [], "joined_at": "2026-01-01T00:00:00.000000+00:00",
                       "deaf": False, "mute": False, "flags": 0, "pending": False, "nick": None,
                       "avatar": None, "premium_since": None, "permissions": str(permissions)},
            "data": data,
            "app_permissions": str(MEMBER_PERMISSIONS),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": self.guild_id},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }

    def _dm_interaction_payload(self, *, kind: int, data: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        # In a DM with the bot: no guild, no member (a bare user), a type 1 channel, context 1 (BOT_DM).
        channel_id = self.dm_channel(user["id"])
        return {
            "id": snowflake(), "application_id": self.application_id, "type": kind,
            "token": "itoken-" + snowflake(), "version": 1,
            "channel_id": channel_id,
            "channel": {"id": channel_id, "type": 1, "recipients": [user], "last_message_id": None, "flags": 0},
            "user": user, "data": data,
            "app_permissions": str(MEMBER_PERMISSIONS), "locale": "en-US", "entitlements": [],
            "authorizing_integration_owners": {"0": self.guild_id}, "context": 1,
            "attachment_size_limit": 10 * 1024 * 1024,
        }

    def _guild(self) -> dict[str, Any]:
        everyone = {"id": self.guild_id, "name": "@everyone", "permissions": str(MEMBER_PERMISSIONS),
                    "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False,
                    "flags": 0}
        channel = {"id": self.channel_id, "type": 0, "name": "papers", "guild_id": self.guild_id,
                   "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None,
                   "topic": None, "rate_limit_per_user": 0, "flags": 0}
        return {
            "id": self.guild_id, "name": "Research", "icon": None, "owner_id": "4242",
            "roles": [everyone] + [role.payload() for role in self.roles], "channels": [channel], "threads": [], "members": [],
            "emojis": [], "stickers": [], "features": [], "member_count": 2, "large": False,
            "unavailable": False, "joined_at": "2026-01-01T00:00:00.000000+00:00",
            "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
            "mfa_level": 0, "nsfw_level": 0, "premium_tier": 0, "preferred_locale": "en-US",
            "system_channel_flags": 0, "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
        }

    # -- REST ----------------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        body: Any = None
        files: list[tuple[str, bytes]] = []
        if request.can_read_body and request.content_type == "multipart/form-data":
            body, files = await _read_multipart(request)
        elif request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw and request.content_type == "application/json" else raw
        path = request.path.removeprefix("/api/v10")
        record = Request(request.method, path, dict(request.query), body, time.monotonic(), files=files)
        if path != "/gateway/ws":
            self.requests.append(record)
        if path.startswith("/gateway/ws"):
            return await handler(request)
        raw = self._next_raw_answer(request)
        if raw is not None:
            record.status = raw.status
            return raw.response()
        auth = request.headers.get("Authorization")
        needs_auth = path.startswith(("/users", "/oauth2", "/applications", "/channels"))
        if (auth is not None or needs_auth) and auth != f"Bot {self.token}":
            record.status = 401
            return _error(401, 0, "401: Unauthorized")
        if not path.startswith(_GLOBAL_EXEMPT):
            wait = self._global_window.admit(time.monotonic())
            if wait:
                self.count_429 += 1
                self.count_429_global += 1
                record.status = 429
                return _too_many(wait, is_global=True)
        request[_BODY] = body
        request[_FILES] = files
        response = await handler(request)
        record.status = response.status
        return response

    async def _me(self, request: web.Request) -> web.Response:
        return _json(self._bot_user())

    async def _application(self, request: web.Request) -> web.Response:
        return _json({
            "id": self.application_id, "name": "Paperboy", "icon": None, "description": "",
            "bot_public": True, "bot_require_code_grant": False, "owner": self._bot_user(),
            "verify_key": "00" * 32, "flags": 0, "team": None, "summary": "", "rpc_origins": [],
        })

    async def _gateway_info(self, request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url})

    def _command_list(self, request: web.Request) -> list[dict[str, Any]]:
        guild = request.match_info.get("guild")
        return self.guild_commands.setdefault(guild, []) if guild else self.global_commands

    async def _get_commands(self, request: web.Request) -> web.Response:
        return _json(self._command_list(request))

    async def _put_commands(self, request: web.Request) -> web.Response:
        stored = []
        for command in request[_BODY]:
            # Like Discord: keep what was sent minus empty values, add server-side fields.
            kept = {k: v for k, v in command.items() if v not in (None, [], {})}
            kept.update(id=self._command_id(command["name"]), application_id=self.application_id,
                        version=snowflake(), default_member_permissions=command.get("default_member_permissions"))
            guild = request.match_info.get("guild")
            if guild:
                kept["guild_id"] = guild
            stored.append(kept)
        listing = self._command_list(request)
        listing[:] = stored
        return _json(stored)

    def _interaction(self, token: str) -> Interaction | None:
        return self.interactions.get(token)

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request.match_info["token"])
        if interaction is None or interaction.id != request.match_info["id"]:
            return _error(404, 10062, "Unknown interaction")
        now = time.monotonic()
        body = request[_BODY]
        if interaction.callbacks:
            interaction.rejected.append("second response")
            return _error(400, 40060, "Interaction has already been acknowledged.")
        if now - interaction.created > DEADLINE:
            interaction.rejected.append(f"first response after {now - interaction.created:.2f}s")
            return _error(404, 10062, "Unknown interaction")
        problems = discord_limit_errors(body.get("data") or {})
        if problems:
            interaction.rejected.extend(problems)
            return _error(400, 50035, "Invalid Form Body: " + "; ".join(problems))
        interaction.callbacks.append(body)
        interaction.callback_times.append(now)
        interaction.files.extend(request[_FILES])
        return _json({"interaction": {"id": interaction.id, "type": interaction.payload["type"]}})

    def _message(self, body: dict[str, Any], channel_id: str, *, flags: int = 0) -> dict[str, Any]:
        return {
            "id": snowflake(), "channel_id": channel_id, "type": 0, "content": body.get("content") or "",
            "embeds": body.get("embeds") or [], "author": self._bot_user(), "attachments": [],
            "mentions": [], "mention_roles": [], "mention_everyone": False, "pinned": False, "tts": False,
            "timestamp": "2026-11-27T09:00:00.000000+00:00", "edited_timestamp": None,
            "flags": body.get("flags", flags), "components": body.get("components") or [],
        }

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request.match_info["token"])
        if interaction is None or not interaction.callbacks:
            return _error(404, 10015, "Unknown Webhook")
        problems = discord_limit_errors(request[_BODY])
        if problems:
            interaction.rejected.extend(problems)
            return _error(400, 50035, "Invalid Form Body: " + "; ".join(problems))
        interaction.followups.append(request[_BODY])
        interaction.files.extend(request[_FILES])
        return _json(self._message(request[_BODY], interaction.payload["channel_id"]))

    async def _edit_original(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request.match_info["token"])
        if interaction is None or not interaction.callbacks or interaction.deleted_original:
            return _error(404, 10008, "Unknown Message")
        problems = discord_limit_errors(request[_BODY])
        if problems:
            interaction.rejected.extend(problems)
            return _error(400, 50035, "Invalid Form Body: " + "; ".join(problems))
        interaction.edits.append(request[_BODY])
        interaction.files.extend(request[_FILES])
        return _json(self._message(request[_BODY], interaction.payload["channel_id"]))

    async def _delete_original(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request.match_info["token"])
        if interaction is None or not interaction.callbacks:
            return _error(404, 10008, "Unknown Message")
        interaction.deleted_original = True
        return web.Response(status=204)

    def _channel_fault(self, channel: str) -> web.Response | None:
        if channel in self.missing_channels:
            return _error(404, 10003, "Unknown Channel")
        if channel in self.forbidden_channels:
            return _error(403, 50001, "Missing Access")
        return None

    async def _channel_message(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        fault = self._channel_fault(channel)
        if fault:
            return fault
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            self.count_429 += 1
            return _too_many(self.retry_after, is_global=False)
        window = self._channel_windows.setdefault(channel, SlidingWindow(*self.channel_limit))
        wait = window.admit(time.monotonic())
        if wait:
            self.count_429 += 1
            return _too_many(wait, is_global=False)
        body = request[_BODY]
        problems = discord_limit_errors(body)
        if problems:
            return _error(400, 50035, "Invalid Form Body: " + "; ".join(problems))
        now = time.monotonic()
        key = self._nonce_key(channel, body)
        earlier = self._nonces.get(key) if key else None
        if earlier and now - earlier[0] <= self.nonce_window:
            # Discord answers a repeated nonce with the first message and creates nothing.
            self.nonce_duplicates += 1
            return _json({**earlier[1], "nonce": body.get("nonce")})
        message = self._message(body, channel)
        self.channel_messages.setdefault(channel, []).append(body)
        self.messages.setdefault(channel, []).append(message)
        if key:
            self._nonces[key] = (now, message)
        return _json({**message, "nonce": body.get("nonce")})

    def _nonce_key(self, channel: str, body: dict[str, Any]) -> tuple[str, str] | None:
        """Return what identifies an ``enforce_nonce`` send, when the fake de-duplicates them."""
        nonce = body.get("nonce")
        if self.nonce_window > 0 and nonce and body.get("enforce_nonce"):
            return channel, str(nonce)
        return None

    async def _history(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        fault = self._channel_fault(channel)
        if fault:
            return fault
        limit = max(1, min(100, int(request.query.get("limit", 50))))
        before = int(request.query.get("before", 0)) or None
        after = int(request.query.get("after", 0))
        held = [m for m in self.messages.get(channel, [])
                if int(m["id"]) > after and (before is None or int(m["id"]) < before)]
        # Newest first, like Discord; the send nonce is not part of a fetched message.
        newest = held[::-1][:limit] if "after" not in request.query else held[:limit][::-1]
        return _json(newest)

    async def _edit_message(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        fault = self._channel_fault(channel)
        if fault:
            return fault
        message = next((m for m in self.messages.get(channel, []) if m["id"] == request.match_info["message"]), None)
        if message is None:
            return _error(404, 10008, "Unknown Message")
        body = request[_BODY]
        merged = {"content": message["content"], "embeds": message["embeds"], "components": message["components"]}
        merged.update({k: body[k] for k in ("content", "embeds", "components") if k in body})
        problems = discord_limit_errors(merged)
        if problems:
            return _error(400, 50035, "Invalid Form Body: " + "; ".join(problems))
        message.update(content=merged["content"] or "", embeds=merged["embeds"] or [],
                       components=merged["components"] or [], edited_timestamp="2026-11-27T09:05:00.000000+00:00")
        self.edits.setdefault(message["id"], []).append(body)
        return _json(message)

    async def _open_thread(self, request: web.Request) -> web.Response:
        channel, message_id = request.match_info["channel"], request.match_info["message"]
        fault = self._channel_fault(channel)
        if fault:
            return fault
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            self.count_429 += 1
            return _too_many(self.retry_after, is_global=False)
        if not any(m["id"] == message_id for m in self.messages.get(channel, [])):
            return _error(404, 10008, "Unknown Message")
        if message_id in self.threads:
            return _error(400, THREAD_EXISTS, "A thread has already been created for this message")
        name = request[_BODY].get("name") or ""
        if not 1 <= len(name) <= 100:
            return _error(400, 50035, f"Invalid Form Body: name: {len(name)} characters, not 1 to 100")
        thread = {
            "id": message_id, "type": 11, "guild_id": self.guild_id, "parent_id": channel, "name": name,
            "owner_id": self.bot_id, "last_message_id": None, "rate_limit_per_user": 0, "message_count": 0,
            "member_count": 1, "total_message_sent": 0, "flags": 0,
            "thread_metadata": {"archived": False, "locked": False,
                                "auto_archive_duration": request[_BODY].get("auto_archive_duration", 1440),
                                "archive_timestamp": "2026-11-27T09:00:00.000000+00:00"},
        }
        self.threads[message_id] = thread
        return _json(thread, status=201)

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        fault = self._channel_fault(channel)
        if fault:
            return fault
        if channel in self.threads:
            return _json(self.threads[channel])
        if channel == self.channel_id:
            return _json(self._guild()["channels"][0])
        return _error(404, 10003, "Unknown Channel")

    async def _open_dm(self, request: web.Request) -> web.Response:
        user_id = str(request[_BODY]["recipient_id"])
        channel = self.dm_channels.setdefault(user_id, snowflake())
        recipient = {"id": user_id, "username": f"user{user_id}", "discriminator": "0", "global_name": None,
                     "avatar": None, "public_flags": 0}
        return _json({"id": channel, "type": 1, "recipients": [recipient], "last_message_id": None, "flags": 0})

    # -- gateway -------------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.add(socket)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 45000}, "s": None, "t": None})
        try:
            async for frame in socket:
                if frame.type != WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                if message["op"] == 1:
                    await socket.send_json({"op": 11})
                elif message["op"] == 2:
                    if message["d"]["token"] != self.token:
                        await socket.close(code=4004, message=b"Authentication failed.")
                        break
                    self.identify_count += 1
                    self.identified_shards.append(message["d"].get("shard"))
                    if message["d"].get("shard"):
                        self._shard_of[socket] = tuple(message["d"]["shard"])
                    await self._ready(socket, shard=message["d"].get("shard"))
        finally:
            self._sockets.discard(socket)
            self._shard_of.pop(socket, None)
        return socket

    async def _ready(self, socket: web.WebSocketResponse, shard: list | None = None) -> None:
        ready = {
            "v": 10, "user": self._bot_user(), "guilds": [{"id": self.guild_id, "unavailable": True}],
            "session_id": "fake-session", "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": 0}, "private_channels": [],
            "relationships": [], "presences": [], "_trace": ["fake"],
        }
        if shard is not None:
            ready["shard"] = shard
        await socket.send_json({"op": 0, "t": "READY", "s": next(self._sequence), "d": ready})
        await socket.send_json({"op": 0, "t": "GUILD_CREATE", "s": next(self._sequence), "d": self._guild()})
        self.identified.set()
