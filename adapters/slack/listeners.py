"""What Slack sends Paperboy: ``/papers``, mentions, clicks on Save and 👍, and uninstalls.

Each answer runs after Bolt's 3-second acknowledgement (a lazy listener), asks the engine, and
answers in the channel or to the caller alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from typing import Any, Awaitable, Callable

import aiohttp
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import clicks, markup, uploads
from adapters.slack.render import LINK_ACTION_PREFIX, SlackMessage, render
from bot.model.actions import Action
from bot.model.channels import Caller, ChannelRef, Command, parse_command
from bot.commands.registry import COMMANDS
from bot.ports.adapter import CommandEngine
from bot.model.replies import Content, Error, File, Reply
from bot.runtime.settings import Settings

log = logging.getLogger(__name__)

PLATFORM = "slack"
_LEADING_MENTION = re.compile(r"^\s*(?:<@[A-Z0-9]+(?:\|[^>]*)?>\s*)+")
DIRECT_MESSAGE_NAME = "directmessage"
"""The ``channel_name`` Slack gives a slash command typed in a direct message."""
_SOMETHING_WENT_WRONG = "Something went wrong on Paperboy's side. Please try again later."


class SlackListeners:
    """Bolt's listeners of one adapter. *call* uploads files (`WorkspaceClients.call`); *forget_token*
    drops a workspace's remembered token once Bolt has deleted its installation.
    """

    def __init__(self, app: AsyncApp, engine: CommandEngine, settings: Settings, *,
                 call: Callable[..., Awaitable[Any]], forget_token: Callable[[str | None], None]) -> None:
        self.app = app
        self.engine = engine
        self.settings = settings
        self._call = call
        self._forget_token = forget_token
        self.inflight: set[asyncio.Task[Any]] = set()
        """The answers in progress, which `stop` lets finish (briefly)."""

    def register(self, *, multi_workspace: bool) -> None:
        self.app.command("/papers")(ack=_ack, lazy=[self._answer_command])
        self.app.event("app_mention")(self._answer_mention)
        # Link buttons open their URL in the browser, but Slack still sends us the click.
        self.app.action(re.compile(f"^{LINK_ACTION_PREFIX}"))(_ack)
        # Save and 👍: acknowledged at once, answered privately once the engine has done it.
        self.app.action(re.compile(clicks.ACTION_PATTERN))(ack=_ack, lazy=[self._answer_click])
        if multi_workspace:
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
        return await uploads.send_file(self._call, content, channel, user_id, private=private)

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
        return _Tracked(self.inflight)


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
