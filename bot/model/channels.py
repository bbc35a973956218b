"""Opaque references to channels and callers, built only by adapters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """Where a command came from or a post goes: ``platform``/``workspace``/``channel``.

    The core stores and compares these and never looks inside: ``workspace`` is a
    Discord guild id or Slack team id, ``channel`` the platform's channel id.
    """

    platform: str
    workspace: str
    channel: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}/{self.channel}"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who ran a command, and whether the adapter says they may manage the channel."""

    id: str
    name: str
    can_manage: bool = True


@dataclass(frozen=True, slots=True)
class Group:
    """A group of people a post may notify (a Slack user group, a Discord role): its platform id and name.

    An adapter that finds a group mention in a command's text replaces it with ``@name`` in
    ``args`` and lists the group in `Command.groups`, so the core never parses platform markup.
    """

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its name (``search``), the rest of the text, the caller and channel."""

    name: str
    args: str
    caller: Caller
    channel: ChannelRef
    groups: tuple[Group, ...] = ()
    """The group mentions the adapter found in the text (each written ``@name`` in ``args``)."""
    direct: bool = False
    """It came from a direct message with Paperboy (only the adapter can tell): there `recommend`
    learns from the caller's own signals (all their saves, their 👍 and 👎 there)."""


def parse_command(text: str, *, caller: Caller, channel: ChannelRef) -> Command:
    """Split ``/papers search model merging`` (or ``search model merging``) into a Command.

    An empty text is the ``help`` command.
    """
    words = text.strip()
    if words.lower().startswith("/papers"):
        words = words[len("/papers"):].strip()
    elif words.lower().startswith("papers "):
        words = words[len("papers "):].strip()
    name, _, args = words.partition(" ")
    return Command(name=name.lower() or "help", args=args.strip(), caller=caller, channel=channel)
