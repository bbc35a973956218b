"""The `/papers` app-command group, generated from `bot.commands.registry.COMMANDS` and its typed `Arg`s.

Each spec becomes a subcommand whose options are its args (text and int ranges, choices,
a role, autocompleted time zones and topics). A click on it joins the values given, in
order, into the console's text (``digest 09:00 Europe/Paris 5``) and hands that to
`answer`, so adding a command to the table adds it here, with nothing to mirror by hand.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Literal, Optional

import discord
from discord import app_commands

from adapters.discord import render
from adapters.discord.commands import MAX_CHOICES, answer, channel_ref, role_groups
from bot.model.channels import Group
from bot.commands.registry import CHOICE, COMMANDS, FAMILIES, INT, ROLE, TEXT, TIMEZONE, TOPIC, Arg, CommandSpec
from bot.ports.adapter import CommandEngine
from bot.delivery.timezones import suggest_timezones

DESCRIPTION_LIMIT = 100
"""Discord's limit on a command's or an option's description."""


def build_group(engine: CommandEngine) -> app_commands.Group:
    """Return the `/papers` group with one subcommand per entry of `COMMANDS`.

    A command of a family (`bot.commands.registry.FAMILIES`) goes into that family's subgroup
    (``/papers interest recommend``): Discord allows 25 subcommands per level.
    """
    # Servers and the direct message with Paperboy (a DM channel can subscribe like any other).
    papers = app_commands.Group(name="papers", description="Hugging Face research papers in this channel",
                                allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True),
                                allowed_installs=app_commands.AppInstallationType(guild=True))
    families = {name: app_commands.Group(name=name, description=summary[:DESCRIPTION_LIMIT], parent=papers)
                for name, summary in FAMILIES.items()}
    for spec in COMMANDS.values():
        (families[spec.family] if spec.family else papers).add_command(subcommand(spec, engine))
    return papers


def subcommand(spec: CommandSpec, engine: CommandEngine) -> app_commands.Command[Any, ..., None]:
    """Return the subcommand for *spec*: its typed options, their autocomplete, and the call to `answer`."""

    async def run(interaction: discord.Interaction, **options: Any) -> None:
        text, groups = command_text(interaction, spec, options)
        await answer(interaction, engine, spec.name, text, groups=groups)

    # discord.py reads a command's options from its callback's signature: give it one per arg.
    run.__signature__ = _signature(spec.args)  # type: ignore[attr-defined]
    run.__name__ = run.__qualname__ = spec.name
    if spec.args:
        app_commands.describe(**{a.name: a.description[:DESCRIPTION_LIMIT] for a in spec.args})(run)
    command = app_commands.Command(name=spec.name, description=spec.summary[:DESCRIPTION_LIMIT], callback=run)
    for arg in spec.args:
        suggest = _suggester(arg, engine)
        if suggest is not None:
            command.autocomplete(arg.name)(suggest)
    return command


def command_text(interaction: discord.Interaction, spec: CommandSpec,
                 options: dict[str, Any]) -> tuple[str, tuple[Group, ...]]:
    """Join the given options, in the spec's order, into the command's text; list the roles as groups.

    A role option is written ``<arg name> @<role name>`` (``notify @Researchers``), and a role
    mention typed into a text (``<@&123>``) becomes ``@name``: the core never sees Discord markup.
    """
    words: list[str] = []
    groups: list[Group] = []
    for arg in spec.args:
        value = options.get(arg.name)
        if value is None:
            continue
        if isinstance(value, discord.Role):
            words.append(f"{arg.name} @{value.name}")
            groups.append(Group(str(value.id), value.name))
        elif isinstance(value, str):
            text, found = role_groups(interaction, value)
            words.append(text)
            groups.extend(found)
        else:
            words.append(str(value))
    return " ".join(words), tuple(groups)


def _signature(args: tuple[Arg, ...]) -> inspect.Signature:
    first = inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                              annotation=discord.Interaction)
    options = [inspect.Parameter(a.name, inspect.Parameter.KEYWORD_ONLY, annotation=_annotation(a),
                                 default=inspect.Parameter.empty if a.required else None) for a in args]
    return inspect.Signature([first, *options])


def _annotation(arg: Arg) -> Any:
    """The discord.py annotation that makes *arg*'s option: its type, range or choices; Optional unless required."""
    kinds: dict[str, Callable[[Arg], Any]] = {
        TEXT: lambda a: app_commands.Range[str, a.low or 1, a.high or 6000],
        TIMEZONE: lambda a: app_commands.Range[str, a.low or 1, a.high or 64],
        TOPIC: lambda a: app_commands.Range[str, a.low or 1, a.high or 300],
        INT: lambda a: app_commands.Range[int, a.low, a.high],
        CHOICE: lambda a: Literal[a.choices],  # type: ignore[valid-type]
        ROLE: lambda a: discord.Role,
    }
    annotation = kinds[arg.kind](arg)
    return annotation if arg.required else Optional[annotation]


def _suggester(arg: Arg, engine: CommandEngine) -> Callable[..., Any] | None:
    """The autocomplete of a time zone or topic arg (None for the others)."""
    if arg.kind == TIMEZONE:
        async def zones(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=zone, value=zone)
                    for zone in suggest_timezones(current, limit=MAX_CHOICES)[:MAX_CHOICES]]
        return zones
    if arg.kind == TOPIC:
        async def topics(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return topic_choices(await engine.topic_labels(channel_ref(interaction)), current)
        return topics
    return None


def topic_choices(labels: list[str], current: str) -> list[app_commands.Choice[str]]:
    """The channel's topic labels matching *current*, as at most 25 choices within Discord's 100 characters."""
    wanted = current.strip().lower()
    choices = []
    for label in [label for label in labels if wanted in label.lower()][:MAX_CHOICES]:
        # Choice names and values are limited to 100 characters; the engine accepts "3" for "3. long query".
        value = label if len(label) <= 100 else label.split(".", 1)[0]
        choices.append(app_commands.Choice(name=render.shorten(label, 100), value=value))
    return choices
