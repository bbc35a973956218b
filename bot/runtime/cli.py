"""The `paperboy` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from contextlib import contextmanager
from importlib import metadata
from typing import Iterator, Sequence

from bot.runtime.app import CommandGate, Core, open_database, open_core, run_poller
from bot.runtime.cli_helpers import run_doctor
from bot.runtime.collector import freeze_startup
from bot.runtime.db_copy import CopyRefused, check_target, copy_database
from bot.ports.adapter import Adapter, CommandEngine
from bot.runtime.health import serve_health
from bot.runtime.logsetup import configure_logging, log_place
from bot.ports.platforms import PlatformSetupError, configured, platforms
from bot.runtime.runner import arm_hard_stop, exit_now_if_stuck, run
from bot.runtime.settings import Settings, SettingsError, StartupError, load_settings
from bot.ports.store import describe_database
from bot.ports.store_errors import StorageLost
from bot.model.wording import plural
from bot.delivery.worker import STOP_GRACE

log = logging.getLogger("paperboy")

_DETAILS = "run with PAPERBOY_LOG_LEVEL=DEBUG for details"


def _version() -> str:
    try:
        return metadata.version("paperboy")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperboy",
        description=f"Brings Hugging Face daily and trending papers to {_listed([*_titles(), 'the console'])}. "
        "With no command, runs the bot: on the console when no platform token is set.",
        epilog="Settings come from the environment and .env; see .env.example.",
    )
    parser.add_argument("--version", action="version", version=f"paperboy {_version()}")
    parser.set_defaults(func=run_bot)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = sub.add_parser("run", help="run the bot (the default)", description="Run the bot: the poller, "
                         f"plus {_listed(_titles())} when their tokens are set, and the console when no token is "
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

    db = sub.add_parser("db", help="database helpers", description="Database helpers.")
    db_sub = db.add_subparsers(title="commands", metavar="COMMAND", required=True)
    copy = db_sub.add_parser("copy", help="copy this database into another (SQLite to Postgres)",
                             description="Copy everything in PAPERBOY_DATABASE (channels, topics, ledger, outbox, "
                             "paper cache, installations) into an empty database, keeping ids, and check the "
                             "counts. Stop Paperboy first.")
    copy.add_argument("--to", required=True, metavar="DATABASE",
                      help="the target: a postgresql:// URL (or another SQLite file)")
    copy.set_defaults(func=db_copy)

    for platform in platforms():
        platform.add_commands(sub)  # `paperboy <platform> …` helpers
    doctor = sub.add_parser("doctor", help="check the settings, database, Hugging Face and the platform tokens",
                            description="Check every configured piece (settings, the database and its migrations, "
                            f"Hugging Face, the settings of each platform ({_listed(_titles())}: their tokens) against its API) and "
                            "print one line each with ✓ or ✗ and the fix; exit 0 when all pass, 1 otherwise. "
                            "It changes nothing.")
    doctor.set_defaults(func=run_doctor)
    return parser


async def db_copy(args: argparse.Namespace, settings: Settings) -> int:
    """Copy PAPERBOY_DATABASE into ``--to``; print one line per table and exit 0 when every count matches."""
    target_settings = settings.model_copy(update={"database": args.to})
    check_target(args.to, os.fspath(settings.database))  # bad input: exit 2, before anything is opened
    source = await open_database(settings)
    try:
        target = await open_database(target_settings, setting="--to")
        try:
            copied = await copy_database(source, target)
        except CopyRefused as error:
            return _fail(f"db copy to {describe_database(args.to)}: {error}", status=1)
        finally:
            await target.close()
    finally:
        await source.close()
    for table in copied:
        print(f"{table.table}: {plural(table.source_rows, 'row')} copied, {table.target_rows} in the target")
    print(f"copied into {describe_database(args.to)}; set PAPERBOY_DATABASE to it and start Paperboy")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2: a bad setting, 1: cannot start or failed).

    Whatever goes wrong, the user gets one line on standard error, never a traceback.
    """
    args = build_parser().parse_args(argv)
    if args.func is run_doctor:  # a bad setting is one of its findings: it loads the settings itself
        return run_doctor(args)
    try:
        settings = load_settings()
        configure_logging(settings, console=_console_in_use(args, settings))
        result = args.func(args, settings)
        return run(result) if asyncio.iscoroutine(result) else result
    except SettingsError as error:  # one line per bad setting
        for line in str(error).splitlines()[:-1]:
            _fail(line, status=2)
        return _fail(str(error).splitlines()[-1], status=2)
    except StartupError as error:
        return _fail(error, status=1)
    except StorageLost as error:  # raised while running: stopping beats writing into a file nobody reads
        return _fail(f"stopped: {error}; restore it from a backup, or start again to begin a new one", status=1)
    except KeyboardInterrupt:  # a second Ctrl-C while stopping: quit at once
        return 130
    except BrokenPipeError:  # `paperboy slack manifest | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")
        return 0
    except Exception as error:
        log.debug("unexpected error", exc_info=True)
        return _fail(f"could not start: {_describe(error)}; {_DETAILS}", status=1)


