"""The Discord adapter end to end: the real discord.py client against a fake Discord on 127.0.0.1.

Commands go through the real engine, a real SQLite file and the fake Hugging Face
(see conftest.py); only Discord itself is faked.
"""

from __future__ import annotations

import asyncio

import discord
import pytest
from pydantic import SecretStr

from adapters.discord import DiscordAdapter, application_id_from_token, invite_url
from bot.model.channels import ChannelRef
from bot.commands.registry import COMMANDS, FAMILIES
from bot.ports.adapter import DeliveryStatus
from bot.model.replies import Error, PaperCard, Post, Reply
from adapters.discord.settings import parse_shards
from tests.fakes.discord_server import (
    ADMIN_PERMISSIONS, DEADLINE, GUILD_READY_TIMEOUT, MEMBER_PERMISSIONS, FakeDiscord, Interaction,
    discord_limit_errors,
)
from paperboy_testing.seed import make_item, seed_id

EPHEMERAL = 1 << 6
NO_MENTIONS = {"parse": []}


@pytest.fixture
async def fake_discord():
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        yield fake
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


def discord_settings(settings, fake: FakeDiscord, **changes):
    return settings.model_copy(update={
        "discord_token": SecretStr(fake.token), "discord_api_url": fake.api_url,
        "discord_gateway_url": fake.gateway_url, "discord_guild_ready_timeout": GUILD_READY_TIMEOUT, **changes,
    })


async def started(adapter: DiscordAdapter, fake: FakeDiscord) -> DiscordAdapter:
    await adapter.start()
    await asyncio.wait_for(fake.identified.wait(), 5)
    return adapter


async def stopped(adapter: DiscordAdapter) -> None:
    task = adapter.task
    assert task is not None and not task.done(), f"the client task ended early: {task and task.exception()}"
    await adapter.stop()
    assert task.exception() is None


@pytest.fixture
async def bot(core, settings, fake_discord):
    adapter = await started(DiscordAdapter(discord_settings(settings, fake_discord), core.engine), fake_discord)
    core.poller.adapters["discord"] = adapter
    yield adapter
    await stopped(adapter)


async def run(fake: FakeDiscord, subcommand: str, options: dict | None = None, **kw) -> Interaction:
    """Send one `/papers` interaction (a family's command in its group) and wait until the user sees an answer."""
    spec = COMMANDS.get(subcommand)
    path = f"{spec.family} {subcommand}" if spec and spec.family else subcommand
    interaction = await fake.run_command(path, options, **kw)
    await fake.wait_for(lambda: interaction.done and (not interaction.deferred or interaction.messages()),
                        timeout=15)
    assert interaction.rejected == [], interaction.rejected
    assert interaction.first_response_delay is not None and interaction.first_response_delay < DEADLINE
    for message in interaction.messages():
        assert message["allowed_mentions"] == NO_MENTIONS
        assert discord_limit_errors(message) == []
    return interaction


def is_ephemeral(interaction: Interaction) -> bool:
    """Whether what the user finally sees is visible to them alone."""
    if interaction.deleted_original:
        return all(f.get("flags", 0) & EPHEMERAL for f in interaction.followups)
    first = interaction.callbacks[0]
    return bool((first.get("data") or {}).get("flags", 0) & EPHEMERAL)


def embeds(interaction: Interaction) -> list[dict]:
    return [e for m in interaction.messages() for e in m.get("embeds") or []]


# -- start-up, registration, invite --------------------------------------------------------------

async def test_start_logs_in_syncs_once_and_mirrors_the_engine_commands(core, settings, fake_discord):
    adapter = await started(DiscordAdapter(discord_settings(settings, fake_discord), core.engine), fake_discord)
    assert adapter.synced
    assert fake_discord.requests_to("GET", "/users/@me") and fake_discord.requests_to("GET", "/oauth2/applications/@me")
    (papers,) = fake_discord.global_commands
    top = {o["name"]: o for o in papers["options"]}
    assert set(top) == {s.name for s in COMMANDS.values() if not s.family} | set(FAMILIES)
    assert len(top) <= 25 and all(len(top[f]["options"]) <= 25 for f in FAMILIES), "Discord's limit per level"
    family = {o["name"]: o for f in FAMILIES for o in top[f]["options"]}
    assert all(o["type"] == 1 for o in family.values()) and top["interest"]["type"] == 2
    options = top | family
    assert set(options) == set(COMMANDS) | set(FAMILIES)
    assert {c["value"] for c in options["picks"]["options"][0]["choices"]} == {*map(str, range(1, 11)), "off"}
    count = options["trending"]["options"][0]
    assert (count["type"], count["min_value"], count["max_value"]) == (4, 1, 25)
    digest = {o["name"]: o for o in options["digest"]["options"]}
    assert digest["timezone"]["autocomplete"] and list(digest)[:3] == ["schedule", "day", "time"]
    assert {c["value"] for c in digest["schedule"]["choices"]} == {"daily", "weekdays", "weekly", "off"}
    assert options["unsubscribe"]["options"][0]["autocomplete"]
    assert {c["value"] for c in options["realtime"]["options"][0]["choices"]} == {"on", "off"}
    await stopped(adapter)

    again = await started(DiscordAdapter(discord_settings(settings, fake_discord), core.engine), fake_discord)
    assert not again.synced, "unchanged definitions are not registered again"
    assert len(fake_discord.requests_to("PUT", "/commands")) == 1
    await stopped(again)


