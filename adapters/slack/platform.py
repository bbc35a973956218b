"""Slack as a Paperboy platform: the entry point ``paperboy.platforms`` names `platform`.

Light on purpose: slack-bolt loads only when the adapter is created or checked.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from adapters.slack.settings import SlackSettings, check_slack_settings
from bot.ports.adapter import BUTTONS, FILES, THREADS


class Slack:
    name = "slack"
    title = "Slack"
    settings = SlackSettings
    switches = ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID")
    group_hint = "@ and the user group"
    # xoxb- (bot), xoxp- (user), xoxa- / xoxe- / xoxr- / xoxs- …, rotating xoxe.xoxp-, app-level xapp-:
    # the prefix stays, so the log still says which kind of token was there.
    secret_patterns = (r"(?P<keep>xox(?:e\.xox)?[a-z]|xapp)-[0-9A-Za-z-]+",)
    loggers = ("slack_bolt", "slack_sdk")
    # When SLACK_BOT_TOKEN is in the environment: Paperboy passes a client of its own.
    idle_warnings = ("`token` will be unused",)
    capabilities = frozenset({BUTTONS, THREADS, FILES})

    def configured(self, settings: Any) -> bool:
        return bool(settings.slack_bot_token or settings.slack_client_id)

    def check_settings(self, settings: Any) -> str | None:
        return check_slack_settings(settings)

    async def doctor_check(self, settings: Any) -> list:
        from adapters.slack.doctor import check_slack

        return await check_slack(settings)

    def add_commands(self, commands: argparse._SubParsersAction) -> None:
        slack = commands.add_parser("slack", help="Slack helpers", description="Slack helpers.")
        slack_sub = slack.add_subparsers(title="commands", metavar="COMMAND", required=True)
        manifest = slack_sub.add_parser("manifest", help="print the Slack app manifest (JSON)",
                                        description="Print the app manifest to paste at api.slack.com/apps.")
        manifest.set_defaults(func=slack_manifest)

    def create(self, core: Any, engine: Any) -> Any:
        from adapters.slack.adapter import SlackAdapter
        from bot.runtime.health import Health

        # In HTTP mode the Slack port serves /healthz and /metrics too (one port behind a load balancer).
        return SlackAdapter(core.settings, engine, store=core.store, routes=Health(core).routes())

    async def unfinished_migration(self, store: Any) -> str | None:
        from adapters.slack.installations import legacy_import_pending

        if not await legacy_import_pending(store):
            return None
        # Only the Slack adapter can read slack_sdk's old rows: copying now would leave them behind.
        return ("the source still holds Slack installs made before Paperboy kept its own; start "
                "Paperboy on it once with SLACK_CLIENT_ID set (it imports them), then copy")


def slack_manifest(args: argparse.Namespace, settings: Any) -> int:
    """`paperboy slack manifest`: print the app manifest to paste at api.slack.com/apps."""
    from adapters.slack.oauth import manifest

    print(json.dumps(manifest(), indent=2))
    return 0


platform = Slack()
