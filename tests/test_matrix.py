"""The Matrix adapter against a real Synapse: commands, reactions as buttons, edits, power levels, direct
messages, invites, kicks, lost access, encrypted rooms, settings and doctor (delivery: test_matrix_delivery).

People act through matrix-nio (`tests.matrix_people`); what the bot did is read from the server's timelines.
"""

from __future__ import annotations

import itertools

import pytest

from adapters.matrix.adapter import MatrixAdapter
from adapters.matrix.render import MARKER
from bot.model.channels import ChannelRef
from bot.ports.adapter import DeliveryStatus
from bot.model.paper import Paper
from bot.model.replies import PaperCard, Post
from tests.fakes.seed import seed_id, seed_titles_and_abstracts
from tests.matrix_people import Person, bot_events, eventually, matrix_settings, room_with_bot

_names = itertools.count(1)
HOSTILE = "@room @ada:localhost <b>bold</b> <a href='javascript:x'>x</a> paperboy"


@pytest.fixture
async def people(synapse_server):
    ada = Person(synapse_server, synapse_server.accounts["ada"])
    bob = Person(synapse_server, synapse_server.accounts["bob"])
    yield ada, bob
    await ada.close()
    await bob.close()


@pytest.fixture
async def bot(core, synapse_server):
    adapter = MatrixAdapter(matrix_settings(core.settings, synapse_server), core.engine)
    core.poller.adapters[adapter.platform] = adapter
    await adapter.start()
    yield adapter
    await adapter.stop()


@pytest.fixture
async def room(people, bot):
    ada, bob = people
    return await room_with_bot(ada, bot.user_id, f"papers-{next(_names)}", others=(bob,))


def seed_paper(n: int = 0) -> Paper:
    title, abstract = seed_titles_and_abstracts()[n]
    return Paper(id=seed_id(n), title=title, abstract=abstract, authors=("Ada Lovelace",))


def answers_to(person: Person, room: str, bot: str, event_id: str) -> list[dict]:
    return [e for e in bot_events(person, room, bot)
            if (e["content"].get("m.relates_to") or {}).get("event_id") == event_id]


async def test_commands_answer_in_the_room_and_private_answers_go_to_a_thread_on_the_callers_message(
        people, bot, room):
    ada, _ = people
    asked = await ada.say(room, "!papers help")
    [answer] = await eventually(lambda: answers_to(ada, room, bot.user_id, asked))
    assert answer["content"]["m.relates_to"]["rel_type"] == "m.thread"
    assert "subscribe" in answer["content"]["body"] and answer["content"]["m.mentions"] == {}
    assert answer["content"]["msgtype"] == "m.notice"

    bad = await ada.say(room, f"{bot.user_id}: show not-a-paper")  # a mention is a command too
    [error] = await eventually(lambda: answers_to(ada, room, bot.user_id, bad))
    assert "arXiv id" in error["content"]["body"] and "Traceback" not in error["content"]["body"]

    before = len(bot_events(ada, room, bot.user_id))
    await ada.say(room, "just chatting about papers")  # neither !papers nor a mention: not a command
    await ada.say(room, "!papers trending")
    listed = await eventually(lambda: bot_events(ada, room, bot.user_id)[before:])
    assert "m.relates_to" not in listed[0]["content"], "a public answer goes in the room itself"
    assert "trending" in listed[0]["content"]["body"].lower() and "1–" in listed[0]["content"]["body"]

    before = len(bot_events(ada, room, bot.user_id))
    await ada.say(room, "!papers more")  # the same paging as everywhere: the next page of the last list
    [page] = await eventually(lambda: bot_events(ada, room, bot.user_id)[before:])
    assert "11–" in page["content"]["body"] and "<ol start=\"11\">" in page["content"]["formatted_body"]


