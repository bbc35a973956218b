"""Wiring: build the core from settings, and run the poller on its interval."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import AsyncIterator, Callable

from bot.channels import Command
from bot.delivery import CommandEngine
from bot.engine import Engine, utcnow
from bot.poller import Poller
from bot.replies import Error, Reply
from bot.settings import Settings, StartupError, check_database
from bot.sources import ArxivClient, HuggingFaceClient
from bot.worker import STOP_GRACE, finish_within
from storage import SchemaTooNewError, Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Core:
    """Everything platform-agnostic, built once per process."""

    settings: Settings
    store: Store
    hf: HuggingFaceClient
    arxiv: ArxivClient
    engine: Engine
    poller: Poller


@asynccontextmanager
async def open_core(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> AsyncIterator[Core]:
    """Open the database and the source clients; close them all on exit."""
    clock = clock or utcnow
    store = await _open_store(settings)
    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    hf = HuggingFaceClient(base_url=settings.hf_api_url, token=token, timeout=settings.http_timeout)
    arxiv = ArxivClient(base_url=settings.arxiv_api_url, timeout=settings.http_timeout)
    engine = Engine(store=store, hf=hf, arxiv=arxiv, clock=clock, answer_timeout=settings.answer_timeout)
    poller = Poller(store=store, hf=hf, clock=clock, max_posts_per_hour=settings.max_posts_per_hour,
                    update_posts=settings.update_posts)
    try:
        yield Core(settings, store, hf, arxiv, engine, poller)
    finally:
        await hf.aclose()
        await arxiv.aclose()
        await store.close()


async def _open_store(settings: Settings) -> Store:
    check_database(settings.database)
    try:
        return await Store.open(settings.database)
    except SchemaTooNewError as error:
        raise StartupError(f"PAPERBOY_DATABASE={settings.database}: {error}") from None
    except (sqlite3.Error, OSError) as error:
        raise StartupError(f"cannot open the database PAPERBOY_DATABASE={settings.database} ({error}); "
                           "restore a backup, or point PAPERBOY_DATABASE at a new file") from None


class CommandGate:
    """The engine as the adapters see it, with a door that `close` shuts when Paperboy stops.

    Commands that arrive while sends in flight finish are turned away, not half-run.
    """

    def __init__(self, engine: CommandEngine) -> None:
        self._engine = engine
        self.closed = False

    def close(self) -> None:
        self.closed = True

    async def handle(self, command: Command) -> Reply:
        if self.closed:
            return Reply(Error("Paperboy is shutting down; try again in a minute."), private=True)
        return await self._engine.handle(command)

    def __getattr__(self, name: str) -> object:
        return getattr(self._engine, name)  # everything else (autocomplete) goes straight through


async def run_poller(core: Core, *, stop: asyncio.Event, grace: float = STOP_GRACE) -> None:
    """Poll every interval, and deliver continuously, until *stop* is set.

    A failed cycle is logged, never fatal. Delivery runs beside polling, so retries
    and paced sends go on between polls. Once *stop* is set, nothing new is claimed;
    a poll cycle and the sends in flight get *grace* seconds to finish, side by side.
    """
    delivering = asyncio.create_task(core.poller.worker.run(stop, grace=grace))
    polling = asyncio.create_task(_poll_forever(core, stop=stop))
    try:
        await asyncio.wait({delivering, polling}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        if not await finish_within(polling, grace):
            log.warning("stopped a poll cycle that was still running after %.0f s", grace)
        await delivering
    if not polling.cancelled():
        polling.result()  # a poller that died is an error worth reporting, not a quiet stop


async def _poll_forever(core: Core, *, stop: asyncio.Event) -> None:
    interval = core.settings.poll_interval
    while not stop.is_set():
        try:
            report = await core.poller.poll_once(deliver=False)
            for error in report.errors:
                log.warning("poll: %s", error)
        except Exception:
            log.exception("poll cycle failed")
            await core.store.set_state("poll.last_error", "the poll cycle failed; see the log")
            await core.store.set_state("poll.last_error_at", utcnow().isoformat())
        await core.store.set_state("poll.next_at", (utcnow() + timedelta(seconds=interval)).isoformat())
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except asyncio.TimeoutError:
            pass
    await core.store.set_state("poll.next_at", None)
