"""Paperboy on Discord: the `/papers` command group and channel delivery."""

from adapters.discord.adapter import DiscordAdapter, application_id_from_token, invite_url

__all__ = ["DiscordAdapter", "application_id_from_token", "invite_url"]
