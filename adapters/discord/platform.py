"""Discord as a Paperboy platform: the entry point ``paperboy.platforms`` names `platform`.

Light on purpose: discord.py loads only when the adapter is created or checked.
"""

from __future__ import annotations

import argparse
from typing import Any

from adapters.discord.settings import DiscordSettings
from bot.ports.adapter import BUTTONS, FILES, THREADS


class Discord:
    name = "discord"
    title = "Discord"
    settings = DiscordSettings
    switches = ("DISCORD_TOKEN",)
    group_hint = "the notify option"
    # Discord bot tokens: base64url(user id) . base64url(timestamp) . HMAC; a JWT looks alike and goes too.
    secret_patterns = (r"(?<![\w-])[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,8}\.[A-Za-z0-9_-]{20,}(?![\w-])",)
    loggers = ("discord",)
    idle_warnings = ("voice will NOT be supported",)  # at every start: Paperboy never uses voice
    capabilities = frozenset({BUTTONS, THREADS, FILES})

    def configured(self, settings: Any) -> bool:
        return bool(settings.discord_token)

    def check_settings(self, settings: Any) -> str | None:
        return None

    async def doctor_check(self, settings: Any) -> list:
        from adapters.discord.doctor import check_discord

        return await check_discord(settings)

    def add_commands(self, commands: argparse._SubParsersAction) -> None:
        discord = commands.add_parser("discord", help="Discord helpers", description="Discord helpers.")
        discord_sub = discord.add_subparsers(title="commands", metavar="COMMAND", required=True)
        invite = discord_sub.add_parser("invite", help="print the OAuth2 URL that adds Paperboy to a server",
                                        description="Print the invite URL (scopes bot and applications.commands, "
                                        "least permissions). The application id comes from DISCORD_TOKEN unless "
                                        "given.")
        invite.add_argument("--application-id", help="the Discord application id")
        invite.set_defaults(func=discord_invite)

    def create(self, core: Any, engine: Any) -> Any:
        from adapters.discord.adapter import DiscordAdapter

        return DiscordAdapter(core.settings, engine)

    async def unfinished_migration(self, store: Any) -> str | None:
        return None


def discord_invite(args: argparse.Namespace, settings: Any) -> int:
    """`paperboy discord invite`: print the URL that adds the bot to a server."""
    from adapters.discord.adapter import application_id_from_token, invite_url
    from bot.runtime.settings import StartupError

    app_id = args.application_id
    if not app_id:
        if not settings.discord_token:
            raise StartupError("set DISCORD_TOKEN or pass --application-id to build the invite URL")
        try:
            app_id = application_id_from_token(settings.discord_token.get_secret_value())
        except ValueError as error:
            raise StartupError(str(error)) from None
    print(invite_url(app_id))
    return 0


platform = Discord()