async def test_shards_setting_connects_only_those_shards_and_commands_still_answer(core, settings, fake_discord):
    home = (int(fake_discord.guild_id) >> 22) % 4  # the shard Discord sends this guild's events on
    mine = sorted({home, (home + 1) % 4})
    sharded = discord_settings(settings, fake_discord, discord_shards=(tuple(mine), 4))
    adapter = await started(DiscordAdapter(sharded, core.engine), fake_discord)
    await fake_discord.wait_for(lambda: len(fake_discord.identified_shards) == 2, timeout=10)
    assert sorted(fake_discord.identified_shards) == [[s, 4] for s in mine]
    interaction = await run(fake_discord, "trending")  # answered once, by the guild's shard
    assert interaction.messages() and len(interaction.callbacks) == 1
    await stopped(adapter)


def test_shard_specs_parse_and_bad_ones_say_how_to_write_them():
    assert parse_shards("0-1/4") == ((0, 1), 4) and parse_shards(" 3,0/4 ") == ((0, 3), 4)
    for bad in ("0-1", "4/4", "1-0/4", "a/2", "0,0/2", "0/0"):
        with pytest.raises(ValueError, match="0-1/4"):
            parse_shards(bad)


async def test_development_guild_gets_the_commands_and_they_answer(core, settings, fake_discord):
    config = discord_settings(settings, fake_discord, discord_guild=int(fake_discord.guild_id))
    adapter = await started(DiscordAdapter(config, core.engine), fake_discord)
    assert fake_discord.requests_to("PUT", f"/guilds/{fake_discord.guild_id}/commands")
    assert fake_discord.global_commands == []
    interaction = await run(fake_discord, "help")
    assert embeds(interaction)[0]["title"] == "Paperboy commands" and is_ephemeral(interaction)
    await stopped(adapter)


async def test_a_bad_token_gives_one_clear_line(core, settings, fake_discord):
    config = discord_settings(settings, fake_discord)
    config = config.model_copy(update={"discord_token": SecretStr("MTIz.bad.token")})
    before = discord.http.Route.BASE
    with pytest.raises(RuntimeError, match=r"^DISCORD_TOKEN was refused by Discord: 401 Unauthorized") as caught:
        await DiscordAdapter(config, core.engine).start()
    assert "\n" not in str(caught.value)
    assert discord.http.Route.BASE == before, "a failed start puts the library's URLs back"


def test_invite_url_asks_for_the_least_permissions():
    url = invite_url(application_id_from_token(FakeDiscord(token=None).token))
    assert "scope=bot+applications.commands" in url
    permissions = discord.Permissions(int(url.rsplit("permissions=", 1)[1].split("&")[0]))
    assert permissions.send_messages and permissions.embed_links and permissions.view_channel
    assert not (permissions.administrator or permissions.manage_channels or permissions.mention_everyone)
    with pytest.raises(ValueError, match="DISCORD_TOKEN"):
        application_id_from_token("not-a-token")


# -- every subcommand -----------------------------------------------------------------------------

async def test_every_subcommand_answers_in_time_with_the_right_visibility(bot, fake_discord):
    cases = [
        ("help", None, True), ("trending", {"count": 3}, False), ("today", None, False),
        ("search", {"query": "diffusion"}, False), ("show", {"paper": seed_id(0)}, False),
        ("similar", {"paper": seed_id(0)}, False),
        ("subscribe", {"query": "diffusion"}, False), ("topics", None, False), ("more", None, False),
        ("preview", {"query": "agents"}, True), ("digest", {"time": "09:00", "timezone": "Europe/Paris", "count": 5}, False),
        ("realtime", {"state": "on"}, False), ("threads", {"state": "on"}, False), ("threshold", {"upvotes": 10}, False),
        ("unsubscribe", {"topic": "1"}, False), ("resume", None, False), ("settings", None, True), ("status", None, True),
        ("save", {"paper": seed_id(1)}, True), ("saved", None, True), ("saved", {"format": "bibtex"}, True),
        ("vote", {"paper": seed_id(1)}, True), ("unsave", {"paper": seed_id(1)}, True),
        ("leaderboard", None, False), ("leaderboard", {"period": "month"}, False),  # the 👍 above is on it
        ("week", None, False), ("month", None, False),
        ("downvote", {"paper": seed_id(2)}, True), ("recommend", {"count": 3}, False),
        ("forget", {"what": "me"}, True), ("rank", {"order": "interest"}, False), ("picks", {"count": "3"}, False),
        ("feed", None, True),
        ("why", {"paper": seed_id(0)}, True), ("log", {"count": 20}, True),
    ]
    assert {name for name, _, _ in cases} == set(COMMANDS)
    for name, options, private in cases:
        interaction = await run(fake_discord, name, options)
        assert is_ephemeral(interaction) == private, name
        assert embeds(interaction) or interaction.messages()[0].get("content"), name
        assert not any(e.get("color") == 0xE5484D for e in embeds(interaction)), (name, embeds(interaction))
    trending = [i for i in fake_discord.interactions.values() if i.payload["data"]["options"][0]["name"] == "trending"]
    assert len(embeds(trending[0])) == 3


