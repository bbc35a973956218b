"""Buttons, clicks, files, notify mentions and direct messages: the real discord.py client against the fake Discord.

A click is a component interaction (type 3) the fake sends over the gateway; it must
reach the engine's ``act`` as an `Action` and be answered privately, even by a client
started after the post was sent.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.discord import DiscordAdapter
from bot.model.actions import Action, card_actions
from bot.model.channels import ChannelRef, Command
from bot.model.paper import Paper
from bot.model.replies import PaperCard, PaperList, Post, Reply, Text
from tests.fakes.discord_server import (
    ADMIN_PERMISSIONS, DEADLINE, MEMBER_PERMISSIONS, FakeDiscord, Interaction, discord_limit_errors, pings,
)
from paperboy_testing.seed import seed_id
from tests.test_discord_adapter import (  # noqa: F401  (fixtures)
    EPHEMERAL, NO_MENTIONS, bot, discord_settings, embeds, fake_discord, is_ephemeral, run, started, stopped,
)


class RecordingEngine:
    """Records what reaches the engine; ``act`` answers after ``delay`` seconds, or raises when told."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.actions: list[Action] = []
        self.commands: list[Command] = []
        self.delay, self.fail = delay, fail

    async def handle(self, command: Command) -> Reply:
        self.commands.append(command)
        return Reply(Text(f"ran {command.name}"))

    async def act(self, action: Action) -> Reply:
        self.actions.append(action)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("boom\nTraceback (most recent call last): secret")
        return Reply(Text(f"{action.kind} {action.paper_id}: done"), private=True)  # as the core answers clicks

    async def topic_labels(self, channel: ChannelRef) -> list[str]:
        return []


@pytest.fixture
async def recording(settings, fake_discord):
    """An adapter on the fake whose engine only records; `restart()` gives a fresh client on the same fake."""

    class Live:
        engine = RecordingEngine()
        adapter: DiscordAdapter

        async def restart(self) -> DiscordAdapter:
            await stopped(self.adapter)
            self.adapter = await started(DiscordAdapter(discord_settings(settings, fake_discord), self.engine),
                                         fake_discord)
            return self.adapter

    live = Live()
    live.adapter = await started(DiscordAdapter(discord_settings(settings, fake_discord), live.engine), fake_discord)
    yield live
    await stopped(live.adapter)


def paper(index: int, **changes) -> Paper:
    fields = dict(id=seed_id(index), title=f"Paper number {index}", abstract="We study things.", upvotes=10 + index,
                  github_repo="https://github.com/org/repo")
    return Paper(**{**fields, **changes})


def card_post(index: int = 0, votes: int = 0, **changes) -> Post:
    pid = seed_id(index)
    return Post(PaperCard(paper(index, **changes), actions=card_actions(pid, votes)), tag=f"paper:{pid}",
                paper_ids=(pid,))


def ref(fake: FakeDiscord) -> ChannelRef:
    return ChannelRef("discord", fake.guild_id, fake.channel_id)


def buttons(body: dict) -> list[list[dict]]:
    return [row["components"] for row in body.get("components") or []]


async def clicked(fake: FakeDiscord, interaction: Interaction) -> Interaction:
    await fake.wait_for(lambda: interaction.done and (not interaction.deferred or interaction.messages()))
    assert interaction.rejected == [], interaction.rejected
    assert interaction.first_response_delay < DEADLINE
    return interaction


# -- rendering -------------------------------------------------------------------------------------

async def test_a_post_carries_save_and_vote_buttons_beside_its_link_buttons(recording, fake_discord):
    result = await recording.adapter.send(ref(fake_discord), card_post(0, votes=2))
    (body,) = fake_discord.channel_messages[fake_discord.channel_id]
    actions, links = buttons(body)
    assert [(b["style"], b["label"], b["custom_id"]) for b in actions] == [
        (2, "🔖 Save", f"paperboy:save:{seed_id(0)}"), (2, "👍 2", f"paperboy:vote:{seed_id(0)}"),
        (2, "👎", f"paperboy:downvote:{seed_id(0)}")]
    assert [b["label"] for b in links] == ["Hugging Face", "arXiv", "PDF", "Code"]
    assert all(b["style"] == 5 and b["url"].startswith("https://") for b in links)
    assert discord_limit_errors(body) == [] and body["allowed_mentions"] == NO_MENTIONS
    assert await recording.adapter.find_post(ref(fake_discord), card_post(0)) == result.message_ref


