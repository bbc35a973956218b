"""The fake Slack's Socket Mode server: envelopes pushed to the app and the app's acknowledgements."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.slack.records import APP_ID, SocketEnvelope


class SocketModeMixin:
    """FakeSlack's Socket Mode (its state is set up in FakeSlack.__post_init__)."""

    async def wait_for_socket(self, timeout: float = 10.0) -> None:
        """Wait until an app has connected to the Socket Mode endpoint."""
        await asyncio.wait_for(self._socket_connected.wait(), timeout)

    async def push_envelope(self, envelope_type: str, payload: dict[str, Any], *,
                            accepts_response_payload: bool = True) -> str:
        """Send one Socket Mode envelope to the connected app; return its ``envelope_id``."""
        envelope_id = f"env-{next(self._ts)}"
        message = {"type": envelope_type, "envelope_id": envelope_id, "payload": payload,
                   "accepts_response_payload": accepts_response_payload, "retry_attempt": 0,
                   "retry_reason": ""}
        await self._sockets[-1].send_str(json.dumps(message))
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, *, timeout: float = 10.0) -> SocketEnvelope:
        """Wait for the app's acknowledgement of *envelope_id*."""
        def found() -> SocketEnvelope | None:
            return next((ack for ack in self.socket_acks if ack.envelope_id == envelope_id), None)

        async with self._new_ack:
            await asyncio.wait_for(self._new_ack.wait_for(lambda: found() is not None), timeout)
        ack = found()
        assert ack is not None
        return ack

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": APP_ID}}))
        self._socket_connected.set()
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            async with self._new_ack:
                self.socket_acks.append(SocketEnvelope(data.get("envelope_id", ""), data.get("payload")))
                self._new_ack.notify_all()
        self._sockets.remove(ws)
        return ws