async def test_show_with_an_arxiv_url_answers_with_one_embed_for_that_paper(bot, fake_discord):
    interaction = await run(fake_discord, "show", {"paper": f"https://arxiv.org/abs/{seed_id(4)}v2"})
    (embed,) = embeds(interaction)
    assert embed["url"] == f"https://huggingface.co/papers/{seed_id(4)}"
    assert f"https://arxiv.org/pdf/{seed_id(4)}" in embed["fields"][-1]["value"]
    assert not is_ephemeral(interaction)


async def test_errors_are_ephemeral(bot, fake_discord):
    interaction = await run(fake_discord, "show", {"paper": "not a paper"})
    assert is_ephemeral(interaction)
    assert "not an arXiv id" in embeds(interaction)[0]["description"]


async def test_a_title_with_everyone_pings_no_one(bot, fake_discord, fake_hf, clock):
    fake_hf.add(make_item(1, "@everyone **Breaking** <@123> news", "A study.", daily=clock().date(),
                          paper_id="2411.00001"))
    interaction = await run(fake_discord, "show", {"paper": "2411.00001"})
    (message,) = interaction.messages()
    assert message["allowed_mentions"] == NO_MENTIONS
    assert message["embeds"][0]["title"] == "@everyone \\*\\*Breaking\\*\\* <@123> news"


# -- permissions and autocomplete ------------------------------------------------------------------

async def test_managing_needs_manage_channels_but_anyone_may_look(bot, fake_discord):
    refused = await run(fake_discord, "subscribe", {"query": "diffusion"}, permissions=MEMBER_PERMISSIONS)
    assert is_ephemeral(refused)
    assert "can manage this channel" in embeds(refused)[0]["description"]
    topics = await run(fake_discord, "topics", permissions=MEMBER_PERMISSIONS)
    assert "no topics" in embeds(topics)[0]["description"]
    await run(fake_discord, "subscribe", {"query": "diffusion"}, permissions=ADMIN_PERMISSIONS)
    topics = await run(fake_discord, "topics", permissions=MEMBER_PERMISSIONS)
    assert "1. diffusion" in embeds(topics)[0]["description"]


async def test_autocomplete_offers_the_channels_topics_and_time_zones(bot, fake_discord):
    for query in ("diffusion", "agents", "model merging"):
        await run(fake_discord, "subscribe", {"query": query})
    topics = await fake_discord.run_command("unsubscribe", {"topic": "age"}, focused="topic")
    await fake_discord.wait_for(lambda: topics.callbacks)
    (callback,) = topics.callbacks
    assert callback["type"] == 8
    assert [c["name"] for c in callback["data"]["choices"]] == ["2. agents"]

    zones = await fake_discord.run_command("digest", {"time": "09:00", "timezone": "paris"}, focused="timezone")
    await fake_discord.wait_for(lambda: zones.callbacks)
    assert "Europe/Paris" in [c["value"] for c in zones.callbacks[0]["data"]["choices"]]
    many = await fake_discord.run_command("digest", {"time": "09:00", "timezone": "a"}, focused="timezone")
    await fake_discord.wait_for(lambda: many.callbacks)
    assert len(many.callbacks[0]["data"]["choices"]) == 25

    unsubscribed = await run(fake_discord, "unsubscribe", {"topic": "2. agents"})
    assert "agents" in embeds(unsubscribed)[0]["description"]
    assert await bot._engine.topic_labels(ChannelRef("discord", fake_discord.guild_id, fake_discord.channel_id)) \
        == ["1. diffusion", "3. model merging"], "topics keep their numbers"


# -- the 3-second window ---------------------------------------------------------------------------

