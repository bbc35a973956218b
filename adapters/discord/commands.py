"""The `/papers` app-command group: typed options in, the engine's console grammar out.

Each subcommand turns its options into the same text the console types
(``digest 09:00 Europe/Paris 5``) and hands it to `answer`, which keeps inside
Discord's three-second window: it waits briefly for the engine, and defers when
the answer is not ready yet.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

import discord
from discord import app_commands

from adapters.discord import render
from bot.channels import Caller, ChannelRef, Command
from bot.commands import COMMANDS, CommandSpec
from bot.delivery import CommandEngine
from bot.replies import Error, Reply
from bot.timezones import suggest_timezones

log = logging.getLogger(__name__)

DIRECT_ANSWER_WAIT = 1.5
"""Seconds to wait for the engine before deferring: well inside Discord's 3 s, leaving room for latency."""
MAX_CHOICES = 25
NO_MENTIONS = discord.AllowedMentions.none()


def channel_ref(interaction: discord.Interaction) -> ChannelRef:
    """Return the opaque reference of the channel an interaction came from."""
    return ChannelRef(platform="discord", workspace=str(interaction.guild_id), channel=str(interaction.channel_id))


def caller(interaction: discord.Interaction) -> Caller:
    """Return who ran the command; only Manage Channels in this channel lets them manage it."""
    user = interaction.user
    return Caller(id=str(user.id), name=user.display_name, can_manage=interaction.permissions.manage_channels)


async def answer(
    interaction: discord.Interaction,
    engine: CommandEngine,
    name: str,
    args: str = "",
    *,
    wait: float = DIRECT_ANSWER_WAIT,
) -> None:
    """Run the ``name args`` command through *engine* and answer *interaction* in time."""
    spec = COMMANDS[name]
    command = Command(name=name, args=args.strip(), caller=caller(interaction), channel=channel_ref(interaction))
    task = asyncio.create_task(_handle(engine, command))
    done, _ = await asyncio.wait({task}, timeout=wait)
    if done:
        await _respond(interaction, task.result())
        return
    await interaction.response.defer(ephemeral=spec.private, thinking=True)
    await _follow_up(interaction, spec, await task)


async def _handle(engine: CommandEngine, command: Command) -> Reply:
    try:
        return await engine.handle(command)
    except Exception:  # the engine promises not to raise; a bug must still get an answer
        log.exception("engine failed on %s", command.name)
        return Reply(Error("Something went wrong on Paperboy's side; try again later."), private=True)


def _private(reply: Reply) -> bool:
    # Errors are always for the caller's eyes only.
    return reply.private or isinstance(reply.content, Error)


async def _respond(interaction: discord.Interaction, reply: Reply) -> None:
    message = render.content(reply.content)
    await interaction.response.send_message(
        content=message.content, embeds=message.embeds, ephemeral=_private(reply), allowed_mentions=NO_MENTIONS,
    )


