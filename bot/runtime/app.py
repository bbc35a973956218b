"""Wiring: build the core from settings, and run the poller on its interval."""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import AsyncIterator, Awaitable, Callable

from bot.model.actions import Action
from bot.sources.arxiv_feeds import READ_BUDGET, CategoryFeeds
from bot.ranking.channel_interest import Interest
from bot.model.channels import Command
from bot.ports.adapter import CommandEngine
from bot.commands.engine import Engine, utcnow
from bot.commands.feeds import FeedLinks
from bot.runtime.metrics import Metrics
from bot.ports.platforms import Platforms
from bot.delivery.poller import Poller
from bot.model.replies import Error, Reply
from bot.runtime.settings import Settings, StartupError, check_database
from bot.sources import ArxivClient, HuggingFaceClient
from bot.sources.lookups import Lookups
from bot.ports.store import Store, describe_database, open_store
from bot.ports.store_errors import (
    CorruptDatabase, DatabaseInUse, DatabaseUnreachable, ReadOnlyDatabase, SchemaTooNewError, StorageLost,
    StorageUnavailable, UnusableDatabase,
)
from bot.delivery.worker import STOP_GRACE, finish_within

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
    metrics: Metrics = field(default_factory=Metrics)
    platforms: Platforms = field(default_factory=Platforms)
    """The running adapters, the same registry the engine and the poller's worker were given."""