async def test_a_digest_gets_one_row_per_card_within_five_and_drops_the_rest(recording, fake_discord):
    cards = tuple(PaperCard(paper(i, title=f"A rather long title number {i} " * 4), actions=card_actions(seed_id(i), i))
                  for i in range(8))
    post = Post(PaperList("Daily digest", cards), tag="digest:2026-11-27", paper_ids=tuple(seed_id(i) for i in range(8)))
    result = await recording.adapter.send(ref(fake_discord), post)
    assert result.message_ref
    (body,) = fake_discord.channel_messages[fake_discord.channel_id]
    rows = buttons(body)
    assert len(rows) == 5 and discord_limit_errors(body) == []
    for number, row in enumerate(rows):
        link, save, vote, downvote = row
        assert downvote["custom_id"] == f"paperboy:downvote:{seed_id(number)}" and downvote["label"] == "👎"
        assert link["style"] == 5 and link["label"].startswith(f"{number + 1}. A rather long") and len(link["label"]) <= 80
        assert save["custom_id"] == f"paperboy:save:{seed_id(number)}"
        assert vote["label"] == (f"👍 {number}" if number else "👍")
    plain = Post(PaperList("Daily digest", tuple(PaperCard(paper(i)) for i in range(3))), tag="digest:2026-11-28")
    await recording.adapter.send(ref(fake_discord), plain)
    assert not fake_discord.channel_messages[fake_discord.channel_id][-1].get("components")


async def test_an_edit_shows_the_new_counts_on_the_buttons(recording, fake_discord):
    sent = await recording.adapter.send(ref(fake_discord), card_post(0))
    edited = await recording.adapter.edit(ref(fake_discord), sent.message_ref, card_post(0, votes=3))
    assert edited.message_ref == sent.message_ref
    (message,) = fake_discord.messages[fake_discord.channel_id]
    labels = [b["label"] for b in message["components"][0]["components"]]
    assert labels == ["🔖 Save", "👍 3", "👎"], "👎 never shows a count"
    assert fake_discord.edits[sent.message_ref][0]["allowed_mentions"] == NO_MENTIONS


# -- clicks ----------------------------------------------------------------------------------------

async def test_a_click_reaches_the_engine_as_an_action_and_is_answered_privately(recording, fake_discord):
    sent = await recording.adapter.send(ref(fake_discord), card_post(0))
    click = await clicked(fake_discord, await fake_discord.click(sent.message_ref, f"paperboy:vote:{seed_id(0)}",
                                                                user_id="5151"))
    (action,) = recording.engine.actions
    assert (action.kind, action.paper_id, action.message_ref) == ("vote", seed_id(0), sent.message_ref)
    assert action.channel == ref(fake_discord)
    assert (action.caller.id, action.caller.can_manage) == ("5151", False)
    (callback,) = click.callbacks
    assert callback["type"] == 4 and callback["data"]["flags"] & EPHEMERAL
    assert callback["data"]["allowed_mentions"] == NO_MENTIONS
    assert "vote 2403.10001: done" in callback["data"]["embeds"][0]["description"]


async def test_a_click_after_a_restart_still_works(recording, fake_discord):
    sent = await recording.adapter.send(ref(fake_discord), card_post(1))
    await recording.restart()  # a new process: nothing of the old client is left
    click = await clicked(fake_discord, await fake_discord.click(sent.message_ref, f"paperboy:save:{seed_id(1)}"))
    assert [(a.kind, a.paper_id) for a in recording.engine.actions] == [("save", seed_id(1))]
    assert is_ephemeral(click)


async def test_a_slow_click_is_deferred_privately_then_answered(recording, fake_discord):
    recording.engine.delay = 2.0
    sent = await recording.adapter.send(ref(fake_discord), card_post(0))
    click = await clicked(fake_discord, await fake_discord.click(sent.message_ref, f"paperboy:save:{seed_id(0)}"))
    assert click.callbacks[0]["type"] == 5 and click.callbacks[0]["data"]["flags"] & EPHEMERAL
    assert "save 2403.10001: done" in click.edits[0]["embeds"][0]["description"]


async def test_a_failing_engine_gets_one_private_line_and_no_traceback(recording, fake_discord):
    recording.engine.fail = True
    sent = await recording.adapter.send(ref(fake_discord), card_post(0))
    click = await clicked(fake_discord, await fake_discord.click(sent.message_ref, f"paperboy:vote:{seed_id(0)}"))
    text = str(click.messages())
    assert is_ephemeral(click) and "went wrong" in text and "Traceback" not in text and "secret" not in text


async def test_unknown_buttons_are_ignored_or_answered_in_one_line(recording, fake_discord):
    sent = await recording.adapter.send(ref(fake_discord), card_post(0))
    message = fake_discord.messages[fake_discord.channel_id][0]
    message["components"][0]["components"].append({"type": 2, "style": 2, "label": "?", "custom_id": "paperboy:frob:x"})
    message["components"][0]["components"].append({"type": 2, "style": 2, "label": "?", "custom_id": "elsewhere:1"})
    old = await clicked(fake_discord, await fake_discord.click(sent.message_ref, "paperboy:frob:x"))
    (callback,) = old.callbacks
    assert callback["data"]["flags"] & EPHEMERAL and "\n" not in callback["data"]["content"]
    foreign = await fake_discord.click(sent.message_ref, "elsewhere:1")
    await asyncio.sleep(0.5)
    assert foreign.callbacks == [] and recording.engine.actions == []


