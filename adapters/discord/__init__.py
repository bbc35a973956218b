"""Paperboy on Discord: the `/papers` command group and channel delivery.

Its names load on first use, so that finding the platform (`adapters.discord.platform`) does not import discord.py.
"""

from importlib import import_module

_NAMES = {"DiscordAdapter": "adapter", "application_id_from_token": "adapter", "invite_url": "adapter",
          "check_discord": "doctor"}
__all__ = sorted(_NAMES)


def __getattr__(name: str) -> object:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_NAMES[name]}"), name)
