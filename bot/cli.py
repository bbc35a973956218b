"""The `paperboy` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from typing import Sequence

from bot.app import Core, open_core, run_poller
from bot.delivery import Adapter
from bot.settings import Settings, SettingsError, load_settings

log = logging.getLogger("paperboy")


class StartupError(Exception):
    """Paperboy cannot start; ``str(error)`` is one line for the user."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperboy",
        description="Brings Hugging Face daily and trending papers to Discord, Slack and the console. "
        "With no command, runs the bot: on the console when no platform token is set.",
        epilog="Settings come from the environment and .env; see .env.example.",
    )
    parser.set_defaults(func=run_bot)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = sub.add_parser("run", help="run the bot (the default)", description="Run the bot: the poller, "
                         "plus Discord and Slack when their tokens are set, and the console when no token is "
                         "set or standard input is a terminal.")
    run.set_defaults(func=run_bot)

    console = sub.add_parser("console", help="answer commands from standard input until EOF",
                             description="Read one command per line from standard input (`/papers trending` "
                             "or `trending`), print each answer, exit 0 at end of input.")
    console.set_defaults(func=run_console)

    poll = sub.add_parser("poll", help="poll Hugging Face and deliver new matching papers",
                          description="Poll the trending and daily lists, then deliver new matching papers "
                          "to the console channel's subscriptions (printing the posts).")
    poll.add_argument("--once", action="store_true", help="run one poll cycle, then exit")
    poll.add_argument("--dry-run", action="store_true",
                      help="print what would be posted where, record and send nothing (implies --once)")
    poll.set_defaults(func=run_poll)

    discord = sub.add_parser("discord", help="Discord helpers", description="Discord helpers.")
    discord_sub = discord.add_subparsers(title="commands", metavar="COMMAND", required=True)
    invite = discord_sub.add_parser("invite", help="print the OAuth2 URL that adds Paperboy to a server",
                                    description="Print the invite URL (scopes bot and applications.commands, "
                                    "least permissions). The application id comes from DISCORD_TOKEN unless given.")
    invite.add_argument("--application-id", help="the Discord application id")
    invite.set_defaults(func=discord_invite)

    slack = sub.add_parser("slack", help="Slack helpers", description="Slack helpers.")
    slack_sub = slack.add_subparsers(title="commands", metavar="COMMAND", required=True)
    manifest = slack_sub.add_parser("manifest", help="print the Slack app manifest (JSON)",
                                    description="Print the app manifest to paste at api.slack.com/apps.")
    manifest.set_defaults(func=slack_manifest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"paperboy: {error}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    try:
        result = args.func(args, settings)
        return asyncio.run(result) if asyncio.iscoroutine(result) else result
    except StartupError as error:
        print(f"paperboy: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `paperboy slack manifest | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")
        return 0


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    if level != "DEBUG":
        # Request lines are noise on a console; failures are reported by Paperboy itself.
        for noisy in ("httpx", "httpcore", "discord", "slack_bolt", "slack_sdk", "aiohttp.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


async def run_console(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.console import ConsoleAdapter

    async with open_core(settings) as core:
        await ConsoleAdapter(core.engine, prompt=False).run()
    return 0


async def run_poll(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.console import ConsoleAdapter

    async with open_core(settings) as core:
        printer = ConsoleAdapter(core.engine)
        if not (args.once or args.dry_run):
            await _serve(core, [printer], console=None)
            return 0
        if args.dry_run:
            return await _print_dry_run(core)
        core.poller.adapters[printer.platform] = printer
        report = await core.poller.poll_once()
        for error in report.errors:
            print(f"paperboy: {error}", file=sys.stderr)
        print(f"paperboy: fetched {report.fetched} papers, {len(report.enqueued)} new matches, "
              f"{report.sent} posted, {report.failed} failed", file=sys.stderr)
        return 1 if report.errors and not report.fetched else 0


async def _print_dry_run(core: Core) -> int:
    from bot.dry_run import dry_run

    report, would_send = await dry_run(core)
    for error in report.errors:
        print(f"paperboy: {error}", file=sys.stderr)
    for message in would_send:
        print(message.describe())
    if not would_send:
        print("[dry run] nothing would be sent now")
    print(f"paperboy: dry run: fetched {report.fetched} papers, {len(report.enqueued)} new matches, "
          f"{len(would_send)} messages would be sent; nothing was recorded or sent", file=sys.stderr)
    return 1 if report.errors and not report.fetched else 0


async def run_bot(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.console import ConsoleAdapter

    async with open_core(settings) as core:
        adapters = _platform_adapters(core)
        console = None
        if not adapters or sys.stdin.isatty():
            console = ConsoleAdapter(core.engine)
            adapters.append(console)
            print("Paperboy on the console: type `help`, `trending` or `subscribe <topic>`; "
                  "Ctrl-D quits.\n", flush=True)
        await _serve(core, adapters, console=console)
    return 0


def _platform_adapters(core: Core) -> list[Adapter]:
    adapters: list[Adapter] = []
    if core.settings.discord_token:
        from adapters.discord import DiscordAdapter

        adapters.append(DiscordAdapter(core.settings, core.engine))
    if core.settings.slack_bot_token or core.settings.slack_client_id:
        from adapters.slack import SlackAdapter

        adapters.append(SlackAdapter(core.settings, core.engine))
    return adapters


async def _serve(core: Core, adapters: list[Adapter], *, console) -> None:
    """Start the adapters and the poller; run until end of console input or a signal."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    started: list[Adapter] = []
    try:
        for adapter in adapters:
            try:
                await adapter.start()
            except Exception as error:
                raise StartupError(f"{adapter.platform}: {error}") from None
            started.append(adapter)
            core.poller.adapters[adapter.platform] = adapter
        poller = asyncio.create_task(run_poller(core, stop=stop))
        if console is not None:
            reader = asyncio.create_task(console.run(on_eof=stop.set))
        await stop.wait()
        if console is not None:
            reader.cancel()
        await poller
    finally:
        for adapter in reversed(started):
            await adapter.stop()


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


def slack_manifest(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.slack import manifest

    print(json.dumps(manifest(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
