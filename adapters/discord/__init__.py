"""Paperboy on Discord: the `/papers` command group and channel delivery."""

from adapters.discord.adapter import DiscordAdapter, application_id_from_token, invite_url
from adapters.discord.doctor import check_discord

__all__ = ["DiscordAdapter", "application_id_from_token", "check_discord", "invite_url"]
