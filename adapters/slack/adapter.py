"""The Slack adapter: a Bolt `AsyncApp` that answers `/papers`, mentions and clicks on Save and 👍,
posts papers and opens their discussion threads.

HTTP mode serves Slack's requests on aiohttp (signature checked by Bolt, repeats and
malformed bodies turned away by `adapters.slack.inbound`); Socket Mode is used when an
app-level token is set. Slow answers run after the 3-second acknowledgement.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from typing import Any, Mapping, Sequence

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import inbound, oauth
from adapters.slack.clients import WorkspaceClients
from adapters.slack.history import HistoryReader, SlackHistoryError
from adapters.slack.listeners import PLATFORM, SlackListeners
from adapters.slack.render import clip_escaped, render_post, render_thread
from adapters.slack.web import PERMANENT_ERRORS, Answer, delivery_error, web_client
from bot.model.channels import ChannelRef
from bot.ports.adapter import BUTTONS, FILES, THREADS, CommandEngine, DeliveryResult, DeliveryStatus, RateLimit
from bot.model.replies import Post
from bot.ports.platforms import PlatformSetupError
from bot.runtime.settings import Settings
from bot.ports.store import InstallationStore

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0
POST_EVENT_TYPE = "paperboy_post"
THREAD_EVENT_TYPE = "paperboy_thread"
"""The metadata type of a post's first thread reply: never taken for a post by `find_post`."""
MAX_NOTICE_CHARS = 3000
SLACK_LIMITS = (RateLimit("channel", 1, 1.0), RateLimit("workspace", 300, 60.0))
"""Slack's documented ``chat.postMessage`` guidance: about one message per second per channel
(short bursts allowed) and a workspace-wide limit of several hundred messages per minute."""

EDIT_ERRORS: dict[str, str] = {
    "message_not_found": "the post to edit is gone (message_not_found): it was deleted from the channel",
    "cant_update_message": "Slack refused to edit the post (cant_update_message): it is not Paperboy's message",
    "edit_window_closed": "Slack refused to edit the post (edit_window_closed): it is too old to edit",
}
"""``chat.update`` errors about the message itself: retrying cannot fix them either."""
_EDIT_PERMANENT = {**PERMANENT_ERRORS, **EDIT_ERRORS}

THREAD_ERRORS: dict[str, str] = {
    "thread_not_found": "the post to open a thread on is gone (thread_not_found): it was deleted from the channel",
    "message_not_found": "the post to open a thread on is gone (message_not_found): it was deleted from the channel",
}
"""``chat.postMessage`` (with ``thread_ts``) and ``conversations.replies`` errors about the post itself."""
_THREAD_PERMANENT = {**PERMANENT_ERRORS, **THREAD_ERRORS}

class SlackSetupError(PlatformSetupError):
    """The Slack settings cannot work; the message names the setting to fix."""