# -- files -----------------------------------------------------------------------------------------

async def test_saved_bibtex_arrives_as_an_attachment(bot, fake_discord):
    await run(fake_discord, "save", {"paper": seed_id(2)})
    interaction = await run(fake_discord, "saved", {"format": "bibtex"})
    assert is_ephemeral(interaction)
    ((name, content),) = interaction.files
    assert name == "reading-list.bib" and content.startswith(b"@") and seed_id(2).encode() in content
    (message,) = interaction.messages()
    assert "BibTeX" in message["content"] and "```" not in message["content"]
    assert message["attachments"][0]["filename"] == "reading-list.bib"


# -- the one mention -------------------------------------------------------------------------------

async def test_a_notify_post_pings_only_its_role_even_with_hostile_titles(recording, fake_discord):
    role = fake_discord.roles[0].id
    post = card_post(0, title="@everyone look <@&1> <@4242> @here")
    mentioned = Post(post.content, tag=post.tag, paper_ids=post.paper_ids, mention=role)
    result = await recording.adapter.send(ref(fake_discord), mentioned)
    body = fake_discord.channel_messages[fake_discord.channel_id][-1]
    assert body["content"] == f"<@&{role}>"
    assert body["allowed_mentions"] == {"parse": [], "roles": [int(role)]}
    assert pings(body) == {f"role:{role}"}
    assert await recording.adapter.find_post(ref(fake_discord), mentioned) == result.message_ref

    await recording.adapter.send(ref(fake_discord), card_post(1, title="@everyone <@&1>"))
    plain = fake_discord.channel_messages[fake_discord.channel_id][-1]
    assert plain["allowed_mentions"] == NO_MENTIONS and pings(plain) == set()


async def test_a_mention_that_is_not_a_role_id_is_ignored_and_logged(recording, fake_discord, caplog):
    post = card_post(0)
    with caplog.at_level(logging.WARNING):
        await recording.adapter.send(ref(fake_discord), Post(post.content, tag=post.tag, mention="@everyone"))
    body = fake_discord.channel_messages[fake_discord.channel_id][-1]
    assert not body.get("content") and pings(body) == set() and body["allowed_mentions"] == NO_MENTIONS
    assert "not a Discord role id" in caplog.text


async def test_subscribe_with_a_notify_role_gives_the_core_the_group(recording, fake_discord):
    role = fake_discord.roles[0]
    await clicked(fake_discord, await fake_discord.run_command("subscribe", {"query": "diffusion", "notify": role}))
    typed = f"agents notify <@&{role.id}>"
    await clicked(fake_discord, await fake_discord.run_command("subscribe", {"query": typed}))
    first, second = recording.engine.commands
    assert first.args == "diffusion notify @Researchers" and second.args == "agents notify @Researchers"
    assert [(g.id, g.name) for g in first.groups] == [(role.id, "Researchers")] == [(g.id, g.name) for g in second.groups]


async def test_a_topic_with_a_notify_role_is_kept_by_the_real_engine(bot, fake_discord):
    role = fake_discord.roles[0]
    await run(fake_discord, "subscribe", {"query": "diffusion", "notify": role})
    topics = await run(fake_discord, "topics")
    assert "notifies @Researchers" in embeds(topics)[0]["description"]


# -- the command tree and direct messages ----------------------------------------------------------

async def test_the_synced_commands_work_in_dms_and_have_the_new_options(recording, fake_discord):
    (papers,) = fake_discord.global_commands
    assert papers["contexts"] == [0, 1]
    options = {o["name"]: o for o in papers["options"]}
    notify = {o["name"]: o for o in options["subscribe"]["options"]}["notify"]
    assert notify["type"] == 8 and not notify.get("required")
    assert [c["value"] for c in options["threads"]["options"][0]["choices"]] == ["on", "off"]
    board = {o["name"]: o for o in options["leaderboard"]["options"]}
    assert {c["value"] for c in board["period"]["choices"]} == {"week", "month", "weekly", "off"}
    assert board["timezone"]["autocomplete"] and len(board["day"]["choices"]) == 7