async def test_managing_needs_the_power_to_change_state_and_a_raise_makes_a_manager(people, bot, room):
    ada, bob = people
    refused = await bob.say(room, "!papers subscribe model merging")
    [answer] = await eventually(lambda: answers_to(bob, room, bot.user_id, refused))
    assert "subscribe" not in answer["content"]["body"].lower() or "manag" in answer["content"]["body"].lower()
    channel = await bot.engine.store.get_channel(ChannelRef("matrix", "localhost", room))
    assert channel is None or await bot.engine.store.list_topics(channel.id) == []

    await ada.power_levels(room, lambda levels: levels["users"].__setitem__(bob.user_id, 50))
    await eventually(lambda: bot.client.rooms[room].power_levels.get_user_level(bob.user_id) == 50)
    allowed = await bob.say(room, "!papers subscribe model merging")
    await eventually(lambda: answers_to(bob, room, bot.user_id, allowed) or [
        e for e in bot_events(bob, room, bot.user_id) if "merging" in e["content"]["body"]])
    channel = await bot.engine.store.get_channel(ChannelRef("matrix", "localhost", room))
    assert [t.query for t in await bot.engine.store.list_topics(channel.id)] == ["model merging"]


async def test_reactions_are_the_buttons_and_a_redaction_takes_them_back(people, bot, room, core):
    ada, bob = people
    paper = seed_paper()
    await core.store.save_papers([paper])
    sent = await delivered(core, room, paper)
    keys = {e["content"]["m.relates_to"]["key"] for e in bot_events(ada, room, bot.user_id, "m.reaction")}
    assert keys == {"🔖", "👍", "👎"}

    saved = await bob.react(room, sent.message_ref, "🔖")
    await eventually(lambda: [e for e in answers_to(bob, room, bot.user_id, sent.message_ref)
                              if "Saved" in e["content"]["body"]])
    assert [r.paper_id for r in await core.store.saved_papers(_reader(bob), limit=5)] == [paper.id]

    vote = await bob.react(room, sent.message_ref, "👍")
    await eventually(lambda: [e for e in answers_to(bob, room, bot.user_id, sent.message_ref)
                              if "(1 in this channel)" in e["content"]["body"]])
    await core.poller.worker.drain()  # the 👍 count, edited in place through the outbox
    edits = [e for e in bot_events(ada, room, bot.user_id)
             if (e["content"].get("m.relates_to") or {}).get("rel_type") == "m.replace"]
    assert edits and "👍 1" in edits[-1]["content"]["m.new_content"]["body"]
    assert edits[-1]["content"]["m.relates_to"]["event_id"] == sent.message_ref

    await bob.redact(room, vote)
    await eventually(lambda: [e for e in answers_to(bob, room, bot.user_id, sent.message_ref)
                              if "Took back your 👍" in e["content"]["body"]])
    await bob.redact(room, saved)
    await eventually(lambda: [e for e in answers_to(bob, room, bot.user_id, sent.message_ref)
                              if "off your reading list" in e["content"]["body"]])


async def delivered(core, room: str, paper: Paper):
    """*paper* posted to *room* by the core's outbox worker, as a subscription would; returns the sent entry."""
    channel = await core.store.ensure_channel(ChannelRef("matrix", "localhost", room))
    await core.store.enqueue_posts(channel.id, [(paper.id, "matched", None)], at=core.engine.clock(), max_per_hour=10)
    await core.poller.worker.drain()
    [entry] = [e for e in await core.store.outbox_in_state("sent", channel_id=channel.id) if e.kind == "paper"]
    return entry


def _reader(person: Person):
    from bot.commands.reading_list import reader
    from bot.model.channels import Caller, Command

    return reader(Command("saved", "", Caller(person.user_id, person.user_id), ChannelRef("matrix", "localhost", "!x")))


async def test_kicked_or_silenced_the_room_is_permanently_lost_and_the_subscriber_is_told(people, bot, room):
    ada, _ = people
    channel = ChannelRef("matrix", "localhost", room)
    await ada.power_levels(room, lambda levels: levels.__setitem__("events_default", 100))
    post = Post(PaperCard(seed_paper()), tag="paper:silenced", paper_ids=(seed_id(0),))
    silenced = await bot.send(channel, post)
    assert silenced.status is DeliveryStatus.PERMANENT and "no longer post" in silenced.reason

    told = await bot.notify(channel, ada.user_id, "Paperboy paused its posts to this room.")
    assert told.status is DeliveryStatus.SENT  # in a direct message, as the room refused
    await ada.kick(room, bot.user_id)
    await eventually(lambda: room not in bot.client.rooms)  # forgotten: it left cleanly
    kicked = await bot.send(channel, Post(PaperCard(seed_paper()), tag="paper:kicked", paper_ids=(seed_id(0),)))
    assert kicked.status is DeliveryStatus.PERMANENT


