"""The platform contract: what the core asks of a chat platform plugin, and where it finds them.

A platform is a package with one entry point in the ``paperboy.platforms`` group, naming an
object that follows `Platform`. The core reads only this object: its settings, their checks,
its doctor check, its command-line helpers, the secrets the log must hide, and the adapter it
creates. The object's module stays light (no platform library imported) because every start,
and `paperboy --help`, loads it; the adapter's libraries load in `Platform.create`.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

if TYPE_CHECKING:
    from bot.runtime.app import Core
    from bot.model.channels import ChannelRef
    from bot.ports.adapter import Adapter, CommandEngine
    from bot.runtime.doctor import Finding

ENTRY_POINTS = "paperboy.platforms"


class PlatformSetupError(RuntimeError):
    """A platform's refusal of settings it cannot work with; its message is one line meant for users."""


def env(name: str) -> AliasChoices:
    """A setting's names: the environment's (``NAME``) and the field's (``name``), so tests can pass keywords."""
    return AliasChoices(name, name.lower())


def url_value(value: str) -> str:
    """A URL setting's check: a value without a scheme is refused (the field's default follows as the example)."""
    if "://" not in value:
        raise ValueError("needs a URL")
    return value


def blank_as_unset(value: object) -> object:
    """A blank value is unset: `.env.example` copied as is leaves ``HF_TOKEN=``, meaning "not configured"."""
    return None if isinstance(value, str) and not value.strip() else value


@runtime_checkable
class Platform(Protocol):
    """One chat platform, as the core sees it before any of its libraries is imported."""

    name: str
    """The key of its channels and adapter (``ChannelRef.platform``)."""
    title: str
    """Its name for people, in `paperboy doctor` and the help."""
    settings: type[BaseSettings]
    """Its settings: a pydantic-settings model whose fields join Paperboy's `Settings`."""
    switches: tuple[str, ...]
    """The settings (environment names) that turn it on, any one of them."""
    group_hint: str
    """Where people pick a group to notify (``notify @group``), in the answer that could not tell which."""
    secret_patterns: tuple[str, ...]
    """Regular expressions of its tokens, hidden in every log line; a ``(?P<keep>…)`` group stays visible."""
    loggers: tuple[str, ...]
    """Its libraries' loggers, whose INFO records are request lines (kept at WARNING unless DEBUG)."""
    idle_warnings: tuple[str, ...]
    """Library warnings about features Paperboy does not use: dropped from the log."""
    capabilities: frozenset[str]
    """What its adapter can do (`bot.ports.adapter.BUTTONS`, `THREADS`, `FILES`)."""

    def configured(self, settings: Any) -> bool:
        """Whether *settings* turn it on."""

    def check_settings(self, settings: Any) -> str | None:
        """One line naming a bad setting and the fix, when its values cannot work together; else None."""

    def doctor_check(self, settings: Any) -> Awaitable[list[Finding]]:
        """Check its settings against the platform's API (configured only), changing nothing."""

    def add_commands(self, commands: argparse._SubParsersAction) -> None:
        """Add its `paperboy <name> …` helpers, if it has any."""

    def create(self, core: Core, engine: CommandEngine) -> Adapter:
        """Its adapter, ready to start; may raise `PlatformSetupError`."""

    def unfinished_migration(self, store: Any) -> Awaitable[str | None]:
        """Why *store* cannot be copied yet (`paperboy db copy`): data of its own a start has still to bring
        over, and how to; None when there is none."""


@cache
def platforms() -> tuple[Platform, ...]:
    """The installed platforms, by name (entry points of ``paperboy.platforms``)."""
    found = [entry.load() for entry in metadata.entry_points(group=ENTRY_POINTS)]
    return tuple(sorted({p.name: p for p in found}.values(), key=lambda p: p.name))


class Platforms(dict[str, "Adapter"]):
    """The running adapters by platform name: one registry, handed to the engine, the worker, health and the
    dry run, and filled by the command line as each adapter starts (before it connects: a platform delivers
    commands before its start returns, and they must see what it can do)."""

    def add(self, adapter: Adapter) -> None:
        self[adapter.platform] = adapter

    def capabilities(self, platform: str) -> frozenset[str]:
        """What the platform's adapter has of buttons, threads and files (nothing when it is not running)."""
        adapter = self.get(platform)
        return adapter.capabilities if adapter is not None else frozenset()

    def message_link(self, channel: ChannelRef, message_ref: str) -> str | None:
        """A link to the message *message_ref* in *channel*, from adapters that can make one (optional
        ``message_link(channel, message_ref)``); None otherwise."""
        link = getattr(self.get(channel.platform), "message_link", None)
        return link(channel, message_ref) if link is not None else None


def configured(settings: Any) -> list[Platform]:
    """The platforms *settings* turn on."""
    return [platform for platform in platforms() if platform.configured(settings)]


def named(name: str) -> Platform | None:
    """The installed platform called *name* (a channel's ``platform``), or None (the console)."""
    return next((platform for platform in platforms() if platform.name == name), None)


def switches(separator: str = " or ") -> str:
    """The settings that turn a platform on, for people: ``A, B or C``."""
    names = [switch for platform in platforms() for switch in platform.switches]
    return separator.join(filter(None, [", ".join(names[:-1]), names[-1]])) if names else "none is installed"
