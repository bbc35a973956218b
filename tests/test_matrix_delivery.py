"""Matrix delivery against a real Synapse: rich posts that ping nobody, the one notify, exactly-once
transaction ids, threads, the homeserver's rate limit, and the history check after a crash."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from pydantic import SecretStr

from adapters.matrix.adapter import MatrixAdapter
from adapters.matrix.delivery import transaction_id
from adapters.matrix.render import MARKER, render_post
from bot.model.actions import card_actions
from bot.model.channels import ChannelRef
from bot.ports.adapter import DeliveryStatus
from bot.model.paper import Paper
from bot.model.replies import PaperCard, Post
from tests.fakes.seed import seed_id
from tests.matrix_people import bot_events, matrix_settings, room_with_bot
from tests.test_matrix import HOSTILE, bot, people, room, seed_paper  # noqa: F401  (fixtures)


async def test_a_post_is_rich_pings_nobody_and_is_sent_once_per_transaction(people, bot, room):
    ada, _ = people
    channel = ChannelRef("matrix", "localhost", room)
    hostile = Paper(id="2403.10001", title=HOSTILE, abstract="x", authors=("@room",))
    post = Post(PaperCard(hostile, why=HOSTILE), tag="paper:2403.10001", paper_ids=("2403.10001",))
    first = await bot.send(channel, post)
    again = await bot.send(channel, post)  # a retry after a crash: the same transaction id
    assert first.status is DeliveryStatus.SENT and again.message_ref == first.message_ref
    [event] = bot_events(ada, room, bot.user_id)
    content = event["content"]
    assert content["m.mentions"] == {} and content["format"] == "org.matrix.custom.html"
    assert "@room" not in content["body"] and "@ada:localhost" not in content["body"]
    assert "<b>bold" not in content["formatted_body"] and "javascript:" not in content["formatted_body"].replace(
        "&#x27;javascript:", "")
    assert content[MARKER] == {"tag": "paper:2403.10001", "paper_ids": ["2403.10001"], "kind": "post"}
    assert await bot.find_post(channel, post) == first.message_ref
    assert transaction_id(room, "post", post.tag) == transaction_id(room, "post", post.tag)


async def test_a_topics_notify_pings_only_its_room_or_person(people, bot, room):
    ada, _ = people
    channel = ChannelRef("matrix", "localhost", room)
    for mention, expected in (("@room", {"room": True}), (ada.user_id, {"user_ids": [ada.user_id]})):
        post = Post(PaperCard(seed_paper()), tag=f"paper:x{mention}", paper_ids=(seed_id(0),), mention=mention)
        assert (await bot.send(channel, post)).status is DeliveryStatus.SENT
        content = bot_events(ada, room, bot.user_id)[-1]["content"]
        assert content["m.mentions"] == expected
        assert content["msgtype"] == "m.text", "Matrix's push rules never notify for an m.notice"
    # Synapse's own push rules: Ada was notified of the two pings, and of nothing in a hostile post.
    hostile = Paper(id="2403.10009", title=HOSTILE, abstract="x")
    await bot.send(channel, Post(PaperCard(hostile, why=HOSTILE), tag="paper:hostile", paper_ids=(hostile.id,)))
    notified = ada.server.call("GET", "/_matrix/client/v3/notifications", token=ada.account.access_token)
    pinged = [n["event"]["content"]["body"] for n in notified["notifications"] if n["room_id"] == room]
    assert len(pinged) == 2 and not any("2403.10009" in body for body in pinged), pinged


async def test_a_thread_opens_on_the_post_and_is_found_again(people, bot, room):
    ada, _ = people
    channel = ChannelRef("matrix", "localhost", room)
    paper = seed_paper()
    post = Post(PaperCard(paper), tag=f"paper:{paper.id}", paper_ids=(paper.id,))
    sent = await bot.send(channel, post)
    thread = Post(PaperCard(paper, detail=True), tag=f"thread:{paper.id}", paper_ids=(paper.id,))
    assert await bot.find_thread(channel, sent.message_ref, thread) is None
    opened = await bot.open_thread(channel, sent.message_ref, thread)
    assert await bot.find_thread(channel, sent.message_ref, thread) == opened.message_ref
    assert await bot.find_post(channel, post) == sent.message_ref, "the thread is not a second post"
    event = bot_events(ada, room, bot.user_id)[-1]
    assert event["content"]["m.relates_to"]["rel_type"] == "m.thread"
    assert paper.abstract.split()[0] in event["content"]["body"]


async def test_the_homeservers_rate_limit_is_a_wait_not_a_failure(people, core, synapse_server):
    ada, _ = people
    limited = synapse_server.register("slowbot", limited=True)  # not exempt from Synapse's message limit
    settings = matrix_settings(core.settings, synapse_server, matrix_user_id=limited.user_id,
                               matrix_access_token=SecretStr(limited.access_token), matrix_device_id=limited.device_id)
    adapter = MatrixAdapter(settings, core.engine)
    await adapter.start()
    try:
        room = await room_with_bot(ada, adapter.user_id, "busy")
        channel = ChannelRef("matrix", "localhost", room)
        results = [await adapter.send(channel, Post(PaperCard(seed_paper()), tag=f"paper:{n}",
                                                    paper_ids=(seed_id(0),))) for n in range(12)]
        limited_results = [r for r in results if r.status is DeliveryStatus.RATE_LIMITED]
        assert limited_results and all(0 < r.retry_after < 60 for r in limited_results)
        assert DeliveryStatus.PERMANENT not in {r.status for r in results}
    finally:
        await adapter.stop()


async def test_the_history_check_finds_a_post_sent_before_a_crash_beyond_the_transaction_window(
        people, bot, room, synapse_server):
    """A post sent by another session (another device: its transaction ids are not ours) is found by its marker."""


    ada, _ = people
    channel = ChannelRef("matrix", "localhost", room)
    paper = seed_paper(3)
    post = Post(PaperCard(paper), tag=f"paper:{paper.id}", paper_ids=(paper.id,))
    other = synapse_server.call("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "paperboy"},
        "password": synapse_server.accounts["paperboy"].password, "device_id": "ELSEWHERE"})
    earlier = synapse_server.call("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/old1",
                                  render_post(post), token=other["access_token"])["event_id"]
    for n in range(3):
        await ada.say(room, f"chatter {n}")
    unsure = replace(post, sent_after=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert await bot.find_post(channel, unsure) == earlier
    assert await bot.find_thread(channel, earlier, replace(unsure, tag=f"thread:{paper.id}")) is None


async def test_a_post_found_after_a_crash_gets_its_missing_reactions_once(people, bot, room):


    ada, _ = people
    channel = ChannelRef("matrix", "localhost", room)
    paper = seed_paper(4)
    post = Post(PaperCard(paper, actions=card_actions(paper.id)), tag=f"paper:{paper.id}", paper_ids=(paper.id,))
    sent = await bot.send_event(room, render_post(post))  # killed before the reactions went out
    unsure = replace(post, sent_after=datetime.now(timezone.utc) - timedelta(minutes=1))
    for _ in range(2):
        assert await bot.find_post(channel, unsure) == sent.message_ref
    keys = [e["content"]["m.relates_to"]["key"] for e in bot_events(ada, room, bot.user_id, "m.reaction")]
    assert sorted(keys) == sorted(["🔖", "👍", "👎"])


def test_a_file_goes_inline_and_a_long_one_is_cut_to_fit_one_event():
    import json

    from adapters.matrix.render import render
    from bot.model.replies import File

    content = render(File("reading-list.bib", "@article{x, title={@room}}\n" * 5000, "Your list")).content()
    assert len(json.dumps(content).encode()) < 60_000 and "more characters cut" in content["body"]
    assert "@room" not in content["body"] and content["m.mentions"] == {}
