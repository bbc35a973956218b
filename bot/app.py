"""Wiring: build the core from settings, and run the poller on its interval."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import AsyncIterator, Callable

from bot.engine import Engine, utcnow
from bot.poller import Poller
from bot.settings import Settings
from bot.sources import ArxivClient, HuggingFaceClient
from storage import Store

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
    store = await Store.open(settings.database)
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


async def run_poller(core: Core, *, stop: asyncio.Event) -> None:
    """Poll every interval, and deliver continuously, until *stop* is set.

    A failed cycle is logged, never fatal. Delivery runs beside polling, so retries
    and paced sends go on between polls.
    """
    delivering = asyncio.create_task(core.poller.worker.run(stop))
    try:
        await _poll_forever(core, stop=stop)
    finally:
        stop.set()
        await delivering


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
