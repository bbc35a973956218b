"""What Paperboy hears on Matrix: commands, reactions on its posts (its buttons), invites and kicks.

Commands are ``!papers <command>`` or a message that starts by mentioning Paperboy; in a direct
message with Paperboy every message is a command. Answers that are private elsewhere (help,
settings, errors, a reaction's acknowledgement) go as a reply in a thread: on the caller's message,
or on the post they reacted to (in a direct message, which is private already, as plain answers). Nothing from the text pings anyone (``m.mentions`` is ``{}``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from nio import (
    InviteMemberEvent, JoinError, MatrixRoom, ReactionEvent, RedactionEvent, RoomEncryptionEvent, RoomGetEventError,
    RoomGetStateEventError, RoomMemberEvent, RoomMessageText,
)

from adapters.matrix.delivery import ENCRYPTED, NETWORK_ERRORS
from adapters.matrix.render import MARKER, ROOM, render
from bot.model.actions import Action
from bot.model.channels import Caller, ChannelRef, Command, Group, parse_command
from bot.commands.registry import COMMANDS
from bot.ports.adapter import CommandEngine, DeliveryStatus
from bot.model.replies import DOWNVOTE, SAVE, VOTE, Error, PaperCard, Reply

if TYPE_CHECKING:
    from adapters.matrix.adapter import MatrixAdapter

log = logging.getLogger(__name__)

PREFIX = "!papers"
KINDS = {"🔖": SAVE, "👍": VOTE, "👎": DOWNVOTE}
_GROUP = re.compile(r"(?<![\w@])@(room\b|[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(?::\d+)?)")
_LEGACY_VERSIONS = {str(n) for n in range(1, 12)}
"""Room versions before 12, where the creator's power is in the power levels like anyone's."""
REMEMBERED = 5000
CLOCK_SKEW_MS = 5_000
ENCRYPTED_LINE = ("Paperboy cannot read or post in end-to-end encrypted rooms yet, so it will stay quiet here; "
                  "invite it to an unencrypted room instead.")
_SOMETHING_WENT_WRONG = "Something went wrong on Paperboy's side. Please try again later."


class Inbound:
    """The adapter's ears: nio callbacks that hand commands and reactions to the engine, each in its own task."""

    def __init__(self, adapter: MatrixAdapter, engine: CommandEngine, *, allowed: frozenset[str]) -> None:
        self.adapter = adapter
        self.client = adapter.client
        self.engine = engine
        self.allowed = allowed
        self._tasks: set[asyncio.Task[Any]] = set()
        self.since_ms = 0
        """Events older than this (ms since the epoch, set at `listen`) were sent before Paperboy started."""
        self._posts: OrderedDict[str, str | None] = OrderedDict()
        """Event id → the one paper of Paperboy's post (None: not a single paper's post)."""
        self._reactions: OrderedDict[str, tuple[str, str, str, str]] = OrderedDict()
        """A reaction's event id → (who, kind, paper id, the post's event id), to take it back when redacted."""
        self._creators: dict[str, frozenset[str]] = {}
        self._told_encrypted: set[str] = set()
        """The encrypted rooms told, once each, that Paperboy cannot work there."""

    def listen(self) -> None:
        self.since_ms = int(time.time() * 1000) - CLOCK_SKEW_MS
        for callback, kind in ((self._on_message, RoomMessageText), (self._on_reaction, ReactionEvent),
                               (self._on_redaction, RedactionEvent),
                               (self._on_invite, InviteMemberEvent), (self._on_encryption, RoomEncryptionEvent)):
            self.client.add_event_callback(self._spawner(callback), kind)

    def _spawner(self, callback: Any) -> Any:
        async def spawn(room: MatrixRoom, event: Any) -> None:
            if getattr(event, "sender", None) == self.client.user_id:
                return
            if 0 < (getattr(event, "server_timestamp", 0) or 0) < self.since_ms:
                return  # from before this start (a room's backlog on joining): a command then is not ours now
            task = asyncio.create_task(self._guarded(callback, room, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return spawn

    async def _guarded(self, callback: Any, room: MatrixRoom, event: Any) -> None:
        try:
            await callback(room, event)
        except Exception:  # one bad event must not stop the others
            log.exception("Matrix: handling %s in %s failed", type(event).__name__, room.room_id)

    async def finish(self, grace: float) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)

    # -- commands --------------------------------------------------------------------

    async def _on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        content = event.source.get("content") or {}
        relation = content.get("m.relates_to") or {}
        if relation.get("rel_type") == "m.replace" or room.encrypted:
            return
        direct = _is_direct(room)
        text = self._command_text(event.body or "", content, direct=direct)
        if text is None:
            return
        channel = ChannelRef(self.adapter.platform, self.adapter.server_name, room.room_id)
        caller = Caller(id=event.sender, name=room.user_name(event.sender) or event.sender)
        command = parse_command(text, caller=caller, channel=channel)
        command = dataclasses.replace(command, groups=_groups(command.args), direct=direct)
        if direct or (COMMANDS.get(command.name) and COMMANDS[command.name].manages):
            command = dataclasses.replace(command, caller=dataclasses.replace(
                caller, can_manage=direct or await self._is_manager(room, event.sender)))
        reply = await self._run(command)
        spec = COMMANDS.get(command.name)
        private = reply.private or isinstance(reply.content, Error) or bool(spec and spec.private)
        root = relation.get("event_id") if relation.get("rel_type") == "m.thread" else None
        # A private answer goes in a thread on the caller's message; a direct message is private already.
        await self.answer(room.room_id, reply, thread=(root or event.event_id) if private and not direct else root)

    def _command_text(self, body: str, content: dict[str, Any], *, direct: bool) -> str | None:
        """The command in a message: after ``!papers`` or a leading mention of Paperboy (any message in a DM)."""
        stripped = body.strip()
        if stripped.lower() == PREFIX or stripped.lower().startswith(PREFIX + " "):
            return stripped[len(PREFIX):].strip()
        me = self.client.user_id
        mentioned = me in ((content.get("m.mentions") or {}).get("user_ids") or [])
        local = me[1:].partition(":")[0]
        # "@paperboy:example.org trending", or "paperboy: trending" as clients write a pill; not "paperboy is…"
        lead = re.match(rf"^\s*(?:{re.escape(me)}:?|{re.escape(local)}:)\s*", stripped, re.IGNORECASE)
        if lead:
            return stripped[lead.end():]
        if mentioned:  # a pill shows the display name in the body: drop the first word or two before the colon
            return stripped.partition(":")[2].strip() if ":" in stripped[:64] else stripped
        return stripped if direct else None

    async def _is_manager(self, room: MatrixRoom, user_id: str) -> bool:
        """Whether *user_id* may change the room's state, as a moderator would expect (``state_default``,
        usually 50), or created the room (rooms v12 and later give creators every power)."""
        levels = room.power_levels
        if levels.get_user_level(user_id) >= levels.defaults.state_default:
            return True
        return user_id in await self._room_creators(room)

    async def _room_creators(self, room: MatrixRoom) -> frozenset[str]:
        if room.room_version in _LEGACY_VERSIONS:
            return frozenset()
        if room.room_id not in self._creators:
            try:
                answer = await self.client.room_get_state_event(room.room_id, "m.room.create")
            except NETWORK_ERRORS:
                return frozenset()
            if isinstance(answer, RoomGetStateEventError):
                return frozenset()
            # The state endpoint gives the content; the creator is the create event's sender.
            create = answer.content or {}
            creators = set(create.get("additional_creators") or [])
            creators.add(create.get("creator") or await self._create_sender(room.room_id))
            self._creators[room.room_id] = frozenset(c for c in creators if c)
        return self._creators[room.room_id]

    async def _create_sender(self, room_id: str) -> str:
        answer = await self.client.room_get_state(room_id)
        for event in getattr(answer, "events", []) or []:
            if event.get("type") == "m.room.create":
                return event.get("sender") or ""
        return ""

    async def _run(self, command: Command) -> Reply:
        try:
            return await self.engine.handle(command)
        except Exception:  # the engine never raises; should it, the caller still gets one line
            log.exception("engine failed on %s", command.name)
            return Reply(Error(_SOMETHING_WENT_WRONG), private=True)

    async def answer(self, room_id: str, reply: Reply, *, thread: str | None) -> str | None:
        """Say *reply* in the room, in the thread of *thread* when given; reactions under a single paper."""
        content = render(reply.content).content()
        card = reply.content if isinstance(reply.content, PaperCard) else None
        if card is not None:
            content[MARKER] = {"tag": f"answer:{card.paper.id}", "paper_ids": [card.paper.id], "kind": "answer"}
        if thread:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread, "is_falling_back": True,
                                       "m.in_reply_to": {"event_id": thread}}
        result = await self.adapter.send_event(room_id, content)
        if result.status is not DeliveryStatus.SENT:
            log.warning("Matrix: could not answer in %s: %s", room_id, result.reason)
            return None
        if card is not None and card.actions and result.message_ref:
            self._remember(self._posts, result.message_ref, card.paper.id)
            await self.adapter.add_reactions(room_id, result.message_ref)
        return result.message_ref

    # -- reactions, the buttons ------------------------------------------------------

    async def _on_reaction(self, room: MatrixRoom, event: ReactionEvent) -> None:
        kind = KINDS.get(event.key.replace("\ufe0f", ""))
        if kind is None:
            return
        paper_id = await self._paper_of(room.room_id, event.reacts_to)
        if paper_id is None:
            return
        self._remember(self._reactions, event.event_id, (event.sender, kind, paper_id, event.reacts_to))
        await self._act(room, event.sender, kind, paper_id, event.reacts_to)

    async def _on_redaction(self, room: MatrixRoom, event: RedactionEvent) -> None:
        taken = self._reactions.pop(event.redacts, None)
        if taken is None:
            return
        # The reaction's author takes it back (a moderator may redact it for them).
        sender, kind, paper_id, post = taken
        if kind == SAVE:  # saving is no toggle: taking the 🔖 back takes the paper off the list
            caller = Caller(id=sender, name=room.user_name(sender) or sender)
            channel = ChannelRef(self.adapter.platform, self.adapter.server_name, room.room_id)
            reply = await self._run(Command("unsave", paper_id, caller, channel))
            await self.answer(room.room_id, Reply(reply.content, private=True), thread=post)
            return
        await self._act(room, sender, kind, paper_id, post)  # 👍 and 👎 toggle: a second one takes back

    async def _act(self, room: MatrixRoom, sender: str, kind: str, paper_id: str, post: str) -> None:
        channel = ChannelRef(self.adapter.platform, self.adapter.server_name, room.room_id)
        caller = Caller(id=sender, name=room.user_name(sender) or sender)
        try:
            reply = await self.engine.act(Action(kind, paper_id, caller, channel, post))
        except Exception:
            log.exception("engine failed on a %s reaction", kind)
            reply = Reply(Error(_SOMETHING_WENT_WRONG), private=True)
        await self.answer(room.room_id, reply, thread=post)

    async def _paper_of(self, room_id: str, event_id: str) -> str | None:
        """The one paper of Paperboy's post *event_id* (read from its marker once), or None."""
        if event_id not in self._posts:
            try:
                answer = await self.client.room_get_event(room_id, event_id)
            except NETWORK_ERRORS:
                return None
            if isinstance(answer, RoomGetEventError):
                return None
            source = answer.event.source
            marker = (source.get("content") or {}).get(MARKER) or {}
            ids = marker.get("paper_ids") or []
            mine = source.get("sender") == self.client.user_id and marker.get("kind") in ("post", "answer")
            self._remember(self._posts, event_id, ids[0] if mine and len(ids) == 1 else None)
        return self._posts[event_id]

    @staticmethod
    def _remember(cache: OrderedDict[str, Any], key: str, value: Any) -> None:
        cache[key] = value
        while len(cache) > REMEMBERED:
            cache.popitem(last=False)

    # -- rooms -----------------------------------------------------------------------

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == self.client.user_id and event.membership == "invite":
            await self.invited(room.room_id, room, inviter=event.sender)

    async def invited(self, room_id: str, room: MatrixRoom, inviter: str | None = None) -> None:
        """Join a room Paperboy was invited to, unless the inviter's homeserver is not allowed."""
        inviter = inviter or getattr(room, "inviter", None) or ""
        server = inviter.partition(":")[2].lower()
        if self.allowed and server not in self.allowed:
            log.info("Matrix: declining %s's invite to %s (%s is not in PAPERBOY_MATRIX_HOMESERVERS)",
                     inviter, room_id, server)
            await self.client.room_leave(room_id)
            return
        joined = await self.client.join(room_id)
        if isinstance(joined, JoinError):
            log.warning("Matrix: could not join %s: %s", room_id, joined)
            return
        log.info("Matrix: joined %s (invited by %s)", room_id, inviter)
        state = await self.client.room_get_state_event(room_id, "m.room.encryption")
        if not isinstance(state, RoomGetStateEventError):
            await self._say_encrypted(room_id)

    async def _on_encryption(self, room: MatrixRoom, event: RoomEncryptionEvent) -> None:
        await self._say_encrypted(room.room_id)

    async def _say_encrypted(self, room_id: str) -> None:
        if room_id in self._told_encrypted:
            return
        self._told_encrypted.add(room_id)
        log.info("Matrix: %s is encrypted: %s", room_id, ENCRYPTED)
        try:  # the one line; a room turned encrypted is refused by `send_event` from now on
            await self.client.room_send(room_id, "m.room.message", {
                "msgtype": "m.notice", "body": ENCRYPTED_LINE, "m.mentions": {}})
        except NETWORK_ERRORS:
            log.warning("Matrix: could not say in %s that it is encrypted", room_id)

    async def left(self, rooms: dict[str, Any]) -> None:
        """Rooms Paperboy was kicked or banned from (or left): forget them, cleanly, and say who did it.

        Nothing is lost: the next post there fails with M_FORBIDDEN, and the core pauses the room and
        tells whoever subscribed it, as on every platform.
        """
        for room_id, info in rooms.items():
            removal = next((e for e in reversed(info.timeline.events) if isinstance(e, RoomMemberEvent)
                            and e.state_key == self.client.user_id), None)
            by = removal.sender if removal is not None else "someone"
            log.info("Matrix: %s removed Paperboy from %s (%s)", by, room_id,
                     removal.membership if removal is not None else "left")
            self.client.rooms.pop(room_id, None)
            self._creators.pop(room_id, None)
            try:
                await self.client.room_forget(room_id)
            except NETWORK_ERRORS:
                log.warning("Matrix: could not forget %s", room_id)


def _is_direct(room: MatrixRoom) -> bool:
    """A direct message with Paperboy: the caller and Paperboy alone, in a room without a name or an address."""
    return room.joined_count <= 2 and not room.name and not room.canonical_alias


def _groups(args: str) -> tuple[Group, ...]:
    """The people (or ``@room``) a command's text names: the groups a topic may notify."""
    found = []
    for match in _GROUP.finditer(args):
        name = match.group(1)
        found.append(Group(ROOM, "room") if name == "room" else Group("@" + name, name))
    return tuple(dict.fromkeys(found))


