"""People on the test homeserver, acting through matrix-nio (a real client library), and the bot's adapter.

`Person` creates rooms, invites, speaks, reacts, redacts, kicks and changes power levels; what the
bot did is read back from the server's own room timelines (`tests.synapse.room_events`).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Callable

from nio import AsyncClient, RoomCreateResponse, RoomSendResponse
from pydantic import SecretStr

from tests.synapse import Account, Synapse, room_events


class Person:
    def __init__(self, server: Synapse, account: Account) -> None:
        self.server = server
        self.account = account
        self.user_id = account.user_id
        self.client = AsyncClient(server.url, account.user_id, device_id=account.device_id)
        self.client.access_token = account.access_token

    async def close(self) -> None:
        await self.client.close()

    async def room(self, name: str | None, *, invite: tuple[str, ...] = (), encrypted: bool = False) -> str:
        """A room; without a *name*, a direct message with the one person invited."""
        state = [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
        made = await self.client.room_create(name=name, invite=list(invite), initial_state=state if encrypted else (),
                                             is_direct=name is None)
        assert isinstance(made, RoomCreateResponse), made
        return made.room_id

    async def join(self, room_id: str) -> None:
        await self.client.join(room_id)

    async def say(self, room_id: str, text: str, **extra: Any) -> str:
        sent = await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text, **extra})
        assert isinstance(sent, RoomSendResponse), sent
        return sent.event_id

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        sent = await self.client.room_send(room_id, "m.reaction", {
            "m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}})
        assert isinstance(sent, RoomSendResponse), sent
        return sent.event_id

    async def redact(self, room_id: str, event_id: str) -> None:
        await self.client.room_redact(room_id, event_id)

    async def kick(self, room_id: str, user_id: str) -> None:
        await self.client.room_kick(room_id, user_id, reason="test")

    async def power_levels(self, room_id: str, change: Callable[[dict], None]) -> None:
        current = self.server.call("GET", f"/_matrix/client/v3/rooms/{room_id}/state/m.room.power_levels",
                                   token=self.account.access_token)
        change(current)
        self.server.call("PUT", f"/_matrix/client/v3/rooms/{room_id}/state/m.room.power_levels", current,
                         token=self.account.access_token)

    def events(self, room_id: str) -> list[dict[str, Any]]:
        return room_events(self.server, room_id, self.account)


def bot_events(person: Person, room_id: str, bot: str, kind: str = "m.room.message") -> list[dict[str, Any]]:
    return [e for e in person.events(room_id) if e["sender"] == bot and e["type"] == kind]


async def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll *check* until it returns something true; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check}")
        await asyncio.sleep(0.2)


def matrix_settings(settings: Any, server: Synapse, **more: Any) -> Any:
    bot = server.accounts["paperboy"]
    return settings.model_copy(update={
        "matrix_homeserver": server.url, "matrix_user_id": bot.user_id,
        "matrix_access_token": SecretStr(bot.access_token), "matrix_device_id": bot.device_id, **more})


async def room_with_bot(person: Person, bot: str, name: str | None, *, others: tuple[Person, ...] = ()) -> str:
    """A room *person* made, with the bot (joined on invite) and *others* in it."""
    room = await person.room(name, invite=(bot, *(o.user_id for o in others)))
    for other in others:
        await other.join(room)
    await eventually(lambda: any(e["type"] == "m.room.member" and e["state_key"] == bot and
                                 e["content"].get("membership") == "join" for e in person.events(room)))
    return room


# -- the conformance suite's driver (tests/test_conformance.py) ------------------------------------------

KEYS = {"save": "🔖", "vote": "👍", "downvote": "👎"}
_USER_ID = re.compile(r"@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+")


def shown_in(person: Person, room: str, bot: str) -> list[dict[str, Any]]:
    """The bot's messages in the room as a client shows them: edits applied, thread replies apart."""
    events = bot_events(person, room, bot)
    edits = {e["content"]["m.relates_to"]["event_id"]: e["content"]["m.new_content"] for e in events
             if (e["content"].get("m.relates_to") or {}).get("rel_type") == "m.replace"}
    top = [e for e in events if "m.relates_to" not in e["content"]]
    return [{**e, "content": edits.get(e["event_id"], e["content"]),
             "text": edits.get(e["event_id"], e["content"])["body"] + edits.get(e["event_id"], e["content"]).get(
                 "formatted_body", "")} for e in top]


def pings(message: dict[str, Any]) -> set[str]:
    """Whom a message wakes: its ``m.mentions``, and what an old client would highlight in the plain body."""
    content = message["content"]
    mentions = content.get("m.mentions") or {}
    woken = {f"group:{u}" for u in mentions.get("user_ids") or []} | ({"group:@room"} if mentions.get("room") else set())
    if "@room" in content.get("body", "") and not mentions.get("room"):
        woken.add("@room")
    woken |= {u for u in _USER_ID.findall(content.get("body", "")) if f"group:{u}" not in woken}
    return woken


async def matrix_driver(core: Any, server: Synapse) -> Any:
    from adapters.matrix.adapter import MatrixAdapter
    from adapters.matrix.render import MARKER
    from bot.model.channels import ChannelRef
    from paperboy_testing.conformance import Driver

    adapter = MatrixAdapter(matrix_settings(core.settings, server), core.engine)
    core.platforms.add(adapter)
    ada = Person(server, server.accounts["ada"])
    await adapter.start()
    try:
        room = await room_with_bot(ada, adapter.user_id, f"conformance-{time.monotonic_ns()}")
        clicked: dict[tuple[str, str], str] = {}

        async def said_after(count: int) -> str:
            await eventually(lambda: [e for e in bot_events(ada, room, adapter.user_id)[count:]
                                      if e["content"].get("m.relates_to", {}).get("rel_type") != "m.replace"])
            await asyncio.sleep(0.3)  # a long answer may come in more than one message
            return "\n".join(e["content"]["body"] for e in bot_events(ada, room, adapter.user_id)[count:]
                             if e["content"].get("m.relates_to", {}).get("rel_type") != "m.replace")

        async def command(text: str) -> str:
            count = len(bot_events(ada, room, adapter.user_id))
            await ada.say(room, f"!papers {text}")
            return await said_after(count)

        def buttons(message: dict[str, Any]) -> list[str]:
            marker = message["content"].get(MARKER) or {}
            if len(marker.get("paper_ids") or []) != 1:
                return []
            keys = {e["content"]["m.relates_to"]["key"] for e in bot_events(ada, room, adapter.user_id, "m.reaction")
                    if e["content"]["m.relates_to"]["event_id"] == message["event_id"]}
            return [f"paperboy:{kind}:{marker['paper_ids'][0]}" for kind, key in KEYS.items() if key in keys]

        async def click(ref: str, action: str) -> str:
            count = len(bot_events(ada, room, adapter.user_id))
            earlier = clicked.pop((ref, action), None)
            if earlier:  # the same button again: the reaction is taken back
                await ada.redact(room, earlier)
            else:
                clicked[(ref, action)] = await ada.react(room, ref, KEYS[action.split(":")[1]])
            return await said_after(count)

        yield Driver("matrix", adapter, ChannelRef("matrix", "localhost", room), command,
                     lambda: shown_in(ada, room, adapter.user_id), core, click, pings=pings, buttons=buttons,
                     group="@room")
    finally:
        await adapter.stop()
        await ada.close()