@asynccontextmanager
async def open_core(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> AsyncIterator[Core]:
    """Open the database and the source clients; close them all on exit."""
    clock = clock or utcnow
    store = await open_database(settings)
    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    hf = HuggingFaceClient(base_url=settings.hf_api_url, token=token, timeout=settings.http_timeout,
                           backoff=settings.http_backoff)
    arxiv = ArxivClient(base_url=settings.arxiv_api_url, timeout=settings.http_timeout)
    # One arXiv client for look-ups and category reads, so arXiv's one-request-per-3-s holds across both.
    feeds = CategoryFeeds(store=store, arxiv=arxiv, interval=settings.arxiv_interval,
                          budget=min(READ_BUDGET, settings.poll_timeout / 3))  # well inside the watchdog
    metrics = Metrics()  # one set of counters for the poller, the worker and the engine: what /metrics serves
    # One bounded cache of channels' interest models, for commands, picks and digests alike.
    interest = Interest(store=store, clock=clock)
    platforms = Platforms()  # filled as the adapters start
    poller = Poller(store=store, hf=hf, adapters=platforms, clock=clock, max_posts_per_hour=settings.max_posts_per_hour,
                    update_posts=settings.update_posts, feeds=feeds, metrics=metrics, interest=interest)
    # The engine sees the running adapters only for what they can show, and wakes delivery for 👍 edits.
    # One look-up service for every command: the sources within the answer deadline, one request per key in flight.
    lookups = Lookups(store=store, hf=hf, arxiv=arxiv, clock=clock, answer_timeout=settings.answer_timeout)
    engine = Engine(store=store, lookups=lookups, clock=clock,
                    platforms=platforms, on_queued=poller.worker.wake, metrics=metrics, interest=interest,
                    feed_links=FeedLinks.from_settings(settings))
    try:
        yield Core(settings, store, hf, arxiv, engine, poller, metrics, platforms)
    finally:
        await hf.aclose()
        await arxiv.aclose()
        await store.close()


async def open_database(settings: Settings, *, exclusive: bool = True, apply_migrations: bool = True,
                        setting: str = "PAPERBOY_DATABASE") -> Store:
    """Open the database, or raise `StartupError` in one line naming *setting* (where it came from) and the fix.

    `paperboy doctor` opens it shared (a running Paperboy may own the file) and without migrating.
    """
    database = os.fspath(settings.database)  # model_copy(update=…) may have put a Path there
    check_database(database)
    where = f"{setting}={describe_database(database)}"
    try:
        return await open_store(database, exclusive=exclusive, apply_migrations=apply_migrations,
                                claim_lease=settings.claim_lease)
    except (SchemaTooNewError, DatabaseInUse) as error:
        raise StartupError(f"{where}: {error}") from None
    except CorruptDatabase as error:
        raise StartupError(f"the database {where} cannot be used: {error}; restore a backup, or point "
                           f"{setting} at a new file (Paperboy creates it)") from None
    except ReadOnlyDatabase as error:
        raise StartupError(f"the database {where} is read-only ({error}); make the file and its folder "
                           f"writable, or point {setting} at another file") from None
    except DatabaseUnreachable as error:
        raise StartupError(f"cannot use the database {where}: {error}; start Postgres or correct the URL "
                           "(postgresql://user:password@host:5432/dbname, or ?host=/socket/dir)") from None
    except UnusableDatabase as error:
        raise StartupError(f"cannot use the database {where} now: {error}; fix that and start Paperboy "
                           "again") from None
    except OSError as error:
        raise StartupError(f"cannot open the database {where} ({error}); "
                           f"restore a backup, or point {setting} at a new file") from None


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

    async def act(self, action: Action) -> Reply:
        if self.closed:
            return Reply(Error("Paperboy is shutting down; try again in a minute."), private=True)
        return await self._engine.act(action)

    def __getattr__(self, name: str) -> object:
        return getattr(self._engine, name)  # everything else (autocomplete) goes straight through


async def run_poller(core: Core, *, stop: asyncio.Event, grace: float = STOP_GRACE) -> None:
    """Poll every interval, and deliver continuously, until *stop* is set.

    A failed cycle is logged, never fatal; a lost database (`StorageLost`) stops both. Delivery runs beside polling, so retries
    and paced sends go on between polls. Once *stop* is set, nothing new is claimed and the
    sends in flight get *grace* seconds to finish. A poll cycle still running is stopped at once:
    it only reads the sources and queues what matched, so nothing is lost, and a slow source
    never holds up quitting.
    """
    delivering = asyncio.create_task(core.poller.worker.run(stop, grace=grace))
    polling = asyncio.create_task(_poll_forever(core, stop=stop))
    try:
        await asyncio.wait({delivering, polling}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        if not await finish_within(polling, POLL_STOP):
            log.info("stopped the poll cycle that was running; the next start polls again")
        await asyncio.gather(delivering, return_exceptions=True)
    for task in (polling, delivering):
        if not task.cancelled() and isinstance(task.exception(), StorageLost):
            log.critical("stopping: %s", task.exception())
    if not polling.cancelled():
        polling.result()  # a poller that died is an error worth reporting, not a quiet stop
    delivering.result()


POLL_STOP = 0.2
"""Seconds a stopping poll loop gets to end by itself (an idle one does at once) before it is cancelled."""
STORAGE_BACKOFF = (5.0, 300.0)
"""Seconds between tries while the database refuses writes: the first wait, and the most."""
ALIVE_CHECK = 5.0
"""How often, between polls, the database file is checked for being deleted or replaced."""


async def _poll_forever(core: Core, *, stop: asyncio.Event) -> None:
    """Poll every interval. A failed cycle is logged, and a database refusing writes is retried with
    backoff; only a lost database (`StorageLost`) ends the loop, since writing on would lose everything."""
    interval, backoff = core.settings.poll_interval, STORAGE_BACKOFF[0]
    led = False
    failing_since: datetime | None = None
    while not stop.is_set():
        try:
            await core.store.check_alive()  # in here: a database server restarting is waited out like the rest
            # With several processes on one database, one polls; the others deliver and answer, and
            # try again each interval, so a dead poller is replaced within one interval.
            if not await core.store.try_lead("poll"):
                if led:
                    log.warning("poll: another Paperboy process polls now")
                led = False
                await _wait_watching(core, stop, interval)
                continue
            led = True
            await _poll_cycle(core)
            await core.store.set_state("poll.next_at", (utcnow() + timedelta(seconds=interval)).isoformat())
            wait, backoff, failing_since = interval, STORAGE_BACKOFF[0], None
        except StorageUnavailable as error:
            failing_since = failing_since or core.store.trouble_since or utcnow()
            wait, backoff = min(backoff, interval), min(backoff * 2, STORAGE_BACKOFF[1])
            log.warning("poll: the database refuses writes (%s); trying again in %g s", error, wait)
            # For `status`: the store's own note of the fault ends with the next write that fits (a full disk
            # still takes small ones), so the poll keeps its own until a cycle gets through.
            await _quietly(_record_poll_error(f"the database refuses writes ({error}) since "
                                              f"{_clock_time(failing_since)}; new papers wait for it", core))
            await _quietly(core.store.set_state("poll.next_at", (utcnow() + timedelta(seconds=wait)).isoformat()))
        await _wait_watching(core, stop, wait)
    if led:
        await _quietly(core.store.set_state("poll.next_at", None))


async def _poll_cycle(core: Core) -> None:
    """One poll under the watchdog; its failure is recorded for `status`, a storage fault goes up."""
    timeout = core.settings.poll_timeout
    await core.store.set_state("poll.started_at", utcnow().isoformat())
    try:
        report = await asyncio.wait_for(core.poller.poll_once(deliver=False), timeout)
        for error in report.errors:
            log.warning("poll: %s", error)
    except (StorageUnavailable, StorageLost):
        raise
    except asyncio.TimeoutError:
        core.metrics.poll_errors.inc()
        log.error("poll: the cycle was still running after %.0f s and was stopped (PAPERBOY_POLL_TIMEOUT)", timeout)
        await _record_poll_error(f"the poll was still running after {timeout:.0f} s and was stopped; "
                                 "a paper source may be answering very slowly", core)
    except Exception:
        core.metrics.poll_errors.inc()
        log.exception("poll cycle failed")
        await _record_poll_error("the poll cycle failed; see the log", core)
    finally:
        await _quietly(core.store.set_state("poll.started_at", None))


async def _record_poll_error(text: str, core: Core) -> None:
    await core.store.set_state("poll.last_error", text)
    await core.store.set_state("poll.last_error_at", utcnow().isoformat())


def _clock_time(at: datetime) -> str:
    return at.strftime("%H:%M UTC" if at.date() == utcnow().date() else "%Y-%m-%d %H:%M UTC")


async def _quietly(write: Awaitable[None]) -> None:
    """Run a bookkeeping write that may fail while the database refuses writes; the fault is reported elsewhere."""
    try:
        await write
    except StorageUnavailable:
        pass


async def _wait_watching(core: Core, stop: asyncio.Event, seconds: float) -> None:
    """Wait *seconds* or until *stop*, checking now and then that the database file is still ours."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not stop.is_set():
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return
        try:
            await asyncio.wait_for(stop.wait(), timeout=min(left, ALIVE_CHECK))
        except asyncio.TimeoutError:
            try:
                await core.store.check_alive()
            except StorageUnavailable:  # the store notes it for `status`; only a lost file ends the wait
                pass
