"""What the fake Slack records and the small helpers its handlers share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

BOT_USER_ID = "UPAPERBOY"
BOT_ID = "BPAPERBOY"
APP_ID = "APAPERBOY"


@dataclass
class ApiCall:
    """One Web API call as the fake received it."""

    method: str
    token: str | None
    params: dict[str, Any]


@dataclass
class Failure:
    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    times: int = 1
    body: str | None = None
    """Answered as is instead of Slack's JSON (a proxy's page), with ``content_type``."""
    content_type: str = "application/json"


@dataclass
class UploadedFile:
    """One file shared through ``files.completeUploadExternal``, as the fake keeps it."""

    id: str
    filename: str
    content: bytes
    channel_id: str | None
    title: str | None
    initial_comment: str | None
    team: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")


@dataclass
class SocketEnvelope:
    """What the app answered on the Socket Mode connection for one envelope."""

    envelope_id: str
    payload: dict[str, Any] | None = None


def _manifest_bot_scopes() -> list[str]:
    """The bot scopes of the app's manifest: what a workspace grants when it installs the app."""
    from adapters.slack.oauth import manifest

    return manifest()["oauth_config"]["scopes"]["bot"]


def _is_reply(message: dict[str, Any]) -> bool:
    """Say whether *message* is a reply in a thread (not the thread's parent, nor a plain post)."""
    return message.get("thread_ts", message["ts"]) != message["ts"]


def _after(message: dict[str, Any], oldest: Any) -> bool:
    """Say whether *message* is newer than *oldest* (a ``ts``; None or empty: any message is)."""
    return not oldest or float(message["ts"]) > float(str(oldest))


def _without_metadata(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key != "metadata"}


def _truthy(value: Any) -> bool:
    # slack_sdk sends booleans in query strings as "1"/"0"; JSON bodies keep true/false.
    return value is True or str(value).lower() in ("1", "true")


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return await request.json()
    form = await request.post()
    params: dict[str, Any] = dict(request.query)
    for key, value in form.items():
        params[key] = value if isinstance(value, str) else value.file.read().decode()
    for key in ("blocks", "metadata"):  # slack_sdk sends these JSON-encoded inside forms
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params
