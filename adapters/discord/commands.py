"""Answering interactions: a `/papers` command or a click on a button, within Discord's three seconds.

`answer` runs a command (the text the console types, ``digest 09:00 Europe/Paris 5``,
which `adapters.discord.tree` builds from the options) and `click` a button's action;
both wait briefly for the engine and defer when the answer is not ready yet.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Coroutine

import discord
from discord.utils import MISSING

from adapters.discord import render
from adapters.discord.delivery import NO_MENTIONS
from bot.model.actions import Action, parse_action_id
from bot.model.channels import Caller, ChannelRef, Command, Group
from bot.commands.registry import COMMANDS
from bot.ports.adapter import CommandEngine
from bot.model.replies import Error, File, Reply

log = logging.getLogger(__name__)

DIRECT_ANSWER_WAIT = 1.5
"""Seconds to wait for the engine before deferring: well inside Discord's 3 s, leaving room for latency."""
MAX_CHOICES = 25
DM_WORKSPACE = "dm"
"""The workspace of a direct message with Paperboy, which belongs to no server."""
_ROLE_MENTION = re.compile(r"<@&([0-9]{1,20})>")
UNKNOWN_BUTTON = "That button is from an older Paperboy and does nothing now; use /papers instead."


def channel_ref(interaction: discord.Interaction) -> ChannelRef:
    """Return the opaque reference of the channel an interaction came from (workspace ``dm`` outside servers)."""
    workspace = DM_WORKSPACE if interaction.guild_id is None else str(interaction.guild_id)
    return ChannelRef(platform="discord", workspace=workspace, channel=str(interaction.channel_id))


def caller(interaction: discord.Interaction) -> Caller:
    """Return who ran the command; only Manage Channels in this channel lets them manage it.

    A direct message with Paperboy is the caller's own: they manage it.
    """
    user = interaction.user
    can_manage = interaction.guild_id is None or interaction.permissions.manage_channels
    return Caller(id=str(user.id), name=user.display_name, can_manage=can_manage)


async def answer(
    interaction: discord.Interaction,
    engine: CommandEngine,
    name: str,
    args: str = "",
    *,
    groups: tuple[Group, ...] = (),
    wait: float = DIRECT_ANSWER_WAIT,
) -> None:
    """Run the ``name args`` command through *engine* and answer *interaction* in time."""
    command = Command(name=name, args=args.strip(), caller=caller(interaction), channel=channel_ref(interaction),
                      groups=groups, direct=interaction.guild_id is None)
    await answer_in_time(interaction, _handle(engine, command), private=COMMANDS[name].private, wait=wait)


async def click(interaction: discord.Interaction, engine: CommandEngine, custom_id: str, *,
                wait: float = DIRECT_ANSWER_WAIT) -> None:
    """Answer a click on one of Paperboy's buttons privately with what the engine did about it."""
    parsed = parse_action_id(custom_id)
    if parsed is None or interaction.message is None:
        await interaction.response.send_message(UNKNOWN_BUTTON, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return
    kind, paper_id = parsed
    action = Action(kind, paper_id, caller(interaction), channel_ref(interaction),
                    message_ref=str(interaction.message.id))
    await answer_in_time(interaction, _act(engine, action), private=True, wait=wait)


async def answer_in_time(interaction: discord.Interaction, work: Coroutine[Any, Any, Reply], *, private: bool,
                         wait: float = DIRECT_ANSWER_WAIT) -> None:
    """Answer with *work*'s reply directly when it is ready within *wait*, else defer and follow up.

    ``private`` is how the deferral ("thinking…") shows, before the reply is known: the command's
    registered privacy, a forecast; the reply's own ``private`` (the core's decision) is what is carried out.
    """
    task = asyncio.create_task(work)
    done, _ = await asyncio.wait({task}, timeout=wait)
    if done:
        await _respond(interaction, task.result())
        return
    await interaction.response.defer(ephemeral=private, thinking=True)
    await _follow_up(interaction, private, await task)


async def _handle(engine: CommandEngine, command: Command) -> Reply:
    try:
        return await engine.handle(command)
    except Exception:  # the engine promises not to raise; a bug must still get an answer
        log.exception("engine failed on %s", command.name)
        return Reply(Error("Something went wrong on Paperboy's side; try again later."), private=True)


async def _act(engine: CommandEngine, action: Action) -> Reply:
    try:
        return await engine.act(action)  # privately: the core answers a click to the one who clicked
    except Exception:  # as in _handle: a click must get an answer, never a traceback
        log.exception("engine failed on a %s click", action.kind)
        return Reply(Error("Something went wrong on Paperboy's side; try again later."), private=True)


def _rendered(interaction: discord.Interaction, reply: Reply) -> render.Message:
    content = reply.content
    if isinstance(content, File):
        # The file itself, unless it is past what this interaction may attach: then its start, as text.
        fits = len(content.content.encode()) <= interaction.filesize_limit
        return render.attachment(content) if fits else render.file(content)
    return render.content(content)


def _given(value: Any) -> Any:
    # discord.py tells "leave as is" (MISSING) from "clear" (None/[]); for a fresh message, absent is absent.
    return value if value else MISSING


async def _respond(interaction: discord.Interaction, reply: Reply) -> None:
    message = _rendered(interaction, reply)
    await interaction.response.send_message(
        content=message.content, embeds=message.embeds, files=_given(message.files), view=_given(message.view),
        ephemeral=reply.private, allowed_mentions=NO_MENTIONS,
    )


async def _follow_up(interaction: discord.Interaction, deferred_privately: bool, reply: Reply) -> None:
    message = _rendered(interaction, reply)
    if reply.private and not deferred_privately:
        # The deferral was public: remove the public "thinking…" and say it privately instead.
        await interaction.delete_original_response()
        await interaction.followup.send(
            content=message.content or MISSING, embeds=message.embeds, files=_given(message.files),
            view=_given(message.view), ephemeral=True, allowed_mentions=NO_MENTIONS,
        )
        return
    await interaction.edit_original_response(
        content=message.content, embeds=message.embeds, attachments=_given(message.files),
        view=message.view, allowed_mentions=NO_MENTIONS,
    )


def role_groups(interaction: discord.Interaction, text: str) -> tuple[str, tuple[Group, ...]]:
    """Write each role mention in *text* as ``@name`` and return the text and those roles as groups.

    The name comes from the interaction's resolved roles, else the server's cached roles;
    a role neither knows keeps its id as its name (still never markup the core would see).
    """
    groups: list[Group] = []

    def named(match: re.Match[str]) -> str:
        name = _role_name(interaction, match.group(1))
        groups.append(Group(match.group(1), name))
        return f"@{name}"

    return _ROLE_MENTION.sub(named, text), tuple(groups)


def _role_name(interaction: discord.Interaction, role_id: str) -> str:
    resolved = ((interaction.data or {}).get("resolved") or {}).get("roles") or {}  # type: ignore[union-attr]
    if role_id in resolved:
        return str(resolved[role_id].get("name") or role_id)
    role = interaction.guild.get_role(int(role_id)) if interaction.guild else None
    return role.name if role else role_id


def subscribe_text(interaction: discord.Interaction, query: str,
                   notify: discord.Role | None) -> tuple[str, tuple[Group, ...]]:
    """The ``subscribe`` args and groups for *query* and the optional role to notify."""
    text, groups = role_groups(interaction, query)
    if notify is not None:
        text += f" notify @{notify.name}"
        groups += (Group(str(notify.id), notify.name),)
    return text, groups
