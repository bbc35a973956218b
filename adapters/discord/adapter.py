"""The Discord adapter: the discord.py client's lifecycle, command sync and channel delivery."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands

from adapters.discord import render
from adapters.discord.commands import NO_MENTIONS, build_group
from bot.channels import ChannelRef
from bot.delivery import CommandEngine, DeliveryResult, DeliveryStatus
from bot.replies import Post
from bot.settings import Settings

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
RATE_LIMIT_PATIENCE = 60.0
"""Longest 429 wait discord.py may sleep through for one send; longer ones go back to the poller."""

INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    read_message_history=True,  # to find its own earlier posts again
)
INVITE_SCOPES = ("bot", "applications.commands")

# Server-side fields Discord adds to a command; they say nothing about its definition.
_SERVER_FIELDS = frozenset({"id", "application_id", "version", "guild_id", "name_localized",
                            "description_localized", "dm_permission"})


def invite_url(application_id: int | str) -> str:
    """Return the OAuth2 URL that adds Paperboy to a server with the least permissions it needs."""
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES)


def application_id_from_token(token: str) -> int:
    """Return the bot's application id, which a bot token carries base64-encoded in its first part."""
    first = token.strip().split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not first or not decoded.isdigit():
        raise ValueError("DISCORD_TOKEN does not look like a bot token "
                         "(copy it from the Bot page of your application in the Discord developer portal)")
    return int(decoded)


def _normalized(value: Any) -> Any:
    # Discord omits empty and default values that discord.py sends: drop them on both sides.
    if isinstance(value, dict):
        kept = {k: _normalized(v) for k, v in value.items() if k not in _SERVER_FIELDS}
        return {k: v for k, v in kept.items() if v not in (None, False, [], {}, "")}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def commands_differ(local: list[dict[str, Any]], remote: list[dict[str, Any]]) -> bool:
    """Return True when the *remote* command definitions are not what *local* would register."""
    mine = {c["name"]: _normalized(c) for c in local}
    theirs = {c["name"]: _normalized(c) for c in remote}
    return mine != theirs


class DiscordAdapter:
    """Paperboy on Discord: answers `/papers` and delivers the poller's posts to channels."""

    platform = "discord"

    def __init__(self, settings: Settings, engine: CommandEngine) -> None:
        if settings.discord_token is None:
            raise ValueError("DISCORD_TOKEN is not set")
        self._settings = settings
        self._engine = engine
        self._client: discord.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._saved_urls: tuple[str, yarl.URL] | None = None
        self.synced = False
        """Whether the last start() had to register changed command definitions."""

    @property
    def client(self) -> discord.Client | None:
        """The discord.py client once started (None before)."""
        return self._client

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The client's gateway task (tests check it for exceptions)."""
        return self._task

    async def start(self) -> None:
        """Log in, register `/papers` if its definition changed, connect, and return once ready."""
        self._point_client()
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        client = discord.Client(intents=discord.Intents(guilds=True), max_ratelimit_timeout=RATE_LIMIT_PATIENCE)
        tree = app_commands.CommandTree(client)
        guild = discord.Object(self._settings.discord_guild) if self._settings.discord_guild else None
        tree.add_command(build_group(self._engine), guild=guild)
        self._client = client
        token = self._settings.discord_token.get_secret_value()  # type: ignore[union-attr]
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise RuntimeError("Discord rejected DISCORD_TOKEN (401 Unauthorized): check the bot token") from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
            raise RuntimeError(f"cannot reach Discord at {self._settings.discord_api_url}: {error}") from None
        self.synced = await self._sync_commands(tree, guild)
        self._task = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, timeout=READY_TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            failure = self._task.exception() if self._task in done else None
            raise RuntimeError(f"Discord gateway did not become ready: {failure or 'timed out'}")

    async def stop(self) -> None:
        """Disconnect from Discord and put the library's global URLs back."""
        if self._client is not None:
            await self._client.close()
        if self._task is not None and not self._task.done():
            try:
                await self._task
            except Exception:  # already closing: a late gateway error is only worth a log line
                log.exception("Discord client ended with an error")
        if self._saved_urls is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved_urls
            self._saved_urls = None

    def _point_client(self) -> None:
        # discord.py keeps both URLs as class attributes; there is no per-client setting.
        self._saved_urls = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = self._settings.discord_api_url.rstrip("/")
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self._settings.discord_gateway_url)

    async def _sync_commands(self, tree: app_commands.CommandTree, guild: discord.Object | None) -> bool:
        """Register the commands when Discord's copy differs; return whether it did."""
        client = tree.client
        app_id = client.application_id
        local = [command.to_dict(tree) for command in tree._get_all_commands(guild=guild)]
        if guild is None:
            remote = await client.http.get_global_commands(app_id)  # type: ignore[arg-type]
        else:
            remote = await client.http.get_guild_commands(app_id, guild.id)  # type: ignore[arg-type]
        if not commands_differ(local, list(remote)):
            log.info("Discord commands unchanged; not syncing")
            return False
        await tree.sync(guild=guild)
        log.info("synced /papers to %s", f"guild {guild.id}" if guild else "all servers (global)")
        return True

    async def send(self, channel: ChannelRef, post: Post) -> DeliveryResult:
        """Post *post* to the channel; map Discord's errors onto a delivery result."""
        if self._client is None or self._client.is_closed():
            return DeliveryResult(DeliveryStatus.TRANSIENT, reason="Paperboy is not connected to Discord")
        try:
            target = self._client.get_partial_messageable(int(channel.channel), guild_id=int(channel.workspace))
        except ValueError:
            return DeliveryResult(DeliveryStatus.PERMANENT, reason=f"'{channel}' is not a Discord channel")
        message = render.post(post)
        try:
            sent = await target.send(content=message.content, embeds=message.embeds, allowed_mentions=NO_MENTIONS)
        except discord.Forbidden as error:
            return DeliveryResult(DeliveryStatus.PERMANENT,
                                  reason=f"Paperboy lost access to this channel (403 {error.text or 'Forbidden'})")
        except discord.NotFound as error:
            return DeliveryResult(DeliveryStatus.PERMANENT,
                                  reason=f"This channel is gone or hidden from Paperboy (404 {error.text or 'Not Found'})")
        except discord.RateLimited as error:
            return DeliveryResult(DeliveryStatus.RATE_LIMITED, retry_after=error.retry_after,
                                  reason="Discord rate limit")
        except discord.HTTPException as error:
            status = DeliveryStatus.RATE_LIMITED if error.status == 429 else DeliveryStatus.TRANSIENT
            return DeliveryResult(status, reason=f"Discord answered {error.status}: {error.text}"[:300])
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            return DeliveryResult(DeliveryStatus.TRANSIENT, reason=f"cannot reach Discord: {error}"[:300])
        return DeliveryResult(DeliveryStatus.SENT, message_ref=str(sent.id))