def _fail(message: object, *, status: int) -> int:
    print("paperboy: " + " ".join(str(message).splitlines()), file=sys.stderr, flush=True)
    return status


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _titles() -> list[str]:
    """The installed platforms, by their names for people."""
    return [platform.title for platform in platforms()]


def _listed(names: list[str]) -> str:
    """``A, B and C`` for the help."""
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]])) if names else "no platform"


def _platforms_configured(settings: Settings) -> bool:
    return bool(configured(settings))


def _at_terminal() -> bool:
    """Whether standard input is a terminal; it is None when closed (`paperboy <&-`)."""
    return bool(sys.stdin and sys.stdin.isatty())


def _console_in_use(args: argparse.Namespace, settings: Settings) -> bool:
    """Whether the console is the conversation: `run` with it, or `console` (at a terminal or in a script)."""
    if args.func is run_bot:
        # stdin is None when closed (`paperboy <&-`): not a terminal; `run_bot` then refuses in one line.
        return _at_terminal() or not _platforms_configured(settings)
    return args.func is run_console


async def run_console(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.console import ConsoleAdapter

    async with open_core(settings) as core:
        console = ConsoleAdapter(core.engine)  # line editing at a terminal; answers only when piped
        await _serve(core, [console], console=console, poll=False)
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
        core.platforms.add(printer)
        report = await core.poller.poll_once()
        for error in report.errors:
            print(f"paperboy: {error}", file=sys.stderr)
        print(f"paperboy: fetched {plural(report.fetched, 'paper')}, "
              f"{plural(len(report.enqueued), 'new match', 'new matches')}, "
              f"{report.sent} posted, {report.failed} failed", file=sys.stderr)
        return 1 if report.errors and not report.fetched else 0


async def _print_dry_run(core: Core) -> int:
    from adapters.console import render
    from bot.delivery.dry_run import dry_run

    report, would_send = await dry_run(core)
    for error in report.errors:
        print(f"paperboy: {error}", file=sys.stderr)
    for message in would_send:
        print(message.describe(render) + "\n")  # each post as the real poll renders it on the console
    if not would_send:
        print("[dry run] nothing would be posted now")
    print(f"paperboy: dry run: fetched {plural(report.fetched, 'paper')}, "
          f"{plural(len(report.enqueued), 'new match', 'new matches')}, {plural(len(would_send), 'message')} "
          "would be posted; none was, and the database is unchanged", file=sys.stderr)
    return 1 if report.errors and not report.fetched else 0


async def run_bot(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.console import ConsoleAdapter
    from bot.runtime.unattended import refuse_when_unattended

    refuse_when_unattended(_platforms_configured(settings))  # a container with no token: say so, exit 1
    async with open_core(settings) as core:
        gate = CommandGate(core.engine)
        adapters = _platform_adapters(core, gate)
        console = None
        if not adapters or _at_terminal():
            greeting = ("Paperboy on the console: type `help`, `trending` or `subscribe <topic>`; Ctrl-D quits.\n"
                        f"The log goes to {log_place(settings)}.")
            console = ConsoleAdapter(gate, greeting=greeting)
            adapters.append(console)
        await _serve(core, adapters, console=console, gate=gate)
    return 0


def _platform_adapters(core: Core, engine: CommandEngine) -> list[Adapter]:
    adapters: list[Adapter] = []
    for platform in configured(core.settings):
        with _startup_errors(platform.name):
            adapters.append(platform.create(core, engine))
    return adapters


async def _serve(core: Core, adapters: list[Adapter], *, console, gate: CommandGate | None = None,
                 poll: bool = True) -> None:
    """Start the adapters (and the poller); run until end of console input or a signal; then stop in order."""
    stop = asyncio.Event()
    started: list[Adapter] = []
    serving = core.settings.health_port or core.engine.feeds.links
    health = await serve_health(core) if serving else None  # up first: start-up shows there
    with _stop_on_signals(stop):
        try:
            for adapter in adapters:
                started.append(adapter)  # stop() also cleans up after a start that failed halfway
                # Registered before it connects: a platform delivers commands before start() returns
                # (discord.py waits 2 s for guilds after READY), and they must see what it can do.
                core.platforms.add(adapter)
                if not await _start(adapter, stop):
                    return  # a signal during start-up: nothing runs yet, so stop right away
            if poll:
                await _warm(core)
            freeze_startup()  # what is alive now lives as long as the bot: no collection need walk it again
            await _run_until_stopped(core, stop, console=console, gate=gate, poll=poll)
        finally:
            for adapter in reversed(started):
                await _stop_adapter(adapter)
            if health is not None:
                await health.stop()


async def _warm(core: Core) -> None:
    """Build the topics' index before the first poll (a second at 10,000 channels), so it is frozen with the
    rest of start-up; if the database says no now, the first poll builds it instead."""
    try:
        await core.poller.warm()
    except Exception as error:  # noqa: BLE001 - only an optimisation: the poll reads the topics itself
        log.warning("start-up: the topics could not be read yet (%s); the first poll reads them", error)


async def _start(adapter: Adapter, stop: asyncio.Event) -> bool:
    """Start *adapter*; return False, having given up, if a signal comes first (a hanging connect)."""
    starting = asyncio.ensure_future(adapter.start())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        with _startup_errors(adapter.platform):
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
                return False
            starting.result()
        return True
    finally:
        stopping.cancel()


async def _run_until_stopped(core: Core, stop: asyncio.Event, *, console, gate: CommandGate | None,
                             poll: bool) -> None:
    """Run until *stop* (a signal, end of input) or a dead poller; then take no new work, and let sends settle."""
    poller = asyncio.create_task(run_poller(core, stop=stop)) if poll else None
    reader = asyncio.create_task(console.run(on_eof=stop.set)) if console is not None else None
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([t for t in (stopping, poller, reader) if t is not None],
                       return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    stopping.cancel()
    if gate is not None:
        gate.close()
    if reader is not None:
        reader.cancel()
        [ended] = await asyncio.gather(reader, return_exceptions=True)
        if isinstance(ended, Exception):
            log.error("the console failed", exc_info=ended)
        if poller is not None and (sending := core.poller.worker.sending):
            console.say(f"Waiting for {sending} {'message' if sending == 1 else 'messages'} being sent… "
                        "(Ctrl-C quits at once; the next start checks whether it arrived)")
    if poller is not None:
        await poller  # the sends in flight settle here, within the worker's grace period


@contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT and SIGTERM ask for a graceful stop; one after that quits at once."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def uninstall() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)  # back to the defaults: KeyboardInterrupt, or death
        installed.clear()

    def first(sig: signal.Signals) -> None:
        log.info("%s: stopping once the sends in flight are done; send it again to quit at once", sig.name)
        arm_hard_stop(STOP_GRACE)  # whatever else hangs (a database that never answers), it ends within this
        stop.set()
        uninstall()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, first, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not on this platform, or not the main thread
            pass
    # However the stop came (end of input too), the next signal quits at once.
    stopping = asyncio.ensure_future(stop.wait())
    stopping.add_done_callback(lambda _: uninstall())
    try:
        yield
    finally:
        stopping.cancel()
        uninstall()


@contextmanager
def _startup_errors(platform: str) -> Iterator[None]:
    """Turn whatever stops *platform* from starting into one line for the user; the traceback goes to the log."""
    try:
        yield
    except (SettingsError, StartupError):
        raise
    except PlatformSetupError as error:  # the platform's own refusal, meant for users
        raise StartupError(str(error)) from None
    except Exception as error:
        log.debug("%s could not start", platform, exc_info=True)
        raise StartupError(f"could not start {platform}: {_describe(error)}; {_DETAILS}") from None


async def _stop_adapter(adapter: Adapter) -> None:
    try:
        await adapter.stop()
    except Exception:  # stopping anyway: a failure here is only worth a log line
        log.warning("stopping %s failed", adapter.platform, exc_info=True)


def entry() -> None:
    """The `paperboy` program: `main`, then exit, not held up by threads stuck in a call that never
    returns (a DNS look-up; see `bot.runtime.runner`). Apart from `main`, so a caller in-process is never ended."""
    sys.exit(exit_now_if_stuck(main()))


if __name__ == "__main__":
    entry()