async def test_a_dm_is_a_channel_its_user_manages(recording, fake_discord):
    await clicked(fake_discord, await fake_discord.run_command("subscribe", {"query": "diffusion"}, dm_user="777"))
    (command,) = recording.engine.commands
    assert command.channel == ChannelRef("discord", "dm", fake_discord.dm_channel("777"))
    assert command.caller.id == "777" and command.caller.can_manage
    sent = await recording.adapter.send(command.channel, card_post(0))
    assert sent.message_ref and fake_discord.dm_messages("777")[0]["embeds"]
    click = await clicked(fake_discord, await fake_discord.click(sent.message_ref, f"paperboy:save:{seed_id(0)}",
                                                                 dm_user="777"))
    assert recording.engine.actions[0].channel == command.channel and is_ephemeral(click)


async def test_subscribing_in_a_dm_brings_new_papers_there(bot, core, fake_discord, fake_hf, clock):
    from paperboy_testing.seed import make_item

    subscribed = await run(fake_discord, "subscribe", {"query": "unlearn*"}, dm_user="777",
                           permissions=MEMBER_PERMISSIONS)
    assert "unlearn" in str(subscribed.messages()) and not any(
        e.get("color") == 0xE5484D for e in embeds(subscribed))
    await core.poller.poll_once()
    fake_hf.add(make_item(1, "Fast unlearning for LLMs", "We unlearn.", daily=clock().date(), paper_id="2411.00001"))
    report = await core.poller.poll_once()
    assert report.sent == 1
    (message,) = fake_discord.dm_messages("777")
    assert message["embeds"][0]["url"].endswith("2411.00001") and message["allowed_mentions"] == NO_MENTIONS
    assert [b["custom_id"] for b in buttons(message)[0]] == ["paperboy:save:2411.00001", "paperboy:vote:2411.00001",
                                                             "paperboy:downvote:2411.00001"]
    assert fake_discord.channel_messages.get(fake_discord.channel_id) is None


async def test_managing_a_guild_channel_still_needs_manage_channels(recording, fake_discord):
    await clicked(fake_discord, await fake_discord.run_command("topics", permissions=MEMBER_PERMISSIONS))
    await clicked(fake_discord, await fake_discord.run_command("topics", permissions=ADMIN_PERMISSIONS))
    assert [c.caller.can_manage for c in recording.engine.commands] == [False, True]


async def test_the_tree_is_generated_from_the_command_table(recording, fake_discord):
    from bot.commands.registry import COMMANDS, FAMILIES

    (papers,) = fake_discord.global_commands
    synced = {o["name"]: [p["name"] for p in o.get("options") or []] for o in papers["options"] if o["type"] == 1}
    synced |= {o["name"]: [p["name"] for p in o.get("options") or []]
               for group in papers["options"] if group["type"] == 2 for o in group["options"]}
    assert synced == {name: [a.name for a in spec.args] for name, spec in COMMANDS.items()}
    assert {o["name"] for o in papers["options"] if o["type"] == 2} == set(FAMILIES)
    await clicked(fake_discord, await fake_discord.run_command(
        "leaderboard", {"period": "weekly", "day": "fri", "time": "17:00", "timezone": "Europe/Paris"}))
    await clicked(fake_discord, await fake_discord.run_command("threshold", {"upvotes": 0}))
    board, threshold = recording.engine.commands
    assert (board.name, board.args) == ("leaderboard", "weekly fri 17:00 Europe/Paris")
    assert (threshold.name, threshold.args) == ("threshold", "0")


async def test_a_downvote_click_is_noted_privately_by_the_real_engine_and_taken_back(bot, core, fake_discord):
    """👎 on a delivered post: real discord.py, the fake Discord, the real engine and storage; no public count."""
    await core.store.save_papers([paper(0)])
    channel = await core.store.ensure_channel(ref(fake_discord))
    await core.store.enqueue_posts(channel.id, [(seed_id(0), "matched", None)], at=core.engine.clock(),
                                   max_per_hour=10)
    await core.poller.worker.drain()
    (message,) = fake_discord.messages[fake_discord.channel_id]
    custom_id = f"paperboy:downvote:{seed_id(0)}"
    assert custom_id in [b["custom_id"] for b in buttons(message)[0]]
    first = await clicked(fake_discord, await fake_discord.click(message["id"], custom_id, user_id="5151"))
    assert is_ephemeral(first)
    assert "Noted: fewer papers like this here; click again to take it back." in str(first.messages())
    assert [(s.paper_id, s.negative) for s in await core.store.channel_signals(channel.id)] == [(seed_id(0), 1)]
    second = await clicked(fake_discord, await fake_discord.click(message["id"], custom_id, user_id="5151"))
    assert is_ephemeral(second) and "Took back your 👎" in str(second.messages())
    assert await core.store.channel_signals(channel.id) == []
    await core.poller.worker.drain()
    assert fake_discord.edits.get(message["id"]) is None, "a 👎 changes nothing anyone else sees"