async def test_an_encrypted_room_gets_one_line_and_nothing_else(people, bot):
    ada, _ = people
    room = await ada.room("secret", invite=(bot.user_id,), encrypted=True)
    said = await eventually(lambda: bot_events(ada, room, bot.user_id))
    assert len(said) == 1 and "encrypted" in said[0]["content"]["body"]
    sent = await bot.send(ChannelRef("matrix", "localhost", room),
                          Post(PaperCard(seed_paper()), tag="paper:e", paper_ids=(seed_id(0),)))
    assert sent.status is DeliveryStatus.PERMANENT and "encrypted" in sent.reason


async def test_invites_from_servers_outside_the_allow_list_are_declined(people, core, synapse_server):
    ada, _ = people
    settings = matrix_settings(core.settings, synapse_server, matrix_homeservers="example.org")
    adapter = MatrixAdapter(settings, core.engine)
    await adapter.start()
    try:
        room = await ada.room("elsewhere", invite=(adapter.user_id,))
        await eventually(lambda: any(e["type"] == "m.room.member" and e["state_key"] == adapter.user_id and
                                     e["content"]["membership"] == "leave" for e in ada.events(room)))
    finally:
        await adapter.stop()


async def test_a_refused_token_is_one_line_naming_the_setting(core, synapse_server):
    from pydantic import SecretStr

    from adapters.matrix.adapter import MatrixSetupError

    settings = matrix_settings(core.settings, synapse_server, matrix_access_token=SecretStr("syt_nope_nope"))
    with pytest.raises(MatrixSetupError, match="MATRIX_ACCESS_TOKEN"):
        await MatrixAdapter(settings, core.engine).start()


async def test_doctor_asks_the_homeserver_who_the_token_is(core, synapse_server):
    from pydantic import SecretStr

    from adapters.matrix.platform import platform

    good = matrix_settings(core.settings, synapse_server)
    [found] = await platform.doctor_check(good)
    assert found.ok is True and "@paperboy:localhost" in found.line()
    [refused] = await platform.doctor_check(good.model_copy(update={"matrix_access_token": SecretStr("syt_x_y")}))
    assert refused.ok is False and "MATRIX_ACCESS_TOKEN" in refused.text and "syt_x_y" not in refused.text
    [other] = await platform.doctor_check(good.model_copy(update={"matrix_user_id": "@someone:localhost"}))
    assert other.ok is False and "MATRIX_USER_ID" in other.text


def test_settings_errors_are_one_line_naming_the_setting():
    from bot.runtime.settings import Settings
    from adapters.matrix.settings import check_matrix_settings

    base = dict(_env_file=None, matrix_homeserver="https://matrix.example.org")
    assert "MATRIX_USER_ID" in check_matrix_settings(Settings(**base))
    assert "MATRIX_USER_ID" in check_matrix_settings(Settings(**base, matrix_user_id="paperboy"))
    assert "MATRIX_ACCESS_TOKEN" in check_matrix_settings(Settings(**base, matrix_user_id="@p:example.org"))
    assert check_matrix_settings(Settings(**base, matrix_user_id="@p:example.org", matrix_password="x")) is None
    with pytest.raises(ValueError, match="URL"):
        Settings(_env_file=None, matrix_homeserver="matrix.example.org")


async def test_a_direct_message_takes_commands_without_prefix_and_manages_itself(people, bot, core):
    ada, _ = people
    room = await room_with_bot(ada, bot.user_id, None)
    asked = await ada.say(room, "subscribe model merging")
    [answer] = await eventually(lambda: bot_events(ada, room, bot.user_id))
    assert "m.relates_to" not in answer["content"], "a direct message is private: no thread needed"
    channel = await core.store.get_channel(ChannelRef("matrix", "localhost", room))
    assert [t.query for t in await core.store.list_topics(channel.id)] == ["model merging"] and asked


