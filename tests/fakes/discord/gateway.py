"""The fake Discord's gateway: the websocket, IDENTIFY, READY and GUILD_CREATE, and dispatching events by shard."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord.wire import MEMBER_PERMISSIONS


class GatewayMixin:
    """FakeDiscord's gateway (its state is set up in FakeDiscord.__init__)."""

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to every connected client, on the shard its guild belongs to, as Discord does."""
        frame = json.dumps({"op": 0, "t": event, "s": next(self._sequence), "d": data})
        guild = int(data.get("guild_id") or 0)
        for socket in list(self._sockets):
            shard = self._shard_of.get(socket)
            if shard is None or (guild >> 22) % shard[1] == shard[0]:
                await socket.send_str(frame)

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

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "username": "Paperboy", "discriminator": "0", "global_name": None,
                "avatar": None, "bot": True, "public_flags": 0, "flags": 0, "verified": True,
                "mfa_enabled": False}

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
