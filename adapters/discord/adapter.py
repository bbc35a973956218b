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

from adapters.discord import buttons, delivery, render
from adapters.discord.commands import DM_WORKSPACE, click
from adapters.discord.tree import build_group
from adapters.discord.delivery import NO_MENTIONS
from bot.model.channels import ChannelRef
from bot.ports.adapter import BUTTONS, FILES, THREADS, CommandEngine, DeliveryResult, DeliveryStatus, RateLimit
from bot.model.replies import Post
from bot.runtime.settings import Settings, StartupError

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
RATE_LIMIT_PATIENCE = 60.0
"""Longest 429 wait discord.py may sleep through for one send; longer ones go back to the poller."""
HISTORY_LIMIT = 100
"""How many recent messages `find_post` reads: one request, and far more than a crash leaves unsettled."""

INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,  # saved bibtex as a .bib file
    create_public_threads=True,  # a discussion thread on each paper, where a channel turns threads on
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
    limits = (RateLimit("channel", 5, 5.0), RateLimit("global", 50, 1.0))
    """Discord's message limit per channel and its global request limit per bot."""
    capabilities = frozenset({BUTTONS, THREADS, FILES})

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
    def connected(self) -> bool:
        """Whether the gateway connection is open now (False while discord.py reconnects)."""
        client = self._client
        return client is not None and not client.is_closed() and client.ws is not None and client.ws.open

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
        client = self._new_client()
        delivery.insist_on_json(client.http)
        tree = app_commands.CommandTree(client)
        guild = discord.Object(self._settings.discord_guild) if self._settings.discord_guild else None
        tree.add_command(build_group(self._engine), guild=guild)
        self._listen_for_clicks(client)
        self._client = client
        token = self._settings.discord_token.get_secret_value()  # type: ignore[union-attr]
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise StartupError("DISCORD_TOKEN was refused by Discord: 401 Unauthorized; copy the token again from "
                               "the Bot page of your application at https://discord.com/developers/applications"
                               ) from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
            raise StartupError(f"cannot reach Discord at {self._settings.discord_api_url} ({error}); check the "
                               "network, or PAPERBOY_DISCORD_API_URL") from None
        self.synced = await self._sync_commands(tree, guild)
        self._task = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, timeout=READY_TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            failure = self._task.exception() if self._task in done else None
            raise StartupError(f"the Discord gateway did not become ready ({failure or 'timed out'}); check the "
                               "network, or PAPERBOY_DISCORD_GATEWAY_URL")

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

    def _listen_for_clicks(self, client: discord.Client) -> None:
        """Route clicks on Paperboy's buttons, from any message ever sent, to the engine."""
        client.add_dynamic_items(buttons.ActionButton)
        engine = self._engine

        async def on_paperboy_click(interaction: discord.Interaction, custom_id: str) -> None:
            await click(interaction, engine, custom_id)

        client.event(on_paperboy_click)

    def _new_client(self) -> discord.Client:
        options = dict(intents=discord.Intents(guilds=True), max_ratelimit_timeout=RATE_LIMIT_PATIENCE,
                       guild_ready_timeout=self._settings.discord_guild_ready_timeout)
        if self._settings.discord_shards is None:
            return discord.Client(**options)
        # Several processes split the gateway between them; REST sends work from any of them.
        shard_ids, shard_count = self._settings.discord_shards
        return discord.AutoShardedClient(shard_ids=list(shard_ids), shard_count=shard_count, **options)

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

    def _target(self, channel: ChannelRef) -> discord.PartialMessageable | DeliveryResult:
        """Return the channel to talk to, or the result that says why there is none."""
        if self._client is None or self._client.is_closed():
            return DeliveryResult(DeliveryStatus.TRANSIENT, reason="Paperboy is not connected to Discord")
        try:
            guild_id = None if channel.workspace == DM_WORKSPACE else int(channel.workspace)
            return self._client.get_partial_messageable(int(channel.channel), guild_id=guild_id)
        except ValueError:
            return DeliveryResult(DeliveryStatus.PERMANENT, reason=f"'{channel}' is not a Discord channel")

    async def send(self, channel: ChannelRef, post: Post) -> DeliveryResult:
        """Post *post* to the channel; map Discord's errors onto a delivery result."""
        target = self._target(channel)
        if isinstance(target, DeliveryResult):
            return target
        message = render.post(post)
        try:
            sent = await target.send(content=message.content, embeds=message.embeds, view=message.view,
                                     allowed_mentions=self._mentions(post), nonce=delivery.nonce_for(channel, post))
        except delivery.DELIVERY_ERRORS as error:
            return delivery.result_for_error(error)
        return DeliveryResult(DeliveryStatus.SENT, message_ref=str(sent.id))

    def message_link(self, channel: ChannelRef, message_ref: str) -> str:
        """Return the link Discord's "Copy Message Link" gives for *message_ref* (`why` shows it)."""
        where = "@me" if channel.workspace == DM_WORKSPACE else channel.workspace
        return f"https://discord.com/channels/{where}/{channel.channel}/{message_ref}"

    async def find_post(self, channel: ChannelRef, post: Post) -> str | None:
        """Return the id of Paperboy's own recent message showing *post* in *channel*, or None.

        Reads the last 100 messages; raises `HistoryUnavailable` when they cannot be read.
        """
        target = self._target(channel)
        if isinstance(target, DeliveryResult):
            raise delivery.HistoryUnavailable(f"cannot read {channel}: {target.reason}")
        bot_id = self._client.user.id  # type: ignore[union-attr]  # set once logged in
        shape = delivery.PostShape.of(post)
        try:
            async for message in target.history(limit=HISTORY_LIMIT):
                if delivery.is_own_post(message, bot_id) and shape.matches(message):
                    return str(message.id)
        except delivery.DELIVERY_ERRORS as error:
            raise delivery.HistoryUnavailable(
                f"cannot read the history of {channel}: {delivery.describe(error)}"
            ) from error
        return None

    async def edit(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        """Replace Paperboy's message *message_ref* in *channel* with *post* rendered afresh."""
        target = self._target(channel)
        if isinstance(target, DeliveryResult):
            return target
        try:
            original = target.get_partial_message(int(message_ref))
        except ValueError:
            return DeliveryResult(DeliveryStatus.PERMANENT, reason=f"'{message_ref}' is not a Discord message id")
        message = render.post(post)
        try:
            # The buttons are rendered afresh too (a new 👍 count); an edit never pings anyone.
            edited = await original.edit(content=message.content, embeds=message.embeds, view=message.view,
                                         allowed_mentions=NO_MENTIONS)
        except delivery.DELIVERY_ERRORS as error:
            return delivery.result_for_error(error, deleted_means="the message was deleted")
        return DeliveryResult(DeliveryStatus.SENT, message_ref=str(edited.id))

    async def notify(self, channel: ChannelRef, user_id: str | None, text: str) -> DeliveryResult:
        """Say *text* in *channel*; when Paperboy may not post there, say it to *user_id* in a DM."""
        target = self._target(channel)
        if isinstance(target, DeliveryResult):
            return target
        message = render.notice(text)
        try:
            sent = await target.send(content=message.content, allowed_mentions=NO_MENTIONS)
        except delivery.DELIVERY_ERRORS as error:
            failed = delivery.result_for_error(error)
            # Only a channel Paperboy may no longer post in is worth a DM; a passing failure is not.
            if failed.status is not DeliveryStatus.PERMANENT or not user_id:
                return failed
            return await self._notify_directly(user_id, message.content or "")
        return DeliveryResult(DeliveryStatus.SENT, message_ref=str(sent.id))

    async def _notify_directly(self, user_id: str, content: str) -> DeliveryResult:
        try:
            user = discord.Object(int(user_id))
        except ValueError:
            return DeliveryResult(DeliveryStatus.PERMANENT, reason=f"'{user_id}' is not a Discord user id")
        try:
            dm = await self._client.create_dm(user)  # type: ignore[union-attr]  # _target checked it
            sent = await dm.send(content=content, allowed_mentions=NO_MENTIONS)
        except delivery.DELIVERY_ERRORS as error:
            failed = delivery.result_for_error(error)
            return DeliveryResult(failed.status, reason=f"the direct message failed too: {failed.reason}",
                                  retry_after=failed.retry_after)
        return DeliveryResult(DeliveryStatus.SENT, message_ref=str(sent.id),
                              reason="sent to the user directly: the channel refused it")

    async def open_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        """Open a public thread on the post *message_ref*, named after its paper; the thread's id is the result.

        A retry after a crash finds Discord refusing a second thread on the message: that
        thread is the one asked for, and it has the message's id.
        """
        if self._client is None or self._client.is_closed():
            return DeliveryResult(DeliveryStatus.TRANSIENT, reason="Paperboy is not connected to Discord")
        if channel.workspace == DM_WORKSPACE:
            return DeliveryResult(DeliveryStatus.PERMANENT, reason="Discord has no threads in direct messages")
        try:
            channel_id, message_id = int(channel.channel), int(message_ref)
        except ValueError:
            return DeliveryResult(DeliveryStatus.PERMANENT, reason=f"'{channel}/{message_ref}' is not a Discord message")
        try:
            # Raw HTTP: the Thread model wants the guild cached, which a sending shard may not have.
            thread = await self._client.http.start_thread_with_message(
                channel_id, message_id, name=delivery.thread_name(post),
                auto_archive_duration=delivery.THREAD_ARCHIVE_MINUTES, rate_limit_per_user=None)
        except delivery.DELIVERY_ERRORS as error:
            if delivery.thread_exists(error):
                return DeliveryResult(DeliveryStatus.SENT, message_ref=message_ref)
            return delivery.result_for_error(error, deleted_means="the post the thread was for was deleted")
        return DeliveryResult(DeliveryStatus.SENT, message_ref=str(thread["id"]))

    async def find_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> str | None:
        """Return the id of the thread started on *message_ref* (a thread from a message has its id), or None.

        Raises `HistoryUnavailable` when Discord cannot say (no access, unreachable).
        """
        if self._client is None or self._client.is_closed():
            raise delivery.HistoryUnavailable(f"cannot look for the thread in {channel}: not connected to Discord")
        if not (message_ref.isascii() and message_ref.isdigit()):
            return None  # not a Discord message: nothing can have been started on it
        try:
            found = await self._client.http.get_channel(int(message_ref))
        except discord.NotFound:
            return None
        except delivery.DELIVERY_ERRORS as error:
            raise delivery.HistoryUnavailable(
                f"cannot look for the thread of {message_ref} in {channel}: {delivery.describe(error)}"
            ) from error
        is_thread = found.get("type") in delivery.THREAD_TYPES and str(found.get("parent_id")) == channel.channel
        return str(found["id"]) if is_thread else None

    def _mentions(self, post: Post) -> discord.AllowedMentions:
        """Only the post's own role may be pinged, and only when it is a role id."""
        role = render.mention_role(post)
        if role is None and post.mention is not None:
            log.warning("ignoring the mention %r of %s: not a Discord role id", post.mention[:40], post.tag)
        return delivery.allowed_mentions(role)
