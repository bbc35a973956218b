"""The fake Discord's REST routes: authentication and global rate limit, commands, channel messages, threads and DMs."""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from aiohttp import web

from tests.fakes.discord.wire import (
    Request, SlidingWindow, THREAD_EXISTS, _BODY, _FILES, _GLOBAL_EXEMPT, _error, _json, _read_multipart, _too_many,
    discord_limit_errors, snowflake,
)


class RestMixin:
    """FakeDiscord's REST routes (its state is set up in FakeDiscord.__init__)."""

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