class SlackAdapter:
    """Paperboy on Slack. Implements `bot.ports.adapter.Adapter`.

    *host* and *port* are where HTTP mode listens (``port=0`` picks a free port, read
    back from `port` after `start`). *store* keeps the workspaces' installations and the OAuth
    states of "Add to Slack"; it is needed only then (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set).
    """

    platform = PLATFORM
    limits = SLACK_LIMITS
    capabilities = frozenset({BUTTONS, THREADS, FILES})

    def __init__(
        self,
        settings: Settings,
        engine: CommandEngine,
        *,
        host: str = "0.0.0.0",
        port: int | None = None,
        store: InstallationStore | None = None,
        routes: Sequence[web.RouteDef] = (),
    ) -> None:
        self.settings = settings
        self.routes = list(routes)
        """More pages for the HTTP mode's port (the core's /healthz and /metrics)."""
        self.host = host
        self.port: int = settings.slack_port if port is None else port
        self._bot_token = _secret(settings.slack_bot_token)
        self._app_token = _secret(settings.slack_app_token)
        if store is None and oauth.is_multi_workspace(settings):
            raise TypeError("SlackAdapter needs store= to keep the installations of \"Add to Slack\"")
        oauth_settings = oauth.oauth_settings(settings, store) if store is not None else None
        self.socket_mode = self._app_token is not None and oauth_settings is None
        signing_secret = self._signing_secret = _secret(settings.slack_signing_secret)
        _check_setup(bot_token=self._bot_token, oauth_enabled=oauth_settings is not None,
                     socket_mode=self.socket_mode, signing_secret=signing_secret)

        token = None if oauth_settings else self._bot_token
        self.client = web_client(token, settings.slack_api_url)
        """Paperboy's own calls (deliveries, start-up checks); from `start` to `stop` on the shared session."""
        self.installation_store = oauth_settings.installation_store if oauth_settings else None
        self.repeats = inbound.Repeats()
        self.app = AsyncApp(
            # Bolt's own client, never on the shared session: Bolt deep-copies each request's
            # client (made with this one's session) for lazy listeners, and a session cannot be copied.
            client=web_client(token, settings.slack_api_url),
            signing_secret=signing_secret or "",
            oauth_settings=oauth_settings,
            before_authorize=self.repeats,  # right after Bolt's signature check
            logger=log,
            name="paperboy",
        )
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self.clock = time.monotonic
        """The clock the tokens' lifetime and the history reads' pace are measured on (tests move it)."""
        self.clients = WorkspaceClients(self.client, self.installation_store, lambda: self.clock())
        """Every workspace's Web API client, on one HTTP session from `start` to `stop`."""
        self.history = HistoryReader(self.clients.call, lambda: self.clock())
        """Reads history for `find_post` and `find_thread`, paced per workspace by Slack's 429s."""
        self.listeners = SlackListeners(self.app, engine, settings, call=self.clients.call,
                                        forget_token=self.clients.forget_token)
        self.listeners.register(multi_workspace=self.installation_store is not None)

    @property
    def engine(self) -> CommandEngine:
        """The engine the listeners ask (tests swap it for a recording one)."""
        return self.listeners.engine

    @engine.setter
    def engine(self, engine: CommandEngine) -> None:
        self.listeners.engine = engine

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token, then listen (Socket Mode or HTTP); return once Slack can reach Paperboy.

        Raises `SlackSetupError`, one line naming the setting to fix, when that cannot work.
        """
        self.clients.open_session()
        try:
            await self._start()
        except BaseException:
            await self.clients.close_session()
            raise

    async def _start(self) -> None:
        if self._bot_token and self.installation_store is None:
            try:
                await self.client.auth_test()
            except SlackApiError as error:
                code = Answer.of(error).code
                raise SlackSetupError(
                    f"SLACK_BOT_TOKEN was refused by Slack ({code}); copy the Bot User OAuth Token (xoxb-…) "
                    "again from OAuth & Permissions at https://api.slack.com/apps" if code
                    else f"cannot check SLACK_BOT_TOKEN: {delivery_error(error).reason}"
                ) from None
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
                raise SlackSetupError(f"cannot reach Slack at {self.settings.slack_api_url} ({error or 'timed out'}); "
                                      "check the network, or PAPERBOY_SLACK_API_URL") from None
        await oauth.import_legacy(self.settings, self.installation_store)
        if self.socket_mode:
            await self._connect_socket()
        else:
            await self._listen()

    async def _connect_socket(self) -> None:
        assert self._app_token is not None
        # slack_sdk retries a refused app token forever, logging a traceback each time: ask once first.
        try:
            await self.client.apps_connections_open(app_token=self._app_token)
        except SlackApiError as error:
            raise SlackSetupError(
                f"SLACK_APP_TOKEN was refused by Slack ({Answer.of(error).code or delivery_error(error).reason}); "
                "create an app-level token (xapp-…) with connections:write under Basic Information at "
                "https://api.slack.com/apps"
            ) from None
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
            raise SlackSetupError(f"cannot reach Slack at {self.settings.slack_api_url} ({error or 'timed out'}); "
                                  "check the network, or PAPERBOY_SLACK_API_URL") from None
        self._socket = AsyncSocketModeHandler(self.app, self._app_token, logger=log)
        await self._socket.connect_async()
        log.info("Slack: connected in Socket Mode")

    async def _listen(self) -> None:
        application = inbound.web_app(
            self.app, path=oauth.EVENTS_PATH, signing_secret=self._signing_secret or "", repeats=self.repeats,
        )
        application.add_routes(self.routes)
        # No access log: a feed's URL (`routes`) is its only key, and the log must not hold it.
        self._runner = web.AppRunner(application, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            self._runner = None
            if error.errno == errno.EADDRINUSE:
                raise SlackSetupError(f"PAPERBOY_SLACK_PORT {self.port} is already in use by another program; "
                                      "stop that program, or set PAPERBOY_SLACK_PORT to a free port") from None
            raise SlackSetupError(f"cannot listen on {self.host}:{self.port} ({error.strerror or error}); "
                                  "set PAPERBOY_SLACK_PORT to another port") from None
        self.port = self._runner.addresses[0][1]
        log.info("Slack: listening on %s:%s%s", self.host, self.port, oauth.EVENTS_PATH)

    @property
    def connected(self) -> bool:
        """Whether Slack can reach Paperboy now: listening (HTTP mode), or the Socket Mode connection is open."""
        if self._socket is not None:
            session = self._socket.client.current_session
            return session is not None and not session.closed
        return self._runner is not None

    async def stop(self) -> None:
        """Stop listening, let answers in progress finish (briefly), and close connections."""
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.listeners.inflight:
            await asyncio.wait(set(self.listeners.inflight), timeout=STOP_GRACE_SECONDS)
        await self.clients.close_session()

    # -- delivery --------------------------------------------------------------------

    async def send(self, channel: ChannelRef, post: Post) -> DeliveryResult:
        """Post *post* with ``chat.postMessage``, tagged in message metadata; map Slack errors to results."""
        text, blocks = render_post(post)
        return await self._post_message(
            channel.workspace, channel=channel.channel, text=text, blocks=blocks, metadata=_post_metadata(post),
        )

    async def find_post(self, channel: ChannelRef, post: Post) -> str | None:
        """Return the ref of Paperboy's post tagged ``post.tag`` in the channel's history, or None.

        Reads from ``post.sent_after`` on when set, else the newest messages. Raises
        `SlackHistoryError` when the history cannot be read (``RATE_LIMITED``: not yet).
        """
        message = await self.history.find(
            channel.workspace, "conversations.history", event_type=POST_EVENT_TYPE, tag=post.tag,
            sent_after=post.sent_after, permanent=PERMANENT_ERRORS, channel=channel.channel,
        )
        return f"{channel.channel}/{message['ts']}" if message is not None else None

    async def edit(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        """Re-render *post* into the message *message_ref* (``channel/ts``) with ``chat.update``."""
        ref_channel, _, ts = message_ref.partition("/")
        if not ref_channel or not ts:
            return DeliveryResult(DeliveryStatus.PERMANENT, reason=f"not a Slack message ref: {message_ref!r}")
        text, blocks = render_post(post)  # the mention stays shown; Slack notifies no one of an edit
        response = await self.clients.call(
            channel.workspace, "chat.update", permanent=_EDIT_PERMANENT,
            channel=ref_channel, ts=ts, text=text, blocks=blocks, metadata=_post_metadata(post),
        )
        if isinstance(response, DeliveryResult):
            return response
        return DeliveryResult(DeliveryStatus.SENT, message_ref=f"{response['channel']}/{response['ts']}")

    async def open_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        """Reply in the thread of the post *message_ref* with its paper in full, tagged ``post.tag`` in metadata."""
        ref_channel, _, ts = message_ref.partition("/")
        if not ref_channel or not ts:
            return DeliveryResult(DeliveryStatus.PERMANENT, reason=f"not a Slack message ref: {message_ref!r}")
        text, blocks = render_thread(post)
        return await self._post_message(
            channel.workspace, permanent=_THREAD_PERMANENT, channel=ref_channel, thread_ts=ts,
            text=text, blocks=blocks, metadata=_post_metadata(post, event_type=THREAD_EVENT_TYPE),
        )

    async def find_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> str | None:
        """Return the ref of Paperboy's reply tagged ``post.tag`` in the thread of *message_ref*, or None.

        Raises `SlackHistoryError` when the thread cannot be read (``PERMANENT`` when the post is gone).
        """
        ref_channel, _, ts = message_ref.partition("/")
        if not ref_channel or not ts:
            raise SlackHistoryError(DeliveryResult(DeliveryStatus.PERMANENT,
                                                   reason=f"not a Slack message ref: {message_ref!r}"))
        # Replies come oldest first, and the first reply follows its post: usually on the first page.
        message = await self.history.find(
            channel.workspace, "conversations.replies", event_type=THREAD_EVENT_TYPE, tag=post.tag,
            sent_after=post.sent_after, permanent=_THREAD_PERMANENT, skip_ts=ts, channel=ref_channel, ts=ts,
        )
        return f"{ref_channel}/{message['ts']}" if message is not None else None

    async def notify(self, channel: ChannelRef, user_id: str | None, text: str) -> DeliveryResult:
        """Post *text* in the channel; if Paperboy cannot post there, send it to *user_id* directly.

        Returns the direct message's result when that went out, else the channel's.
        """
        in_channel = await self._post_message(
            channel.workspace, channel=channel.channel, text=clip_escaped(text, MAX_NOTICE_CHARS)
        )
        if in_channel.status is not DeliveryStatus.PERMANENT or not user_id:
            return in_channel
        # A channel link names the channel in the DM without notifying anyone.
        direct = await self._post_message(
            channel.workspace, channel=user_id,
            text=f"In <#{channel.channel}>: {clip_escaped(text, MAX_NOTICE_CHARS)}",
        )
        return direct if direct.status is DeliveryStatus.SENT else in_channel

    async def _post_message(self, workspace: str, *, permanent: Mapping[str, str] = PERMANENT_ERRORS,
                            **fields: Any) -> DeliveryResult:
        """Call ``chat.postMessage`` in *workspace* without link previews; map the outcome."""
        response = await self.clients.call(workspace, "chat.postMessage", permanent=permanent,
                                    unfurl_links=False, unfurl_media=False, **fields)
        if isinstance(response, DeliveryResult):
            return response
        return DeliveryResult(DeliveryStatus.SENT, message_ref=f"{response['channel']}/{response['ts']}")

    async def _client_for(self, workspace: str) -> AsyncWebClient | None:
        return await self.clients.client_for(workspace)


def _post_metadata(post: Post, *, event_type: str = POST_EVENT_TYPE) -> dict[str, Any]:
    """Return the message metadata that lets `find_post` (or `find_thread`) recognise *post* again."""
    return {"event_type": event_type, "event_payload": {"tag": post.tag, "paper_ids": list(post.paper_ids)}}


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def _check_setup(*, bot_token: str | None, oauth_enabled: bool, socket_mode: bool,
                 signing_secret: str | None) -> None:
    if not bot_token and not oauth_enabled:
        raise SlackSetupError(
            "Slack needs SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (many)"
        )
    if not socket_mode and not signing_secret:
        raise SlackSetupError("Slack HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)")
