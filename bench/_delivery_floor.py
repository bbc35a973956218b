"""The delivery benchmark's floor on Slack: what posting the very same messages costs with the HTTP client alone.

After a run, the fake's log holds every ``chat.postMessage`` the bot made: its token and its body.
A child process replays them with what the adapter sends through (slack_sdk's `AsyncWebClient` per
token, on the adapter's shared aiohttp session, each answer decoded and checked), to a
fresh fake that enforces no limit, all at once, and nothing else: no database, no rendering, no pacing.
Its CPU per message is the part of the bot's that comes with the HTTP client, measured in the same run;
the bot's own part is the rest.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

WARM_UP = 64
"""Messages sent before the clock starts, so the connections are open as they are for most of a bot's run."""


def recorded_posts(fake: Any) -> list[tuple[str, str]]:
    """Every ``chat.postMessage`` the fake accepted or refused, as (token, JSON body), in arrival order."""
    return [(call.token or "", json.dumps(call.params, separators=(",", ":")))
            for call in fake.calls if call.method == "chat.postMessage"]


def floor_fake(tokens: dict[str, str]) -> Any:
    """A fresh fake Slack with the same workspaces and no rate limit (the floor measures the client, not the pacing)."""
    from tests.fakes.slack_server import FakeSlack

    return FakeSlack(tokens=tokens, channel_limit=None, workspace_limit=None)


async def replay(posts_file: Path, api_url: str) -> dict[str, float]:
    """Post every recorded body through slack_sdk, then through aiohttp alone, all at once each time.

    Returns the loop's CPU and the wall time of each; aiohttp's run says what slack_sdk adds.
    """
    from adapters.slack.clients import shared_session
    from adapters.slack.web import JSON_TYPE, attempt, web_client

    posts: list[tuple[str, str]] = json.loads(posts_file.read_text())
    clients: dict[str, Any] = {}
    for token, _ in posts:
        if token not in clients:
            clients[token] = web_client(token, api_url)
    session = shared_session(next(iter(clients.values())).timeout)  # the adapter's own session
    for client in clients.values():
        client.session = session
    bodies = [(clients[token], body.encode()) for token, body in posts]

    async def post(client: Any, body: bytes) -> bool:
        answer = await attempt(client.api_call, {"api_method": "chat.postMessage", "data": body,
                                                 "headers": {"Content-Type": JSON_TYPE}})
        return getattr(answer, "data", {}).get("ok") is True

    async def bare(client: Any, body: bytes) -> bool:
        headers = {"Content-Type": JSON_TYPE, "Authorization": f"Bearer {client.token}"}
        async with session.post(f"{api_url}chat.postMessage", data=body, headers=headers) as response:
            return (await response.json()).get("ok") is True

    try:
        warm_up = min(WARM_UP, len(bodies) // 2)  # a small run keeps half its bodies to measure
        figures: dict[str, float] = {"messages": len(bodies) - warm_up}
        for name, send in (("", post), ("aiohttp_", bare)):
            await asyncio.gather(*(send(c, b) for c, b in bodies[:warm_up]))
            cpu, started = time.thread_time(), time.monotonic()
            answers = await asyncio.gather(*(send(c, b) for c, b in bodies[warm_up:]))
            figures.update({f"{name}cpu": time.thread_time() - cpu, f"{name}wall": time.monotonic() - started,
                            f"{name}ok": sum(answers)})
    finally:
        await session.close()
    return figures


def floor_line(platform: str, run: str, floor: dict[str, float] | None, bot_ms: float) -> str:
    """One line: the floor's CPU per message, and the bot's against it (the ratio, and the difference)."""
    if not floor or not floor["messages"]:
        return f"  {platform} {run}: no floor (only Slack's is measured)"
    floor_ms = 1000 * floor["cpu"] / floor["messages"]
    bare_ms = 1000 * floor["aiohttp_cpu"] / floor["messages"]
    failed = 2 * floor["messages"] - floor["ok"] - floor["aiohttp_ok"]
    return (f"  {platform} {run}: floor {floor_ms:.2f} ms/msg (slack_sdk and aiohttp posting the same "
            f"{floor['messages']:.0f} bodies, nothing else; aiohttp alone {bare_ms:.2f} ms/msg"
            f"{f'; {failed:.0f} not ok' if failed else ''}); the bot {bot_ms:.2f} ms/msg = "
            f"{bot_ms / floor_ms:.2f}x the floor, {bot_ms - floor_ms:.2f} ms/msg its own")
