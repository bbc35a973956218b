"""The `paperboy` commands that are one-off helpers: `discord invite`, `slack manifest`, `doctor`."""

from __future__ import annotations

import argparse
import json

from bot.runner import run
from bot.settings import Settings, StartupError


def discord_invite(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.discord import application_id_from_token, invite_url

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


def run_doctor(args: argparse.Namespace) -> int:
    from bot.doctor import run_doctor as doctor

    try:
        return run(doctor(_platform_check))
    except KeyboardInterrupt:
        return 130


def _platform_check(platform: str):
    """The adapter's own doctor check, imported only for a platform that is configured."""
    if platform == "discord":
        from adapters.discord import check_discord

        return check_discord
    from adapters.slack import check_slack

    return check_slack


def slack_manifest(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.slack import manifest

    print(json.dumps(manifest(), indent=2))
    return 0
