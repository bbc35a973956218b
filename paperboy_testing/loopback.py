"""What every fake source server shares: listening on 127.0.0.1, stopping at once, `async with`."""

from __future__ import annotations

import asyncio
from typing import Self

from aiohttp import web


class LoopbackServer:
    """An aiohttp app on 127.0.0.1; subclasses add their routes in `routes`."""

    def __init__(self) -> None:
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        """Set on `stop`: answers told to hang are released at once."""

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self, *, port: int = 0) -> str:
        """Listen on 127.0.0.1 (a free port unless *port* is given) and return the base URL."""
        self._closing = asyncio.Event()
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        host, bound = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        """Stop listening; hanging answers are released at once."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