async def test_a_room_paperboy_was_kicked_from_is_paused_and_the_subscriber_told_directly(people, bot, room, core):
    ada, _ = people
    await ada.say(room, "!papers subscribe model merging")
    ref = ChannelRef("matrix", "localhost", room)
    await eventually(lambda: [e for e in bot_events(ada, room, bot.user_id) if "merging" in e["content"]["body"]])
    await ada.kick(room, bot.user_id)
    paper = seed_paper(1)
    await core.store.save_papers([paper])
    channel = await core.store.get_channel(ref)
    await core.store.enqueue_posts(channel.id, [(paper.id, "matched", None)], at=core.engine.clock(), max_per_hour=10)
    await core.poller.worker.drain()
    assert "no longer post" in (await core.store.get_channel(ref)).paused_reason
    direct = bot._direct[ada.user_id]
    await ada.join(direct)
    told = await eventually(lambda: bot_events(ada, direct, bot.user_id))
    assert "paused" in told[0]["content"]["body"] and room in told[0]["content"]["body"]
    assert told[0]["content"]["m.mentions"] == {}


async def test_threads_on_opens_an_m_thread_with_the_abstract_on_each_post(people, bot, room, core):
    ada, _ = people
    asked = await ada.say(room, "!papers threads on")
    await eventually(lambda: answers_to(ada, room, bot.user_id, asked) or bot_events(ada, room, bot.user_id))
    paper = seed_paper(2)
    await core.store.save_papers([paper])
    entry = await delivered(core, room, paper)
    await core.poller.worker.drain()  # the thread follows its post
    thread = await eventually(lambda: [e for e in answers_to(ada, room, bot.user_id, entry.message_ref)
                                       if e["content"]["m.relates_to"]["rel_type"] == "m.thread"])
    assert paper.abstract.split()[0] in thread[0]["content"]["body"]
    assert thread[0]["content"][MARKER]["kind"] == "thread"


def test_matrix_access_tokens_never_reach_the_log():
    from tests.test_redaction import redacted, written

    token = "syt_cGFwZXJib3k_AbCdEfGhIjKlMnOpQrSt_1a2B3c"
    text = written(redacted("GET /sync with Authorization: Bearer %s", token))
    assert token not in text and "syt_[redacted]" in text


async def test_a_mention_is_a_command_but_talking_about_paperboy_is_not(people, bot, room):
    ada, _ = people
    before = len(bot_events(ada, room, bot.user_id))
    said = await ada.say(room, "paperboy is great, isn't it")
    await ada.say(room, "!papers help", **{  # an edit is no new command, whatever it says now
        "m.new_content": {"msgtype": "m.text", "body": "!papers help"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": said}})
    asked = await ada.say(room, "paperboy: help", **{"m.mentions": {"user_ids": [bot.user_id]}})
    [answer] = await eventually(lambda: answers_to(ada, room, bot.user_id, asked))
    assert "subscribe" in answer["content"]["body"]
    assert len(bot_events(ada, room, bot.user_id)) == before + 1, "only the mention was answered"



async def test_a_password_signs_in_on_the_settings_device_and_a_wrong_one_is_one_line(core, synapse_server):
    from pydantic import SecretStr

    from adapters.matrix.adapter import MatrixSetupError

    account = synapse_server.accounts["paperboy"]
    settings = matrix_settings(core.settings, synapse_server, matrix_access_token=None,
                               matrix_password=SecretStr(account.password), matrix_device_id="PASSWORDTEST")
    adapter = MatrixAdapter(settings, core.engine)
    await adapter.start()
    try:
        assert (await adapter.client.whoami()).device_id == "PASSWORDTEST"
    finally:
        await adapter.stop()
    wrong = settings.model_copy(update={"matrix_password": SecretStr("not-it")})
    with pytest.raises(MatrixSetupError, match="MATRIX_PASSWORD") as refused:
        await MatrixAdapter(wrong, core.engine).start()
    assert "not-it" not in str(refused.value)
