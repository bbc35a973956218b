"""The Slack adapter: a Bolt `AsyncApp` that answers `/papers`, mentions and clicks on Save and 👍,
posts papers and opens their discussion threads.

HTTP mode serves Slack's requests on aiohttp (signature checked by Bolt, repeats and
malformed bodies turned away by `adapters.slack.inbound`); Socket Mode is used when an
app-level token is set. Slow answers run after the 3-second acknowledgement.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import re
import time
from typing import Any, Mapping, Sequence

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack import clicks, inbound, markup, oauth
from adapters.slack.history import HistoryReader, SlackHistoryError
from adapters.slack.web import (
    AUTH_ERRORS, LOST_ACCESS, PERMANENT_ERRORS, Answer, attempt, bound_call, delivery_error, web_client,
)
from adapters.slack.render import (
    LINK_ACTION_PREFIX, SlackMessage, clip_escaped, escape, render, render_file, render_post, render_thread,
)
from bot.actions import Action
from bot.batching import Batcher
from bot.channels import Caller, ChannelRef, Command, parse_command
from bot.commands import COMMANDS
from bot.delivery import (
    BUTTONS, FILES, THREADS, CommandEngine, DeliveryResult, DeliveryStatus, RateLimit,
)
from bot.replies import Content, Error, File, Post, Reply, Text
from bot.platforms import PlatformSetupError
from bot.settings import Settings
from bot.store import InstallationStore

log = logging.getLogger(__name__)

PLATFORM = "slack"
STOP_GRACE_SECONDS = 5.0
POST_EVENT_TYPE = "paperboy_post"
THREAD_EVENT_TYPE = "paperboy_thread"
"""The metadata type of a post's first thread reply: never taken for a post by `find_post`."""
MAX_NOTICE_CHARS = 3000
TOKEN_TTL_SECONDS = 30.0
"""How long a workspace's bot token, once read from the installation store, is used without reading it again."""
MAX_CONNECTIONS = 64
"""Open connections to Slack at once for the shared HTTP session; more calls wait for one to be free.

A round to a thousand workspaces starts a thousand calls at once: without a limit each would
open (and later keep) its own connection, which cost most of a send's CPU, for no speed gained
(Slack paces each channel and workspace, not the connection)."""

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

FILE_ERRORS: dict[str, str] = {
    "missing_scope": "Paperboy may not upload files in this workspace (missing_scope): "
                     "reinstall it from the manifest to grant files:write",
}
"""Upload errors (``conversations.open``, ``files_upload_v2``) that say more than their channel-access meaning."""
_FILE_PERMANENT = {**PERMANENT_ERRORS, **FILE_ERRORS}

THREAD_ERRORS: dict[str, str] = {
    "thread_not_found": "the post to open a thread on is gone (thread_not_found): it was deleted from the channel",
    "message_not_found": "the post to open a thread on is gone (message_not_found): it was deleted from the channel",
}
"""``chat.postMessage`` (with ``thread_ts``) and ``conversations.replies`` errors about the post itself."""
_THREAD_PERMANENT = {**PERMANENT_ERRORS, **THREAD_ERRORS}

_LEADING_MENTION = re.compile(r"^\s*(?:<@[A-Z0-9]+(?:\|[^>]*)?>\s*)+")
DIRECT_MESSAGE_NAME = "directmessage"
"""The ``channel_name`` Slack gives a slash command typed in a direct message."""


class SlackSetupError(PlatformSetupError):
    """The Slack settings cannot work; the message names the setting to fix."""