async def test_a_slow_source_is_deferred_then_answered(bot, fake_discord, fake_hf):
    fake_hf.delay = 1.5  # slower than the interaction may wait, within the answer's patience
    interaction = await run(fake_discord, "trending", {"count": 2})
    assert interaction.deferred and interaction.first_response_delay < DEADLINE
    assert interaction.edits, "the deferred answer replaces the 'thinking' message"
    assert not is_ephemeral(interaction)


class SlowError:
    """An engine whose answer is an error that arrives after the deferral."""

    async def handle(self, command):
        await asyncio.sleep(2)
        return Reply(Error("The source is down."), private=True)  # the core makes every error private

    async def topic_labels(self, channel):
        return []


async def test_a_late_error_after_a_public_deferral_is_shown_privately(settings, fake_discord):
    adapter = await started(DiscordAdapter(discord_settings(settings, fake_discord), SlowError()), fake_discord)
    interaction = await run(fake_discord, "trending")
    assert interaction.callbacks[0] == {"type": 5}
    assert interaction.deleted_original and interaction.followups
    assert interaction.followups[0]["flags"] & EPHEMERAL
    assert "source is down" in interaction.followups[0]["embeds"][0]["description"]
    await stopped(adapter)


# -- delivery --------------------------------------------------------------------------------------

async def test_the_poller_delivers_new_matches_as_embeds(bot, core, fake_discord, fake_hf, clock):
    await run(fake_discord, "subscribe", {"query": "unlearn*"})
    await core.poller.poll_once()
    fake_hf.add(make_item(1, "Fast unlearning for LLMs @everyone", "We unlearn.", daily=clock().date(),
                          paper_id="2411.00001"))
    report = await core.poller.poll_once()
    assert report.sent == 1
    (message,) = fake_discord.channel_messages[fake_discord.channel_id]
    assert message["allowed_mentions"] == NO_MENTIONS
    (embed,) = message["embeds"]
    assert embed["url"].endswith("2411.00001") and embed["title"] == "Fast unlearning for LLMs @everyone"
    assert embed["description"].startswith("🔎 unlearn\\* in title")


async def test_lost_access_pauses_the_channel_and_status_says_why(bot, core, fake_discord, fake_hf, clock):
    await run(fake_discord, "subscribe", {"query": "unlearn*"})
    await core.poller.poll_once()
    fake_discord.forbidden_channels.add(fake_discord.channel_id)
    fake_hf.add(make_item(1, "Fast unlearning", "We unlearn.", daily=clock().date(), paper_id="2411.00001"))
    await core.poller.poll_once()
    posts_before = len(fake_discord.requests_to("POST", "/messages"))
    fake_hf.add(make_item(2, "More unlearning", "Again.", daily=clock().date(), paper_id="2411.00002"))
    clock.advance(hours=2)
    await core.poller.poll_once()
    assert len(fake_discord.requests_to("POST", "/messages")) == posts_before, "a paused channel is not retried"
    status = await run(fake_discord, "status")
    assert "403 Missing Access" in embeds(status)[0]["description"]


@pytest.mark.parametrize("fault, code", [("forbidden", "403 Missing Access"), ("missing", "404 Unknown Channel")])
async def test_send_maps_403_and_404_to_permanent(bot, fake_discord, fault, code):
    getattr(fake_discord, f"{fault}_channels").add("555")
    post = Post(PaperCard(_paper()), tag="paper:2403.10001")
    result = await bot.send(ChannelRef("discord", fake_discord.guild_id, "555"), post)
    assert result.status is DeliveryStatus.PERMANENT and code in result.reason


async def test_a_429_is_waited_out_and_retried(bot, fake_discord):
    fake_discord.rate_limit_next = 1
    result = await bot.send(ChannelRef("discord", fake_discord.guild_id, fake_discord.channel_id),
                            Post(PaperCard(_paper()), tag="paper:2403.10001"))
    assert result.status is DeliveryStatus.SENT and result.message_ref
    statuses = [r.status for r in fake_discord.requests_to("POST", "/messages")]
    assert statuses == [429, 200]


def _paper():
    from bot.model.paper import Paper

    return Paper(id="2403.10001", title="A paper", abstract="An abstract.")


async def test_the_fake_holds_the_bot_to_discords_rules(fake_discord):
    """The fake is the oracle for the tests above: check it rejects what real Discord rejects."""
    import aiohttp

    interaction = await fake_discord.run_command("help")
    base = fake_discord.api_url
    async with aiohttp.ClientSession() as http:
        too_long = {"type": 4, "data": {"content": "x" * 2001}}
        async with http.post(f"{base}/interactions/{interaction.id}/{interaction.token}/callback",
                             json=too_long) as response:
            assert response.status == 400 and (await response.json())["code"] == 50035
        await asyncio.sleep(DEADLINE + 0.2)
        async with http.post(f"{base}/interactions/{interaction.id}/{interaction.token}/callback",
                             json={"type": 5}) as response:
            assert response.status == 404 and (await response.json())["code"] == 10062
