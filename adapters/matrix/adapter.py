"""The Matrix adapter: posts papers into rooms, with reactions as their buttons, and answers commands.

Posts are ``m.room.message`` events (``m.notice``, sanitised HTML and a plain body) sent with a
transaction id derived from the outbox entry, so a send retried after a crash returns the first
event; each carries a marker (`render.MARKER`) that the history check finds beyond the server's
transaction window. Incoming events are in `adapters.matrix.inbound`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from nio import AsyncClient, AsyncClientConfig, LoginError, RoomCreateError, RoomSendResponse, WhoamiError

from adapters.matrix.delivery import (
    ENCRYPTED, NETWORK_ERRORS, find_marked, network_result, result_of, transaction_id,
)
from adapters.matrix.inbound import Inbound
from adapters.matrix.render import Message, quiet, escape, render_post
from adapters.matrix.settings import allowed_servers
from bot.model.channels import ChannelRef
from bot.ports.adapter import BUTTONS, THREADS, CommandEngine, DeliveryResult, DeliveryStatus, RateLimit
from bot.ports.platforms import PlatformSetupError
from bot.model.replies import PaperCard, Post

log = logging.getLogger(__name__)

PLATFORM = "matrix"
MATRIX_LIMITS = (RateLimit("channel", 1, 1.0),)
"""About one post a second per room; the homeserver's own limit (per account) answers 429 with a wait."""
REACTIONS = {"save": "🔖", "vote": "👍", "downvote": "👎"}
"""The reactions Paperboy adds under a post: the buttons of the other platforms."""
STOP_GRACE_SECONDS = 5.0


class MatrixSetupError(PlatformSetupError):
    """The Matrix settings cannot work; the message names the setting to fix."""


