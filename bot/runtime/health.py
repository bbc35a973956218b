"""``GET /healthz`` and ``GET /metrics``: whether Paperboy works, for a container runtime and for Prometheus.

`Health` holds the two handlers; `serve_health` puts them on PAPERBOY_HEALTH_PORT, and the
Slack adapter in HTTP mode puts the same `routes` on its own port. ``/healthz`` answers
200 while the database answers ("degraded", with the reasons, when Paperboy runs but
something needs a look) and 503 when it does not: then nothing can be sent or recorded.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.delivery.feed_server import FeedServer
from bot.runtime.redaction import RedactingFilter
from bot.runtime.settings import StartupError

if TYPE_CHECKING:
    from bot.runtime.app import Core

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 5.0
"""Seconds the database gets to answer a health check before it counts as not answering."""
STALE_POLLS = 3
"""The last successful poll is stale once it is this many poll intervals old."""
FEED_PORT = 8080
"""The port of the HTTP server when PAPERBOY_FEED_URL turns it on and PAPERBOY_HEALTH_PORT is unset."""


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a health check reads from the database."""

    last_ok_at: str | None
    outbox_pending: int
    paused: int
    trouble: str | None


class Health:
    """The health and metrics handlers of one core; platforms are read from the running adapters."""

    def __init__(self, core: Core, *, timeout: float = CHECK_TIMEOUT) -> None:
        self.core = core
        self.timeout = timeout
        self._redaction = RedactingFilter.for_settings(core.settings)

    def routes(self) -> list[web.RouteDef]:
        """``/healthz``, ``/metrics``, and the Atom feeds when PAPERBOY_FEED_URL turns them on."""
        feeds = FeedServer(self.core.engine.feeds).routes() if self.core.engine.feeds.links else []
        return [web.get("/healthz", self.healthz), web.get("/metrics", self.metrics), *feeds]

    async def healthz(self, request: web.Request) -> web.Response:
        status, body = await self.check()
        return web.json_response(body, status=status)

    async def metrics(self, request: web.Request) -> web.Response:
        try:
            facts = await self._read()
        except Exception as error:  # the counters are still worth serving; the gauges keep their last value
            log.debug("metrics: cannot read the database: %s", error)
        else:
            self.core.metrics.outbox_pending.set(facts.outbox_pending)
            self.core.metrics.channels_paused.set(facts.paused)
        return web.Response(body=self.core.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def check(self) -> tuple[int, dict[str, Any]]:
        """Return the HTTP status and the JSON body of ``/healthz``."""
        platforms = self._platforms()
        try:
            facts = await self._read()
        except Exception as error:
            reason = "the database does not answer: " + self._describe(error)
            return 503, {"status": "down", "reasons": [reason], "platforms": platforms}
        reasons = self._poll_reasons(facts.last_ok_at)
        reasons += [f"{name} is disconnected" for name, state in platforms.items() if state != "connected"]
        if facts.paused:
            reasons.append(f"{facts.paused} channel{'s' if facts.paused != 1 else ''} paused")
        if facts.trouble:
            reasons.append(f"database: {facts.trouble}")
        return 200, {"status": "degraded" if reasons else "ok", "reasons": reasons,
                     "last_poll_ok_at": facts.last_ok_at, "outbox_pending": facts.outbox_pending,
                     "channels_paused": facts.paused, "platforms": platforms}

    async def _read(self) -> _Facts:
        """Read what `status` shows, within `timeout` (a closed or hung database never answers)."""
        store = self.core.store

        async def read() -> _Facts:
            await store.check_alive()
            counts = await store.outbox_counts(states=("pending", "sending"))  # not sent: the bulk
            return _Facts(await store.get_state("poll.last_ok_at"), counts.get("pending", 0) + counts.get("sending", 0),
                          len(await store.paused_channels()), store.trouble)

        return await asyncio.wait_for(read(), self.timeout)

    def _poll_reasons(self, last_ok_at: str | None) -> list[str]:
        if not last_ok_at:
            return ["no successful poll yet"]
        interval = self.core.settings.poll_interval
        age = self.core.poller.clock() - datetime.fromisoformat(last_ok_at)
        if age > timedelta(seconds=STALE_POLLS * interval):
            return [f"the last successful poll was {int(age.total_seconds())} s ago "
                    f"(more than {STALE_POLLS} poll intervals of {interval:g} s)"]
        return []

    def _platforms(self) -> dict[str, str]:
        # An adapter without `connected` (the console) is connected while it runs.
        return {name: "connected" if getattr(adapter, "connected", True) else "disconnected"
                for name, adapter in self.core.platforms.items()}

    def _describe(self, error: BaseException) -> str:
        if isinstance(error, asyncio.TimeoutError):
            return f"no answer within {self.timeout:g} s"
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return self._redaction.redact(text)  # a database URL in an error may carry a password


class HealthServer:
    """``/healthz`` and ``/metrics`` listening on their own port, from `serve_health` until `stop`."""

    def __init__(self, runner: web.AppRunner) -> None:
        self._runner = runner
        self.port: int = runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()


async def serve_health(core: Core, *, host: str = "0.0.0.0", port: int | None = None) -> HealthServer:
    """Listen on *port* (PAPERBOY_HEALTH_PORT, else `FEED_PORT`, unless given; 0 picks a free one);
    `StartupError` when it cannot."""
    port = (core.settings.health_port or FEED_PORT) if port is None else port
    application = web.Application()
    application.add_routes(Health(core).routes())
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        await runner.cleanup()
        if error.errno == errno.EADDRINUSE:
            raise StartupError(f"PAPERBOY_HEALTH_PORT {port} is already in use by another program; "
                               "stop that program, or set PAPERBOY_HEALTH_PORT to a free port") from None
        raise StartupError(f"cannot listen on {host}:{port} for PAPERBOY_HEALTH_PORT ({error.strerror or error}); "
                           "set it to another port") from None
    server = HealthServer(runner)
    feeds = " and the feeds (/feeds)" if core.engine.feeds.links else ""
    log.info("health: serving /healthz and /metrics%s on %s:%s", feeds, host, server.port)
    return server