async def _follow_up(interaction: discord.Interaction, spec: CommandSpec, reply: Reply) -> None:
    message = render.content(reply.content)
    if _private(reply) and not spec.private:
        # The deferral was public: remove the public "thinking…" and say it privately instead.
        await interaction.delete_original_response()
        await interaction.followup.send(
            content=message.content or discord.utils.MISSING, embeds=message.embeds, ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        return
    await interaction.edit_original_response(
        content=message.content, embeds=message.embeds, allowed_mentions=NO_MENTIONS,
    )


def _choices(labels: list[str], current: str) -> list[app_commands.Choice[str]]:
    wanted = current.strip().lower()
    matching = [label for label in labels if wanted in label.lower()]
    choices = []
    for label in matching[:MAX_CHOICES]:
        # Choice names and values are limited to 100 characters; the engine accepts "3" for "3. long query".
        value = label if len(label) <= 100 else label.split(".", 1)[0]
        choices.append(app_commands.Choice(name=render.shorten(label, 100), value=value))
    return choices


def build_group(engine: CommandEngine) -> app_commands.Group:
    """Return the `/papers` group whose subcommands mirror `bot.commands.COMMANDS`."""
    papers = app_commands.Group(name="papers", description="Hugging Face research papers in this channel",
                                guild_only=True)

    def summary(name: str) -> str:
        return COMMANDS[name].summary[:100]

    @papers.command(name="help", description=summary("help"))
    async def help_(interaction: discord.Interaction) -> None:
        await answer(interaction, engine, "help")

    @papers.command(name="trending", description=summary("trending"))
    @app_commands.describe(count="how many papers (1-25)")
    async def trending(interaction: discord.Interaction, count: app_commands.Range[int, 1, 25] | None = None) -> None:
        await answer(interaction, engine, "trending", _words(count))

    @papers.command(name="today", description=summary("today"))
    @app_commands.describe(date="a day as YYYY-MM-DD (default: today)")
    async def today(interaction: discord.Interaction,
                    date: app_commands.Range[str, 10, 10] | None = None) -> None:
        await answer(interaction, engine, "today", _words(date))

    @papers.command(name="search", description=summary("search"))
    @app_commands.describe(query='words, "exact phrases", -excluded, author:"Name"')
    async def search(interaction: discord.Interaction, query: app_commands.Range[str, 1, 300]) -> None:
        await answer(interaction, engine, "search", query)

    @papers.command(name="show", description=summary("show"))
    @app_commands.describe(paper="arXiv id or URL (arXiv or Hugging Face)")
    async def show(interaction: discord.Interaction, paper: app_commands.Range[str, 1, 200]) -> None:
        await answer(interaction, engine, "show", paper)

    @papers.command(name="save", description=summary("save"))
    @app_commands.describe(paper="arXiv id or URL (arXiv or Hugging Face)")
    async def save(interaction: discord.Interaction, paper: app_commands.Range[str, 1, 200]) -> None:
        await answer(interaction, engine, "save", paper)

    @papers.command(name="unsave", description=summary("unsave"))
    @app_commands.describe(paper="arXiv id or URL (arXiv or Hugging Face)")
    async def unsave(interaction: discord.Interaction, paper: app_commands.Range[str, 1, 200]) -> None:
        await answer(interaction, engine, "unsave", paper)

    @papers.command(name="saved", description=summary("saved"))
    @app_commands.describe(format="bibtex: the whole list as BibTeX")
    async def saved(interaction: discord.Interaction, format: Literal["bibtex"] | None = None) -> None:
        await answer(interaction, engine, "saved", _words(format))

    @papers.command(name="vote", description=summary("vote"))
    @app_commands.describe(paper="arXiv id or URL (arXiv or Hugging Face)")
    async def vote(interaction: discord.Interaction, paper: app_commands.Range[str, 1, 200]) -> None:
        await answer(interaction, engine, "vote", paper)

    @papers.command(name="leaderboard", description=summary("leaderboard"))
    @app_commands.describe(period="week (the last 7 days, the default) or month (the last 30)")
    async def leaderboard(interaction: discord.Interaction, period: Literal["week", "month"] | None = None) -> None:
        await answer(interaction, engine, "leaderboard", _words(period))

    @papers.command(name="subscribe", description=summary("subscribe"))
    @app_commands.describe(query='the topic: words, "exact phrases", -excluded, author:"Name"')
    async def subscribe(interaction: discord.Interaction, query: app_commands.Range[str, 1, 300]) -> None:
        await answer(interaction, engine, "subscribe", query)

    @papers.command(name="unsubscribe", description=summary("unsubscribe"))
    @app_commands.describe(topic="the topic's number or text")
    async def unsubscribe(interaction: discord.Interaction, topic: app_commands.Range[str, 1, 300]) -> None:
        await answer(interaction, engine, "unsubscribe", topic)

    @unsubscribe.autocomplete("topic")
    async def unsubscribe_topics(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return _choices(await engine.topic_labels(channel_ref(interaction)), current)

    @papers.command(name="topics", description=summary("topics"))
    async def topics(interaction: discord.Interaction) -> None:
        await answer(interaction, engine, "topics")

    @papers.command(name="more", description=summary("more"))
    async def more(interaction: discord.Interaction) -> None:
        await answer(interaction, engine, "more")

    @papers.command(name="preview", description=summary("preview"))
    @app_commands.describe(query="the topic you are thinking of following")
    async def preview(interaction: discord.Interaction, query: app_commands.Range[str, 1, 300]) -> None:
        await answer(interaction, engine, "preview", query)

    @papers.command(name="digest", description=summary("digest"))
    @app_commands.describe(time="local time as HH:MM, or off", timezone="IANA time zone (default UTC)",
                           count="how many papers in the digest (1-10)")
    async def digest(interaction: discord.Interaction, time: app_commands.Range[str, 1, 5],
                     timezone: app_commands.Range[str, 1, 64] | None = None,
                     count: app_commands.Range[int, 1, 10] | None = None) -> None:
        await answer(interaction, engine, "digest", _words(time, timezone, count))

    @digest.autocomplete("timezone")
    async def digest_timezones(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=zone, value=zone)
                for zone in suggest_timezones(current, limit=MAX_CHOICES)[:MAX_CHOICES]]

    @papers.command(name="realtime", description=summary("realtime"))
    @app_commands.describe(state="on: post each match as it appears")
    async def realtime(interaction: discord.Interaction, state: Literal["on", "off"]) -> None:
        await answer(interaction, engine, "realtime", state)

    @papers.command(name="threshold", description=summary("threshold"))
    @app_commands.describe(upvotes="minimum Hugging Face upvotes")
    async def threshold(interaction: discord.Interaction, upvotes: app_commands.Range[int, 0, 100_000]) -> None:
        await answer(interaction, engine, "threshold", str(upvotes))

    @papers.command(name="resume", description=summary("resume"))
    async def resume(interaction: discord.Interaction) -> None:
        await answer(interaction, engine, "resume")

    @papers.command(name="settings", description=summary("settings"))
    async def settings(interaction: discord.Interaction) -> None:
        await answer(interaction, engine, "settings")

    @papers.command(name="status", description=summary("status"))
    async def status(interaction: discord.Interaction) -> None:
        await answer(interaction, engine, "status")

    return papers


def _words(*values: object) -> str:
    return " ".join(str(v) for v in values if v is not None)
