"""The fake Discord's interactions: sending slash commands and button clicks, and the bot's answers to them."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.fakes.discord.wire import (
    ADMIN_PERMISSIONS, DEADLINE, FakeRole, Interaction, MEMBER_PERMISSIONS, _BODY, _FILES, _error, _json,
    discord_limit_errors, snowflake,
)


class InteractionsMixin:
    """FakeDiscord's interactions (its state is set up in FakeDiscord.__init__)."""

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

    def _command_id(self, name: str) -> str:
        for command in self.guild_commands.get(self.guild_id, []) + self.global_commands:
            if command["name"] == name:
                return command["id"]
        return snowflake()

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
