"""A fake Discord (REST and gateway) on 127.0.0.1 that the real discord.py client talks to.

It behaves like Discord where Paperboy's adapter could get it wrong: 401 for a bad
token, 400 (code 50035) for any message over Discord's limits, 404 (code 10062
"Unknown interaction") for a first response later than three seconds, 400 (code
40060) for a second one, 403/404 for channels the test marks as forbidden or gone,
and 429 (with the ``Via`` header real Discord sends) as often as the test asks.

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
import itertools
import json
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
    if not content and not embeds and "content" in payload and "embeds" in payload:
        errors.append("cannot send an empty message")
    return errors


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly application/json (no charset).
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status=status)


@dataclass
class Request:
    """One request the bot made: method, path (without the API prefix), query, JSON body, time."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float
    status: int = 200


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


class FakeDiscord:
    """Discord's REST API and gateway for one bot, one application and one guild."""

    def __init__(self, *, token: str | None = None, guild_id: str | None = None) -> None:
        self.bot_id = snowflake()
        self.application_id = self.bot_id
        # A real-shaped token: base64 of the bot id, a timestamp part and an HMAC part.
        self.token = token or (
            base64.urlsafe_b64encode(self.bot_id.encode()).decode().rstrip("=") + ".GfAkEd.fake-hmac-part"
        )
        self.guild_id = guild_id or snowflake()
        self.channel_id = snowflake()
        self.requests: list[Request] = []
        self.interactions: dict[str, Interaction] = {}
        self.channel_messages: dict[str, list[dict[str, Any]]] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[str, list[dict[str, Any]]] = {}
        self.forbidden_channels: set[str] = set()
        self.missing_channels: set[str] = set()
        self.rate_limit_next = 0
        """How many of the next channel message sends get a 429."""
        self.retry_after = 0.2
        self.identified = asyncio.Event()
        self._sockets: set[web.WebSocketResponse] = set()
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

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to every connected client."""
        frame = json.dumps({"op": 0, "t": event, "s": next(self._sequence), "d": data})
        for socket in list(self._sockets):
            await socket.send_str(frame)

    async def run_command(
        self,
        subcommand: str,
        options: dict[str, Any] | None = None,
        *,
        permissions: int = ADMIN_PERMISSIONS,
        channel_id: str | None = None,
        focused: str | None = None,
    ) -> Interaction:
        """Send INTERACTION_CREATE for ``/papers <subcommand>``; ``focused`` makes it an autocomplete."""
        typed = []
        for name, value in (options or {}).items():
            kind = 4 if isinstance(value, int) and not isinstance(value, bool) else 3
            option: dict[str, Any] = {"name": name, "type": kind, "value": value}
            if name == focused:
                option["focused"] = True
            typed.append(option)
        data = {
            "id": self._command_id("papers"),
            "name": "papers",
            "type": 1,
            "options": [{"name": subcommand, "type": 1, "options": typed}],
        }
        if self.guild_commands.get(self.guild_id):
            data["guild_id"] = self.guild_id
        payload = self._interaction_payload(
            kind=4 if focused else 2, data=data, permissions=permissions,
            channel_id=channel_id or self.channel_id,
        )
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
                             channel_id: str) -> dict[str, Any]:
        user = {"id": "4242", "username": "ada", "discriminator": "0", "global_name": "Ada",
                "avatar": None, "public_flags": 0}
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

    def _guild(self) -> dict[str, Any]:
        everyone = {"id": self.guild_id, "name": "@everyone", "permissions": str(MEMBER_PERMISSIONS),
                    "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False,
                    "flags": 0}
        channel = {"id": self.channel_id, "type": 0, "name": "papers", "guild_id": self.guild_id,
                   "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None,
                   "topic": None, "rate_limit_per_user": 0, "flags": 0}
        return {
            "id": self.guild_id, "name": "Research", "icon": None, "owner_id": "4242",
            "roles": [everyone], "channels": [channel], "threads": [], "members": [],
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
        if request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw and request.content_type == "application/json" else raw
        path = request.path.removeprefix("/api/v10")
        record = Request(request.method, path, dict(request.query), body, time.monotonic())
        if path != "/gateway/ws":
            self.requests.append(record)
        if path.startswith("/gateway/ws"):
            return await handler(request)
        auth = request.headers.get("Authorization")
        needs_auth = path.startswith(("/users", "/oauth2", "/applications", "/channels"))
        if (auth is not None or needs_auth) and auth != f"Bot {self.token}":
            record.status = 401
            return _error(401, 0, "401: Unauthorized")
        request[_BODY] = body
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
        return _json({"interaction": {"id": interaction.id, "type": interaction.payload["type"]}})

    def _message(self, body: dict[str, Any], channel_id: str, *, flags: int = 0) -> dict[str, Any]:
        return {
            "id": snowflake(), "channel_id": channel_id, "type": 0, "content": body.get("content") or "",
            "embeds": body.get("embeds") or [], "author": self._bot_user(), "attachments": [],
            "mentions": [], "mention_roles": [], "mention_everyone": False, "pinned": False, "tts": False,
            "timestamp": "2026-11-27T09:00:00.000000+00:00", "edited_timestamp": None,
            "flags": body.get("flags", flags), "components": [],
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
        return _json(self._message(request[_BODY], interaction.payload["channel_id"]))

    async def _delete_original(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request.match_info["token"])
        if interaction is None or not interaction.callbacks:
            return _error(404, 10008, "Unknown Message")
        interaction.deleted_original = True
        return web.Response(status=204)

    async def _channel_message(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        if channel in self.missing_channels:
            return _error(404, 10003, "Unknown Channel")
        if channel in self.forbidden_channels:
            return _error(403, 50001, "Missing Access")
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return _json({"message": "You are being rate limited.", "retry_after": self.retry_after,
                          "global": False}, status=429,
                         headers={"Via": "1.1 google", "Retry-After": str(self.retry_after),
                                  "X-RateLimit-Scope": "user"})
        problems = discord_limit_errors(request[_BODY])
        if problems:
            return _error(400, 50035, "Invalid Form Body: " + "; ".join(problems))
        message = self._message(request[_BODY], channel)
        self.channel_messages.setdefault(channel, []).append(request[_BODY])
        return _json(message)

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
                    await self._ready(socket)
        finally:
            self._sockets.discard(socket)
        return socket

    async def _ready(self, socket: web.WebSocketResponse) -> None:
        ready = {
            "v": 10, "user": self._bot_user(), "guilds": [{"id": self.guild_id, "unavailable": True}],
            "session_id": "fake-session", "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": 0}, "private_channels": [],
            "relationships": [], "presences": [], "_trace": ["fake"],
        }
        await socket.send_json({"op": 0, "t": "READY", "s": next(self._sequence), "d": ready})
        await socket.send_json({"op": 0, "t": "GUILD_CREATE", "s": next(self._sequence), "d": self._guild()})
        self.identified.set()