class MatrixAdapter:
    """Paperboy on Matrix. Implements `bot.ports.adapter.Adapter`."""

    platform = PLATFORM
    limits = MATRIX_LIMITS
    capabilities = frozenset({BUTTONS, THREADS})

    def __init__(self, settings: Any, engine: CommandEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.user_id: str = settings.matrix_user_id or ""
        self.server_name = self.user_id.partition(":")[2]
        self.client = AsyncClient(
            settings.matrix_homeserver or "", self.user_id, device_id=settings.matrix_device_id,
            # No waiting inside the library: a 429 or a timeout comes back to the outbox, which paces and retries.
            config=AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0, encryption_enabled=False,
                                     store_sync_tokens=False, request_timeout=settings.http_timeout),
        )
        self.inbound = Inbound(self, engine, allowed=allowed_servers(settings))
        self._sync: asyncio.Task[None] | None = None
        self._direct: dict[str, str] = {}
        """User id → the direct-message room Paperboy opened with them (to tell them about a paused room)."""

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Sign in, catch up on the rooms (commands sent while away are not answered), then listen."""
        try:
            await self._sign_in()
            # Synapse keeps a sync's answer for a while, keyed by its parameters: a restart soon after a
            # crash would get the old start's answer, whose token replays everything since. A filter of
            # its own (a type nobody sends) makes each start's first sync new.
            first = await self.client.sync(timeout=0, full_state=True, sync_filter={
                "room": {"timeline": {"limit": 1}},
                "account_data": {"not_types": [f"org.paperboy.start.{secrets.token_hex(8)}"]}})
        except NETWORK_ERRORS as error:
            await self.client.close()
            raise MatrixSetupError(f"cannot reach the Matrix homeserver at {self.settings.matrix_homeserver} "
                                   f"({error or type(error).__name__}); check MATRIX_HOMESERVER") from None
        if result_of(first) is not None:
            await self.client.close()
            raise MatrixSetupError(f"the Matrix homeserver refused to sync ({first}); check MATRIX_ACCESS_TOKEN")
        self.inbound.listen()
        for room_id, room in list(self.client.invited_rooms.items()):  # invited while Paperboy was away
            await self.inbound.invited(room_id, room)
        self._sync = asyncio.create_task(self._sync_forever(), name="matrix-sync")
        log.info("Matrix: signed in as %s on %s", self.client.user_id, self.settings.matrix_homeserver)

    async def _sign_in(self) -> None:
        token = self.settings.matrix_access_token
        if token is not None:
            self.client.access_token = token.get_secret_value()
            who = await self.client.whoami()
            if isinstance(who, WhoamiError):
                await self.client.close()
                raise MatrixSetupError(f"MATRIX_ACCESS_TOKEN was refused by the homeserver ({who.status_code}: "
                                       f"{who.message}); copy a new one from the account's settings")
            if who.user_id != self.user_id:
                await self.client.close()
                raise MatrixSetupError(f"MATRIX_ACCESS_TOKEN belongs to {who.user_id}, not MATRIX_USER_ID "
                                       f"{self.user_id}; set MATRIX_USER_ID to {who.user_id}")
            self.client.device_id = who.device_id or self.client.device_id
            return
        password = self.settings.matrix_password.get_secret_value() if self.settings.matrix_password else ""
        answer = await self.client.login(password, device_name="Paperboy")
        if isinstance(answer, LoginError):
            await self.client.close()
            raise MatrixSetupError(f"MATRIX_PASSWORD was refused for {self.user_id} ({answer.status_code}: "
                                   f"{answer.message}); check it and MATRIX_USER_ID")

    async def _sync_forever(self) -> None:
        """Long-poll the homeserver; on trouble wait a little and go on (the outbox retries sends on its own)."""
        pause = 1.0
        while True:
            try:
                answer = await self.client.sync(timeout=30_000, sync_filter={"presence": {"types": []}})
            except NETWORK_ERRORS as error:
                log.warning("Matrix: sync failed (%s); trying again in %.0f s", error or type(error).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 60.0)
                continue
            problem = result_of(answer)
            if problem is not None:
                wait = problem.retry_after or pause
                log.warning("Matrix: sync refused (%s); trying again in %.0f s", problem.reason, wait)
                await asyncio.sleep(wait)
                pause = min(pause * 2, 60.0)
                continue
            pause = 1.0
            if answer.rooms.leave:  # nio keeps no state of rooms left: Paperboy clears them itself
                await self.inbound.left(answer.rooms.leave)

    async def stop(self) -> None:
        if self._sync is not None:
            self._sync.cancel()
            await asyncio.gather(self._sync, return_exceptions=True)
            self._sync = None
        await self.inbound.finish(STOP_GRACE_SECONDS)
        await self.client.close()

    # -- delivery --------------------------------------------------------------------

    async def send(self, channel: ChannelRef, post: Post) -> DeliveryResult:
        """Post *post* once (its transaction id is the outbox entry's), then add the reaction buttons."""
        content = render_post(post)
        result = await self.send_event(channel.channel, content, txn=transaction_id(channel.channel, "post", post.tag))
        if result.status is DeliveryStatus.SENT and isinstance(post.content, PaperCard) and post.content.actions:
            await self.add_reactions(channel.channel, result.message_ref or "")
        return result

    async def find_post(self, channel: ChannelRef, post: Post) -> str | None:
        """Paperboy's post tagged ``post.tag`` in the room (after a crash), with its reactions made whole."""
        found = await find_marked(self.client, channel.channel, tag=post.tag, kind="post", sent_after=post.sent_after)
        if found and isinstance(post.content, PaperCard) and post.content.actions:
            await self.add_reactions(channel.channel, found)  # a crash may have come between post and reactions
        return found

    async def edit(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        """Replace the post *message_ref* (``m.replace``); nobody is pinged again by an edit."""
        new = render_post(post)
        new.pop("m.mentions", None)
        content = {**{k: v for k, v in new.items() if k in ("msgtype", "format")},
                   "body": f"* {new['body']}", "formatted_body": f"* {new['formatted_body']}",
                   "m.new_content": new, "m.mentions": {},
                   "m.relates_to": {"rel_type": "m.replace", "event_id": message_ref}}
        result = await self.send_event(channel.channel, content,
                                       txn=transaction_id(channel.channel, f"edit:{message_ref}", post.tag))
        return DeliveryResult(result.status, message_ref=message_ref if result.message_ref else None,
                              reason=result.reason, retry_after=result.retry_after)

    async def open_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        """Open the post's ``m.thread`` with the paper in full (abstract and links)."""
        content = render_post(post, kind="thread")
        content["m.relates_to"] = {"rel_type": "m.thread", "event_id": message_ref, "is_falling_back": True,
                                   "m.in_reply_to": {"event_id": message_ref}}
        return await self.send_event(channel.channel, content,
                                     txn=transaction_id(channel.channel, f"thread:{message_ref}", post.tag))

    async def find_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> str | None:
        return await find_marked(self.client, channel.channel, tag=post.tag, kind="thread",
                                 sent_after=post.sent_after, thread_root=message_ref)

    async def notify(self, channel: ChannelRef, user_id: str | None, text: str) -> DeliveryResult:
        """Say *text* in the room; when Paperboy cannot, in a direct message with *user_id*."""
        in_room = await self.send_event(channel.channel, Message(quiet(text), escape(text)).content())
        if in_room.status is not DeliveryStatus.PERMANENT or not user_id:
            return in_room
        room = await self._direct_room(user_id)
        if room is None:
            return in_room
        said = f"In {channel.channel}: {text}"
        direct = await self.send_event(room, Message(quiet(said), escape(said)).content())
        return direct if direct.status is DeliveryStatus.SENT else in_room

    async def _direct_room(self, user_id: str) -> str | None:
        if user_id not in self._direct:
            made = await self.client.room_create(is_direct=True, invite=[user_id], preset=None)
            if isinstance(made, RoomCreateError):
                log.warning("Matrix: could not open a direct message with %s: %s", user_id, made)
                return None
            self._direct[user_id] = made.room_id
        return self._direct[user_id]

    async def send_event(self, room_id: str, content: dict[str, Any], *, kind: str = "m.room.message",
                         txn: str | None = None) -> DeliveryResult:
        """Send one event; map the homeserver's answer (or silence) onto a `DeliveryResult`."""
        room = self.client.rooms.get(room_id)
        if room is not None and room.encrypted:
            return DeliveryResult(DeliveryStatus.PERMANENT, reason=ENCRYPTED)
        try:
            answer = await self.client.room_send(room_id, kind, content, tx_id=txn)
        except NETWORK_ERRORS as error:
            return network_result(error)
        if isinstance(answer, RoomSendResponse):
            return DeliveryResult(DeliveryStatus.SENT, message_ref=answer.event_id)
        return result_of(answer) or DeliveryResult(DeliveryStatus.TRANSIENT, reason=str(answer))

    async def add_reactions(self, room_id: str, event_id: str) -> None:
        """Put 🔖 👍 👎 under a post; each once (their transaction ids follow the post's event id)."""
        for kind, key in REACTIONS.items():
            content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
            txn = transaction_id(room_id, f"reaction:{event_id}", kind)
            for _ in range(3):
                result = await self.send_event(room_id, content, kind="m.reaction", txn=txn)
                if result.status is not DeliveryStatus.RATE_LIMITED:
                    break
                await asyncio.sleep(min(result.retry_after or 1.0, 5.0))
            # The homeserver refuses a second identical reaction (M_DUPLICATE_ANNOTATION): it is there already.
            if result.status is not DeliveryStatus.SENT and "M_DUPLICATE_ANNOTATION" not in (result.reason or ""):
                log.warning("Matrix: could not add %s under %s in %s: %s", key, event_id, room_id, result.reason)
