"""Discussion threads on posted papers: the real discord.py client against the fake Discord.

`open_thread` opens a public thread on the post (named after the paper, within 100
characters) and `find_thread` finds it again after a crash: a thread started from a
message has the message's id.
"""

from __future__ import annotations

import pytest

from adapters.discord.delivery import HistoryUnavailable
from bot.model.channels import ChannelRef
from bot.ports.adapter import DeliveryStatus
from bot.model.replies import PaperCard, Post
from tests.fakes.discord_server import FakeDiscord
from tests.test_discord_actions import card_post, paper, recording, ref  # noqa: F401  (fixtures)
from tests.test_discord_adapter import fake_discord  # noqa: F401  (fixture)


def thread_post(index: int = 0, **changes) -> Post:
    """What the worker hands `open_thread`: the paper in full."""
    post = card_post(index, **changes)
    return Post(PaperCard(paper(index, **changes), detail=True), tag=f"thread:{post.paper_ids[0]}",
                paper_ids=post.paper_ids)


async def posted(adapter, fake: FakeDiscord, index: int = 0, **changes) -> str:
    result = await adapter.send(ref(fake), card_post(index, **changes))
    assert result.status is DeliveryStatus.SENT
    return result.message_ref


async def test_a_thread_opens_on_the_post_named_after_a_long_title_within_100_characters(recording, fake_discord):
    title = " ".join(f"word{i}" for i in range(60))  # about 300 characters
    assert len(title) > 290
    message = await posted(recording.adapter, fake_discord, title=title)
    result = await recording.adapter.open_thread(ref(fake_discord), message, thread_post(title=title))
    assert result.status is DeliveryStatus.SENT and result.message_ref == message
    thread = fake_discord.threads[message]
    assert thread["parent_id"] == fake_discord.channel_id and thread["thread_metadata"]["auto_archive_duration"] == 10080
    name = thread["name"]
    assert len(name) <= 100 and name.endswith("…")
    assert title.startswith(name.removesuffix("…")) and title[len(name) - 1] == " ", "cut at a whole word"


async def test_opening_twice_gives_the_same_thread_and_not_a_second_one(recording, fake_discord):
    message = await posted(recording.adapter, fake_discord)
    first = await recording.adapter.open_thread(ref(fake_discord), message, thread_post())
    again = await recording.adapter.open_thread(ref(fake_discord), message, thread_post())
    assert first.message_ref == again.message_ref == message and again.status is DeliveryStatus.SENT
    assert len(fake_discord.threads) == 1


async def test_a_blank_title_still_names_the_thread(recording, fake_discord):
    message = await posted(recording.adapter, fake_discord)
    await recording.adapter.open_thread(ref(fake_discord), message, thread_post(title="   "))
    assert fake_discord.threads[message]["name"] == "Paper 2403.10001"


async def test_find_thread_finds_it_and_does_not_find_one_never_opened(recording, fake_discord):
    message = await posted(recording.adapter, fake_discord)
    assert await recording.adapter.find_thread(ref(fake_discord), message, thread_post()) is None
    await recording.adapter.open_thread(ref(fake_discord), message, thread_post())
    assert await recording.adapter.find_thread(ref(fake_discord), message, thread_post()) == message
    elsewhere = ChannelRef("discord", fake_discord.guild_id, "999")
    assert await recording.adapter.find_thread(elsewhere, message, thread_post()) is None, "another channel's thread"
    assert await recording.adapter.find_thread(ref(fake_discord), "not-an-id", thread_post()) is None


async def test_find_thread_raises_when_discord_cannot_say(recording, fake_discord):
    message = await posted(recording.adapter, fake_discord)
    fake_discord.forbidden_channels.add(message)
    with pytest.raises(HistoryUnavailable, match="403"):
        await recording.adapter.find_thread(ref(fake_discord), message, thread_post())


@pytest.mark.parametrize("fault, says", [("forbidden", "403"), ("deleted", "deleted")])
async def test_no_access_or_a_deleted_post_is_permanent(recording, fake_discord, fault, says):
    message = await posted(recording.adapter, fake_discord)
    if fault == "forbidden":
        fake_discord.forbidden_channels.add(fake_discord.channel_id)
    else:
        fake_discord.delete_message(fake_discord.channel_id, message)
    result = await recording.adapter.open_thread(ref(fake_discord), message, thread_post())
    assert result.status is DeliveryStatus.PERMANENT and says in result.reason
    assert fake_discord.threads == {}


async def test_a_long_rate_limit_is_handed_back_with_its_wait(recording, fake_discord):
    message = await posted(recording.adapter, fake_discord)
    fake_discord.rate_limit_next, fake_discord.retry_after = 1, 120.0  # past the adapter's patience
    result = await recording.adapter.open_thread(ref(fake_discord), message, thread_post())
    assert result.status is DeliveryStatus.RATE_LIMITED and result.retry_after == pytest.approx(120.0)
    fake_discord.retry_after = 0.2
    fake_discord.rate_limit_next = 1  # a short one is waited out by discord.py
    assert (await recording.adapter.open_thread(ref(fake_discord), message, thread_post())).status \
        is DeliveryStatus.SENT


async def test_a_dm_has_no_threads(recording, fake_discord):
    dm = ChannelRef("discord", "dm", fake_discord.dm_channel("777"))
    sent = await recording.adapter.send(dm, card_post(0))
    result = await recording.adapter.open_thread(dm, sent.message_ref, thread_post())
    assert result.status is DeliveryStatus.PERMANENT and "direct messages" in result.reason
    assert fake_discord.requests_to("POST", "/threads") == []
