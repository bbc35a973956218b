"""Delivery that never duplicates or loses: the real discord.py client against the fake Discord.

Covers what the outbox worker relies on: a stable send nonce, finding a post again
after a crash, editing, notices with a DM fallback, waiting out 429s, and `resume`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import discord
import pytest
from pydantic import SecretStr

from adapters.discord import DiscordAdapter
from adapters.discord.delivery import HistoryUnavailable, nonce_for
from bot.model.channels import ChannelRef
from bot.ports.adapter import DeliveryStatus, RateLimit
from bot.model.paper import Paper
from bot.model.replies import PaperCard, PaperList, Post
from tests.fakes.discord_server import GUILD_READY_TIMEOUT, FakeDiscord, paper_ids_in
from paperboy_testing.seed import seed_id

NO_MENTIONS = {"parse": []}


def discord_settings(settings, fake: FakeDiscord):
    return settings.model_copy(update={
        "discord_token": SecretStr(fake.token), "discord_api_url": fake.api_url,
        "discord_gateway_url": fake.gateway_url, "discord_guild_ready_timeout": GUILD_READY_TIMEOUT,
    })


class NoEngine:
    """These tests deliver; no command reaches an engine."""

    async def handle(self, command):
        raise AssertionError(f"unexpected command {command}")

    async def topic_labels(self, channel):
        return []


class Running:
    """A fake Discord and a started adapter on it; `restart()` is a new client on the same fake."""

    def __init__(self, settings, fake: FakeDiscord) -> None:
        self.settings, self.fake = settings, fake
        self.adapter = DiscordAdapter(discord_settings(settings, fake), NoEngine())

    async def restart(self) -> DiscordAdapter:
        await self.stop()
        self.adapter = DiscordAdapter(discord_settings(self.settings, self.fake), NoEngine())
        await self.adapter.start()
        return self.adapter

    async def stop(self) -> None:
        task = self.adapter.task
        await self.adapter.stop()
        assert task is None or task.exception() is None


@pytest.fixture
async def launch(settings):
    """Start a fake Discord with the given limits and an adapter on it; stop both after the test."""
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with contextlib.AsyncExitStack() as stack:

        async def make(**limits) -> Running:
            fake = await stack.enter_async_context(FakeDiscord(**limits))
            live = Running(settings, fake)
            await live.adapter.start()
            stack.push_async_callback(live.stop)
            return live

        yield make
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest.fixture
async def running(launch):
    return await launch()


def paper(index: int, **changes) -> Paper:
    fields = dict(id=seed_id(index), title=f"Paper number {index}", abstract="We study things.", upvotes=10 + index)
    return Paper(**{**fields, **changes})


def card(index: int, **changes) -> Post:
    return Post(PaperCard(paper(index, **changes)), tag=f"paper:{seed_id(index)}", paper_ids=(seed_id(index),))


def digest(day: str, indexes: range | list[int]) -> Post:
    cards = tuple(PaperCard(paper(i)) for i in indexes)
    return Post(PaperList(f"Daily digest {day}", cards), tag=f"digest:{day}",
                paper_ids=tuple(seed_id(i) for i in indexes))


def ref(fake: FakeDiscord, channel: str | None = None) -> ChannelRef:
    return ChannelRef("discord", fake.guild_id, channel or fake.channel_id)


# -- the contract's constants and the nonce ---------------------------------------------------------

def test_limits_are_discords_channel_and_global_limits():
    assert DiscordAdapter.limits == (RateLimit("channel", 5, 5.0), RateLimit("global", 50, 1.0))


async def test_send_carries_the_same_short_nonce_on_every_attempt(running):
    fake, adapter = running.fake, running.adapter
    first = await adapter.send(ref(fake), card(0))
    fake.rate_limit_next = 1  # the retry after a 429 must carry the very same nonce
    second = await adapter.send(ref(fake), card(0))
    other = await adapter.send(ref(fake, "777"), card(0))
    assert first.status is second.status is other.status is DeliveryStatus.SENT
    sends = [r.body for r in fake.requests_to("POST", "/messages")]
    nonces = [body["nonce"] for body in sends]
    assert len(nonces) == 4 and all(body["enforce_nonce"] for body in sends)
    assert nonces[0] == nonces[1] == nonces[2] == nonce_for(ref(fake), card(0))
    assert len(nonces[0]) <= 25
    assert nonces[3] != nonces[0], "the same paper in another channel is another message"
    assert nonce_for(ref(fake), card(1)) != nonces[0]


async def test_the_fake_can_deduplicate_by_nonce_like_discord(launch):
    live = await launch(nonce_window=60.0)
    first = await live.adapter.send(ref(live.fake), card(0))
    again = await live.adapter.send(ref(live.fake), card(0))
    assert first.message_ref == again.message_ref
    assert live.fake.posted_paper_ids(live.fake.channel_id) == [seed_id(0)]
    assert live.fake.nonce_duplicates == 1


# -- find_post ---------------------------------------------------------------------------------------

async def test_find_post_finds_a_sent_card_and_a_sent_digest_and_not_a_post_never_sent(running):
    fake, adapter = running.fake, running.adapter
    sent_card = await adapter.send(ref(fake), card(3))
    sent_digest = await adapter.send(ref(fake), digest("2026-11-27", range(5, 9)))
    for index in range(10, 13):  # later posts push the earlier ones down the history
        await adapter.send(ref(fake), card(index))
    assert await adapter.find_post(ref(fake), card(3)) == sent_card.message_ref
    assert await adapter.find_post(ref(fake), digest("2026-11-27", range(5, 9))) == sent_digest.message_ref
    # Changed numbers are still the same post: matching is by paper, not by text.
    assert await adapter.find_post(ref(fake), card(3, upvotes=999, title="Renamed")) == sent_card.message_ref

    assert await adapter.find_post(ref(fake), card(4)) is None
    assert await adapter.find_post(ref(fake), card(5)) is None, "a paper inside a digest is not its own card"
    assert await adapter.find_post(ref(fake), digest("2026-11-28", range(5, 9))) is None, "another day's digest"
    assert await adapter.find_post(ref(fake), digest("2026-11-27", range(5, 10))) is None, "a paper missing"
    assert await adapter.find_post(ref(fake, "778"), card(3)) is None, "another channel"

    history = fake.requests_to("GET", f"/channels/{fake.channel_id}/messages")
    assert history and history[0].query["limit"] == "100"


async def test_find_post_ignores_messages_that_are_not_paperboys_own(running):
    fake, adapter = running.fake, running.adapter
    await adapter.send(ref(fake), card(20))
    (ours,) = fake.messages[fake.channel_id]
    someone = {"id": "1", "username": "mallory", "discriminator": "0", "global_name": None, "avatar": None}
    copy = {**ours, "id": str(int(ours["id"]) + 10**12), "author": someone}
    fake.messages[fake.channel_id].append(copy)  # a user pasted the same embed later
    assert await adapter.find_post(ref(fake), card(20)) == ours["id"]

    fake.messages[fake.channel_id].remove(ours)
    assert await adapter.find_post(ref(fake), card(20)) is None


@pytest.mark.parametrize("fault", ["forbidden", "missing"])
async def test_find_post_raises_when_the_history_cannot_be_read(running, fault):
    getattr(running.fake, f"{fault}_channels").add("555")
    with pytest.raises(HistoryUnavailable, match="555"):
        await running.adapter.find_post(ref(running.fake, "555"), card(0))


async def test_find_post_raises_when_discord_is_unreachable(settings, running):
    await running.adapter.stop()
    with pytest.raises(HistoryUnavailable, match="not connected"):
        await running.adapter.find_post(ref(running.fake), card(0))


async def test_a_restarted_client_logs_in_again_and_finds_what_the_last_one_sent(running):
    fake = running.fake
    sent = await running.adapter.send(ref(fake), card(30))
    adapter = await running.restart()
    assert fake.identify_count == 2
    assert await adapter.find_post(ref(fake), card(30)) == sent.message_ref
    assert (await adapter.send(ref(fake), card(31))).status is DeliveryStatus.SENT
    assert fake.posted_paper_ids(fake.channel_id) == [seed_id(30), seed_id(31)]


# -- edit ----------------------------------------------------------------------------------------------

async def test_edit_replaces_the_message_in_place(running):
    fake, adapter = running.fake, running.adapter
    sent = await adapter.send(ref(fake), card(40))
    result = await adapter.edit(ref(fake), sent.message_ref, card(40, upvotes=1234, title="@everyone Updated"))
    assert result.status is DeliveryStatus.SENT and result.message_ref == sent.message_ref
    (message,) = fake.messages[fake.channel_id]
    assert message["edited_timestamp"] is not None
    (embed,) = message["embeds"]
    assert embed["title"] == "@everyone Updated"
    assert {"name": "Upvotes", "value": "1,234", "inline": True} in embed["fields"]
    (patch,) = fake.requests_to("PATCH", f"/messages/{sent.message_ref}")
    assert patch.body["allowed_mentions"] == NO_MENTIONS
    assert fake.posted_paper_ids(fake.channel_id) == [seed_id(40)], "an edit is not a new post"


async def test_editing_a_deleted_message_is_permanent(running):
    fake, adapter = running.fake, running.adapter
    sent = await adapter.send(ref(fake), card(41))
    fake.delete_message(fake.channel_id, sent.message_ref)
    result = await adapter.edit(ref(fake), sent.message_ref, card(41))
    assert result.status is DeliveryStatus.PERMANENT and result.reason == "the message was deleted"
    fake.forbidden_channels.add(fake.channel_id)
    result = await adapter.edit(ref(fake), sent.message_ref, card(41))
    assert result.status is DeliveryStatus.PERMANENT and "403 Missing Access" in result.reason


# -- notify --------------------------------------------------------------------------------------------

NOTICE = "Paperboy paused **this** channel: @everyone <@123> lost access.\nRun '/papers resume'."


async def test_notify_says_it_in_the_channel_as_plain_text_that_pings_no_one(running):
    fake, adapter = running.fake, running.adapter
    result = await adapter.notify(ref(fake), "4242", NOTICE)
    assert result.status is DeliveryStatus.SENT
    (body,) = fake.channel_messages[fake.channel_id]
    assert body["allowed_mentions"] == NO_MENTIONS and not body.get("embeds")
    assert body["content"].startswith("Paperboy paused \\*\\*this\\*\\* channel")
    assert body["content"].endswith("Run '/papers resume'.")
    assert fake.requests_to("POST", "/users/@me/channels") == []


async def test_notify_falls_back_to_a_dm_when_the_channel_refuses(running):
    fake, adapter = running.fake, running.adapter
    fake.forbidden_channels.add(fake.channel_id)
    result = await adapter.notify(ref(fake), "4242", NOTICE)
    assert result.status is DeliveryStatus.SENT
    (opened,) = fake.requests_to("POST", "/users/@me/channels")
    assert opened.body["recipient_id"] in ("4242", 4242)
    (dm,) = fake.dm_messages("4242")
    assert dm["allowed_mentions"] == NO_MENTIONS and "resume" in dm["content"]
    assert fake.channel_messages.get(fake.channel_id) is None


async def test_notify_without_a_user_reports_the_channels_refusal(running):
    fake = running.fake
    fake.missing_channels.add("556")
    result = await running.adapter.notify(ref(fake, "556"), None, NOTICE)
    assert result.status is DeliveryStatus.PERMANENT and "404 Unknown Channel" in result.reason


# -- rate limits -----------------------------------------------------------------------------------

async def test_the_fakes_channel_limit_is_a_sliding_window_answered_like_discord(launch):
    live = await launch(channel_limit=(2, 1.0))
    fake = live.fake
    url = f"{fake.api_url}/channels/900/messages"
    headers = {"Authorization": f"Bot {fake.token}"}
    body = {"content": "hi"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for _ in range(2):
            async with http.post(url, json=body) as response:
                assert response.status == 200
        async with http.post(url, json=body) as response:
            assert response.status == 429
            assert response.headers["Via"] and int(response.headers["Retry-After"]) == 1
            data = await response.json()
            assert data["global"] is False and 0 < data["retry_after"] <= 1.0
        async with http.post(f"{fake.api_url}/channels/901/messages", json=body) as response:
            assert response.status == 200, "another channel has its own window"
        await asyncio.sleep(data["retry_after"])
        async with http.post(url, json=body) as response:
            assert response.status == 200, "the refusal said exactly when room frees up"
    assert fake.count_429 == 1


async def test_past_the_channel_limit_discord_py_waits_and_everything_arrives_in_order(launch):
    live = await launch(channel_limit=(3, 1.0))
    fake, adapter = live.fake, live.adapter
    started = time.monotonic()
    results = [await adapter.send(ref(fake), card(i)) for i in range(7)]
    elapsed = time.monotonic() - started
    assert [r.status for r in results] == [DeliveryStatus.SENT] * 7
    assert fake.count_429 >= 2
    assert fake.posted_paper_ids(fake.channel_id) == [seed_id(i) for i in range(7)]
    assert elapsed >= 1.9, "7 sends at 3 per second cannot finish in under 2 seconds"


async def test_past_the_global_limit_discord_py_pauses_every_request(launch):
    live = await launch(global_limit=(4, 1.0))
    fake, adapter = live.fake, live.adapter
    await asyncio.sleep(1.1)  # let the start-up requests leave the window
    channels = [str(800 + n) for n in range(8)]
    results = await asyncio.gather(*(adapter.send(ref(fake, c), card(n)) for n, c in enumerate(channels)))
    assert [r.status for r in results] == [DeliveryStatus.SENT] * 8
    assert fake.count_429_global >= 1
    for n, channel in enumerate(channels):
        assert fake.posted_paper_ids(channel) == [seed_id(n)]
    (first_429,) = [r for r in fake.requests if r.status == 429][:1]
    assert first_429.path.startswith("/channels/")


def test_posted_paper_ids_reads_cards_and_compact_lists():
    card_body = {"embeds": [{"url": f"https://huggingface.co/papers/{seed_id(1)}",
                             "fields": [{"name": "Links", "value": f"[arXiv](https://arxiv.org/abs/{seed_id(9)})"}]}]}
    compact = {"embeds": [{"description": f"1. [A \\[x\\]](https://huggingface.co/papers/{seed_id(2)}) · ▲ 3\n"
                                          f"2. [B](https://arxiv.org/abs/{seed_id(3)})"}]}
    assert paper_ids_in(card_body) == [seed_id(1)]
    assert paper_ids_in(compact) == [seed_id(2), seed_id(3)]


# -- resume ----------------------------------------------------------------------------------------

async def test_resume_reaches_the_engine_and_unpauses_the_channel(core, settings):
    from tests.test_discord_adapter import run, started, stopped

    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        adapter = await started(DiscordAdapter(discord_settings(settings, fake), core.engine), fake)
        try:
            channel = await core.store.ensure_channel(ref(fake))
            await core.store.update_channel(channel.id, paused_reason="403 Missing Access")
            (papers,) = fake.global_commands
            assert "resume" in {o["name"] for o in papers["options"]}
            interaction = await run(fake, "resume")
            (message,) = interaction.messages()
            assert "Resumed" in message["embeds"][0]["description"]
            assert (await core.store.get_channel(ref(fake))).paused_reason is None
        finally:
            await stopped(adapter)
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