class SlackAdapter:
    """Paperboy on Slack. Implements `bot.delivery.Adapter`.

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
        self.engine = engine
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
        self._register_listeners()
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._team_clients: dict[str, AsyncWebClient] = {}
        """Bot token → its Web API client (all of them on `_session` once started)."""
        self._bot_reads: Batcher[str, Any] = Batcher(self._read_bots)
        self._tokens: dict[str, tuple[str, float]] = {}
        """Workspace → (bot token, until when on `clock`): read from the installation store at most every 30 s."""
        self.clock = time.monotonic
        """The clock `_tokens` and the history reads' pace are measured on (tests move it)."""
        self.history = HistoryReader(self._call, lambda: self.clock())
        """Reads history for `find_post` and `find_thread`, paced per workspace by Slack's 429s."""
        self._session: aiohttp.ClientSession | None = None
        """The one HTTP session (and connection pool) of every Web API client, from `start` to `stop`."""

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token, then listen (Socket Mode or HTTP); return once Slack can reach Paperboy.

        Raises `SlackSetupError`, one line naming the setting to fix, when that cannot work.
        """
        self._open_session()
        try:
            await self._start()
        except BaseException:
            await self._close_session()
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
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=STOP_GRACE_SECONDS)
        await self._close_session()

    def _open_session(self) -> None:
        """Give every Web API client one shared HTTP session, so calls reuse their connections to Slack.

        Called in the running loop (by `start`). Like the session slack_sdk opens per call
        without one (before `start`, after `stop`), it times out a whole call after
        ``client.timeout`` and keeps no cookies (nothing carries from one workspace to another).
        """
        if self._session is not None and not self._session.closed:
            return
        asyncio.get_running_loop()  # an aiohttp session belongs to the loop it was made in
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
            timeout=aiohttp.ClientTimeout(total=self.client.timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._use_session(self._session)

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        self._use_session(None)
        if session is not None:
            await session.close()

    def _use_session(self, session: aiohttp.ClientSession | None) -> None:
        self.client.session = session
        for client in self._team_clients.values():
            client.session = session

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
        response = await self._call(
            channel.workspace, "chat_update", permanent=_EDIT_PERMANENT,
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
        response = await self._call(workspace, "chat.postMessage", permanent=permanent,
                                    unfurl_links=False, unfurl_media=False, **fields)
        if isinstance(response, DeliveryResult):
            return response
        return DeliveryResult(DeliveryStatus.SENT, message_ref=f"{response['channel']}/{response['ts']}")

    async def _call(
        self, workspace: str, method: str, *, permanent: Mapping[str, str] = PERMANENT_ERRORS, **params: Any,
    ) -> AsyncSlackResponse | DeliveryResult:
        """Call the client method *method* (``chat_postMessage``) with *workspace*'s token.

        Returns Slack's answer, or the `DeliveryResult` saying why there is none. Every
        delivery path goes through here, so every failure is mapped in one place;
        *permanent* names the error codes that retrying cannot fix.
        """
        client, remembered = await self._workspace_client(workspace)
        if client is None:
            return _NOT_INSTALLED
        outcome = await attempt(bound_call(client, method), params)  # a wrong name is a bug: AttributeError
        if remembered and isinstance(outcome, SlackApiError) and Answer.of(outcome).code in AUTH_ERRORS:
            # The token was remembered: another process may have stored a new one since (a reinstall).
            refused = client.token
            self._forget_token(workspace, refused)
            client, _ = await self._workspace_client(workspace)
            if client is None:
                return _NOT_INSTALLED
            if client.token != refused:
                outcome = await attempt(bound_call(client, method), params)
        if isinstance(outcome, SlackApiError):
            return delivery_error(outcome, permanent=permanent)
        return outcome

    async def _client_for(self, workspace: str) -> AsyncWebClient | None:
        """Return a Web API client holding *workspace*'s bot token (None: not installed there)."""
        client, _ = await self._workspace_client(workspace)
        return client

    async def _workspace_client(self, workspace: str) -> tuple[AsyncWebClient | None, bool]:
        """Return *workspace*'s client (None: not installed there), and whether its token was remembered.

        A token read from the installation store is remembered for `TOKEN_TTL_SECONDS`;
        `_call` reads it again sooner when Slack refuses it.
        """
        if self.installation_store is None:
            return self.client, False
        remembered = self._tokens.get(workspace)
        if remembered is not None and remembered[1] > self.clock():
            return self._token_client(remembered[0]), True
        bot = await self._bot_reads.submit(workspace)
        if bot is None or not bot.bot_token:
            self._forget_token(workspace)
            return None, False
        if remembered is not None and remembered[0] != bot.bot_token:
            self._team_clients.pop(remembered[0], None)  # reinstalled: the old token is of no more use
        self._tokens[workspace] = (bot.bot_token, self.clock() + TOKEN_TTL_SECONDS)
        return self._token_client(bot.bot_token), False

    async def _read_bots(self, workspaces: list[str]) -> list[Any]:
        """The bots of *workspaces*: the reads that wait at once (a round sends to many) go in one."""
        store = self.installation_store
        assert store is not None
        find_many = getattr(store, "async_find_bots", None)  # Paperboy's store; Bolt's own have one read each
        if find_many is None:
            return [await store.async_find_bot(enterprise_id=None, team_id=w) for w in workspaces]
        found = await find_many(list(dict.fromkeys(workspaces)))
        return [found.get(workspace) for workspace in workspaces]

    def _token_client(self, token: str) -> AsyncWebClient:
        # One client per token: a reinstall brings a new token, and so a new client.
        client = self._team_clients.get(token)
        if client is None:
            client = self._team_clients[token] = AsyncWebClient(
                token=token,
                base_url=self.client.base_url,
                timeout=self.client.timeout,
                session=self._session,
                retry_handlers=list(self.client.retry_handlers),
                logger=self.client.logger,
            )
        return client

    def _forget_token(self, workspace: str | None, token: str | None = None) -> None:
        """Read *workspace*'s token from the store on its next call, and drop the client of the old one.

        With *token*, only if that is the token remembered (another call may have read a newer one).
        """
        remembered = self._tokens.get(workspace or "")
        if remembered is None or (token is not None and remembered[0] != token):
            return
        del self._tokens[workspace or ""]
        self._team_clients.pop(remembered[0], None)

    # -- incoming --------------------------------------------------------------------

    def _register_listeners(self) -> None:
        self.app.command("/papers")(ack=_ack, lazy=[self._answer_command])
        self.app.event("app_mention")(self._answer_mention)
        # Link buttons open their URL in the browser, but Slack still sends us the click.
        self.app.action(re.compile(f"^{LINK_ACTION_PREFIX}"))(_ack)
        # Save and 👍: acknowledged at once, answered privately once the engine has done it.
        self.app.action(re.compile(clicks.ACTION_PATTERN))(ack=_ack, lazy=[self._answer_click])
        if self.installation_store is not None:
            # Bolt's own listeners delete the installation; then the remembered token goes too.
            self.app.event("tokens_revoked")(self._on_tokens_revoked)
            self.app.event("app_uninstalled")(self._on_app_uninstalled)
        else:
            # The manifest subscribes to these; unanswered events make Slack retry and complain.
            self.app.event("app_uninstalled")(_log_uninstall)
            self.app.event("tokens_revoked")(_log_uninstall)

    async def _on_tokens_revoked(self, event: dict, context: Any) -> None:
        try:
            await self.app.default_tokens_revoked_event_listener()(event=event, context=context)
        finally:
            self._forget_token(context.team_id)

    async def _on_app_uninstalled(self, context: Any) -> None:
        try:
            await self.app.default_app_uninstalled_event_listener()(context=context)
        finally:
            self._forget_token(context.team_id)

    async def _answer_command(self, command: dict, respond: Any, client: AsyncWebClient) -> None:
        """Run one ``/papers`` command after the ack and answer through its ``response_url``."""
        with self._tracked():
            channel = ChannelRef(PLATFORM, command.get("team_id", ""), command.get("channel_id", ""))
            caller = Caller(id=command.get("user_id", ""), name=command.get("user_name", ""))
            direct = _is_direct_message(channel.channel, command.get("channel_name"))
            parsed = await self._with_permission(_parse(command.get("text", ""), caller, channel), client,
                                                 direct=direct)
            reply = await self._run(parsed)
            private = reply.private  # the core decided who sees it
            message = await self._render_reply(reply.content, channel, caller.id, private=private)
            if message is None:  # a file, shared in the channel itself: nothing more to say
                return
            await respond(
                text=message.text,
                blocks=message.block_dicts(),
                response_type="ephemeral" if private else "in_channel",
                replace_original=False,
                unfurl_links=False,
                unfurl_media=False,
            )

    async def _answer_mention(self, event: dict, context: Any, client: AsyncWebClient) -> None:
        """Answer ``@Paperboy trending`` in the channel (thread kept), privately when the reply is private."""
        with self._tracked():
            text = _LEADING_MENTION.sub("", event.get("text", ""))  # before decoding: it is Paperboy's own name
            user = event.get("user", "")
            channel = ChannelRef(PLATFORM, context.team_id or event.get("team", ""), event.get("channel", ""))
            direct = _is_direct_message(channel.channel, None) or event.get("channel_type") == "im"
            parsed = await self._with_permission(_parse(text, Caller(id=user, name=user), channel), client,
                                                 direct=direct)
            reply = await self._run(parsed)
            private = reply.private  # the core decided who sees it
            message = await self._render_reply(reply.content, channel, user, private=private)
            if message is None:
                return
            if private:
                await client.chat_postEphemeral(
                    channel=channel.channel, user=user, text=message.text, blocks=message.block_dicts(),
                    thread_ts=event.get("thread_ts"),
                )
            else:
                await client.chat_postMessage(
                    channel=channel.channel, text=message.text, blocks=message.block_dicts(),
                    thread_ts=event.get("thread_ts"), unfurl_links=False, unfurl_media=False,
                )

    async def _render_reply(self, content: Content, channel: ChannelRef, user_id: str, *,
                            private: bool) -> SlackMessage | None:
        """Render a reply; a `File` is uploaded first, and the answer says where it went (None: nowhere to say)."""
        if not isinstance(content, File):
            return render(content)
        return await self._send_file(content, channel, user_id, private=private)

    async def _send_file(self, item: File, channel: ChannelRef, user_id: str, *,
                         private: bool) -> SlackMessage | None:
        """Upload *item* with ``files_upload_v2``: to the caller's DM with Paperboy when *private*, else the channel.

        Slack shows a file to everyone in the channel it is shared in, so a private file goes
        to the direct message, and the answer points there. When the upload fails (no
        files:write scope, or anything else), the answer is the file as text with one line why.
        """
        target: str | None = channel.channel
        if private:
            opened = await self._call(channel.workspace, "conversations_open", permanent=_FILE_PERMANENT,
                                      users=user_id)
            if isinstance(opened, DeliveryResult):
                return self._file_fallback(item, opened.reason)
            target = (opened.get("channel") or {}).get("id")
            if not target:
                return self._file_fallback(item, "Slack opened no direct message")
        try:
            uploaded = await self._call(
                channel.workspace, "files_upload_v2", permanent=_FILE_PERMANENT,
                channel=target, filename=item.name, content=item.content, title=item.name,
                initial_comment=escape(item.note),
            )
        except SlackClientError as error:  # the upload URL refused the bytes (files_upload_v2's step 2)
            log.warning("Slack: uploading %s failed: %s", item.name, str(error)[:300])
            return self._file_fallback(item, "Slack refused the file's bytes")
        if isinstance(uploaded, DeliveryResult):
            return self._file_fallback(item, uploaded.reason)
        if not private:
            return None
        return render(Text(f"{item.note}: sent to your direct messages with Paperboy as {item.name}"))

    @staticmethod
    def _file_fallback(item: File, reason: str | None) -> SlackMessage:
        why = reason or "unknown error"
        log.warning("Slack: could not upload %s, answering with its text: %s", item.name, why)
        return render_file(item, reason=f"Paperboy could not send {item.name} as a file: {why}. Here it is as text.")

    async def _with_permission(self, command: Command, client: AsyncWebClient, *, direct: bool = False) -> Command:
        """Set ``caller.can_manage``: everyone, or only admins and owners when SLACK_ADMINS_ONLY is on.

        A direct message with Paperboy (*direct*) is the caller's own place: they manage it.
        """
        spec = COMMANDS.get(command.name)
        if direct:
            return dataclasses.replace(command, caller=dataclasses.replace(command.caller, can_manage=True),
                                       direct=True)
        if not self.settings.slack_admins_only or spec is None or not spec.manages:
            return command
        can_manage, name = await self._is_manager(command.caller.id, client)
        return dataclasses.replace(command, caller=Caller(id=command.caller.id, name=name or command.caller.name,
                                                          can_manage=can_manage))

    async def _is_manager(self, user_id: str, client: AsyncWebClient) -> tuple[bool, str | None]:
        """Ask ``users.info`` whether *user_id* is an admin or owner (and their name); no answer is a no."""
        try:
            user = (await client.users_info(user=user_id))["user"]
        except (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError, KeyError, TypeError) as error:
            log.warning("Slack: users.info failed for %s: %s", user_id, error)
            user = {}
        can_manage = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        return can_manage, user.get("name")

    async def _answer_click(self, body: dict, respond: Any, client: AsyncWebClient, context: Any) -> None:
        """Run one click on Save or 👍 after the ack, and answer the person who clicked, privately."""
        with self._tracked():
            click = clicks.read_click(body)
            if isinstance(click, str):
                log.warning("Slack: could not read a click: %s", click)
                await self._answer_privately(body, respond, client, render(Error(click)))
                return
            channel = ChannelRef(PLATFORM, context.team_id or click.team_id, click.channel_id)
            can_manage = True
            if self.settings.slack_admins_only and not _is_direct_message(click.channel_id, None):
                can_manage, _ = await self._is_manager(click.user_id, client)
            caller = Caller(id=click.user_id, name=click.user_name, can_manage=can_manage)
            message_ref = f"{click.channel_id}/{click.message_ts}" if click.message_ts else None
            reply = await self._act(Action(click.kind, click.paper_id, caller, channel, message_ref))
            message = await self._render_reply(reply.content, channel, caller.id, private=True)
            if message is not None:
                await self._answer_privately(body, respond, client, message)

    async def _answer_privately(self, body: dict, respond: Any, client: AsyncWebClient,
                                message: SlackMessage) -> None:
        """Show *message* to the clicker alone: through the click's ``response_url``, else ``chat.postEphemeral``.

        ``replace_original: false`` keeps the post (and its buttons) as it is for everyone else.
        A failure is logged in one line: the click itself is done, there is nobody else to tell.
        """
        try:
            if body.get("response_url"):
                await respond(text=message.text, blocks=message.block_dicts(), response_type="ephemeral",
                              replace_original=False)
                return
            user, channel = clicks.read_click_target(body)
            if user and channel:
                await client.chat_postEphemeral(channel=channel, user=user, text=message.text,
                                                blocks=message.block_dicts())
        except (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as error:
            log.warning("Slack: could not answer a click: %s", str(error)[:300])

    async def _run(self, command: Command) -> Reply:
        try:
            return await self.engine.handle(command)
        except Exception:  # the engine should never raise; the user still deserves an answer
            log.exception("engine failed on %s", command.name)
            return Reply(Error(_SOMETHING_WENT_WRONG), private=True)

    async def _act(self, action: Action) -> Reply:
        try:
            return await self.engine.act(action)
        except Exception:  # as for commands: the person who clicked still gets one line, Bolt gets nothing
            log.exception("engine failed on a %s click", action.kind)
            return Reply(Error(_SOMETHING_WENT_WRONG), private=True)

    def _tracked(self) -> _Tracked:
        return _Tracked(self._inflight)


class _Tracked:
    """Keep the current task in *tasks* while the block runs, so `stop` can wait for it."""

    def __init__(self, tasks: set[asyncio.Task[Any]]) -> None:
        self._tasks = tasks
        self._task: asyncio.Task[Any] | None = None

    def __enter__(self) -> None:
        self._task = asyncio.current_task()
        if self._task is not None:
            self._tasks.add(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._tasks.discard(self._task)


_SOMETHING_WENT_WRONG = "Something went wrong on Paperboy's side. Please try again later."

_NOT_INSTALLED = DeliveryResult(
    DeliveryStatus.PERMANENT,
    reason=f"{LOST_ACCESS} (not installed): Paperboy is no longer installed in this workspace",
)


def _post_metadata(post: Post, *, event_type: str = POST_EVENT_TYPE) -> dict[str, Any]:
    """Return the message metadata that lets `find_post` (or `find_thread`) recognise *post* again."""
    return {"event_type": event_type, "event_payload": {"tag": post.tag, "paper_ids": list(post.paper_ids)}}


async def _ack(ack: Any) -> None:
    await ack()


async def _log_uninstall(event: dict, context: Any) -> None:
    # Deliveries will fail with token_revoked and pause their channels; nothing to clean up here.
    log.warning("Slack: %s for team %s", event.get("type"), context.team_id)


def _parse(text: str, caller: Caller, channel: ChannelRef) -> Command:
    """Parse a command from Slack's markup: mentions become ``@name``, links URLs, group mentions `Group`s."""
    plain, groups = markup.decode(text)
    return dataclasses.replace(parse_command(plain, caller=caller, channel=channel), groups=groups)


def _is_direct_message(channel_id: str, channel_name: str | None) -> bool:
    """Say whether a command came from a direct message with Paperboy (``D…``), the caller's own place."""
    return channel_id.startswith("D") or channel_name == DIRECT_MESSAGE_NAME


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
