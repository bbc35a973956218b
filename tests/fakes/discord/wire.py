"""What the fake Discord checks and records: message limits, mentions, rate windows, requests, interactions."""

from __future__ import annotations

import collections
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEADLINE = 3.0
"""Seconds Discord gives a bot to answer an interaction for the first time."""

MANAGE_CHANNELS = 1 << 4
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16)  # view, send, embed links, history
ADMIN_PERMISSIONS = MEMBER_PERMISSIONS | MANAGE_CHANNELS

_BODY = web.RequestKey("body", object)
_FILES = web.RequestKey("files", list)
THREAD_EXISTS = 160004
_PAPER_URL = re.compile(r"^https?://(?:huggingface\.co/papers|arxiv\.org/abs)/([^\s?#()]+?)/?$", re.IGNORECASE)
_LINK_TARGET = re.compile(r"(?<!\\)\]\((https?://[^\s()]+)\)")
# Real Discord exempts interaction responses and webhooks from the global limit.
_GLOBAL_EXEMPT = ("/interactions/", "/webhooks/")
_snowflakes = itertools.count(1_200_000_000_000_000_000)


def snowflake() -> str:
    """Return a fresh id, as a string like Discord's."""
    return str(next(_snowflakes))


def discord_limit_errors(payload: dict[str, Any]) -> list[str]:
    """Return how *payload* (a message body) breaks Discord's limits; empty when it fits."""
    errors = []
    content = payload.get("content") or ""
    if len(content) > 2000:
        errors.append(f"content: {len(content)} > 2000")
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        errors.append(f"embeds: {len(embeds)} > 10")
    total = 0
    for number, embed in enumerate(embeds):
        checks = [
            ("title", embed.get("title") or "", 256),
            ("description", embed.get("description") or "", 4096),
            ("footer.text", (embed.get("footer") or {}).get("text") or "", 2048),
            ("author.name", (embed.get("author") or {}).get("name") or "", 256),
        ]
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.append(f"embeds.{number}.fields: {len(fields)} > 25")
        for index, fld in enumerate(fields):
            checks.append((f"fields.{index}.name", fld.get("name") or "", 256))
            checks.append((f"fields.{index}.value", fld.get("value") or "", 1024))
            if not fld.get("name") or not fld.get("value"):
                errors.append(f"embeds.{number}.fields.{index}: empty name or value")
        for name, value, limit in checks:
            total += len(value)
            if len(value) > limit:
                errors.append(f"embeds.{number}.{name}: {len(value)} > {limit}")
    if total > 6000:
        errors.append(f"embeds: {total} characters > 6000")
    errors += component_errors(payload.get("components") or [])
    if not content and not embeds and "content" in payload and "embeds" in payload:
        errors.append("cannot send an empty message")
    return errors


def component_errors(rows: list[dict[str, Any]]) -> list[str]:
    """Return how *rows* (a message's action rows) break Discord's component limits."""
    errors = []
    if len(rows) > 5:
        errors.append(f"components: {len(rows)} rows > 5")
    custom_ids: list[str] = []
    for number, row in enumerate(rows):
        children = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(children) <= 5:
            errors.append(f"components.{number}: an action row holds 1 to 5 components")
        for index, button in enumerate(children):
            where = f"components.{number}.{index}"
            label = button.get("label") or ""
            if len(label) > 80:
                errors.append(f"{where}.label: {len(label)} > 80")
            if button.get("style") == 5:
                if not str(button.get("url") or "").startswith(("http://", "https://")) or "custom_id" in button:
                    errors.append(f"{where}: a link button has an http(s) url and no custom_id")
                continue
            custom_id = button.get("custom_id") or ""
            if not 1 <= len(custom_id) <= 100:
                errors.append(f"{where}.custom_id: {len(custom_id)} characters, not 1 to 100")
            custom_ids.append(custom_id)
    if len(custom_ids) != len(set(custom_ids)):
        errors.append("components: custom ids must be unique within a message")
    return errors


def pings(body: dict[str, Any]) -> set[str]:
    """Return whom a message body would notify: ``everyone``, ``role:<id>``, ``user:<id>``.

    As Discord does: only mentions in the content count (never embeds), filtered by
    ``allowed_mentions`` (absent: everything in the content pings).
    """
    content = body.get("content") or ""
    allowed = body.get("allowed_mentions")
    parse = set(allowed.get("parse") or []) if allowed is not None else {"everyone", "roles", "users"}
    roles = {str(r) for r in (allowed or {}).get("roles") or []}
    users = {str(u) for u in (allowed or {}).get("users") or []}
    found = set()
    if "everyone" in parse and re.search(r"@(everyone|here)", content):
        found.add("everyone")
    for role in re.findall(r"<@&([0-9]+)>", content):
        if "roles" in parse or role in roles:
            found.add(f"role:{role}")
    for user in re.findall(r"<@!?([0-9]+)>", content):
        if "users" in parse or user in users:
            found.add(f"user:{user}")
    return found


def paper_ids_in(message: dict[str, Any]) -> list[str]:
    """Return the ids of the papers a message body shows: its embeds' URLs and list-line links."""
    ids: list[str] = []
    for embed in message.get("embeds") or []:
        urls = [embed["url"]] if embed.get("url") else []
        urls += _LINK_TARGET.findall(embed.get("description") or "")
        for url in urls:
            match = _PAPER_URL.match(url)
            if match and match.group(1) not in ids:
                ids.append(match.group(1))
    return ids


class SlidingWindow:
    """At most ``count`` accepted requests in any ``per`` seconds."""

    def __init__(self, count: int, per: float) -> None:
        self.count, self.per = count, per
        self.accepted: collections.deque[float] = collections.deque()

    def admit(self, now: float) -> float:
        """Record a request at *now* and return 0, or return the seconds until one would fit."""
        while self.accepted and self.accepted[0] <= now - self.per:
            self.accepted.popleft()
        if len(self.accepted) < self.count:
            self.accepted.append(now)
            return 0.0
        # Rounded up to the millisecond, like Discord, so a client that sleeps exactly this long fits.
        return math.ceil((self.accepted[0] + self.per - now) * 1000) / 1000


async def _read_multipart(request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
    """Read a multipart body as Discord does: ``payload_json`` is the JSON body, ``files[n]`` the attachments."""
    form = await request.post()
    files = [(part.filename, part.file.read()) for key, part in form.items()
             if key.startswith("files[") and isinstance(part, web.FileField)]
    payload = form.get("payload_json")
    return (json.loads(payload) if isinstance(payload, (str, bytes, bytearray)) else None), files


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly application/json (no charset).
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status=status)


def _too_many(retry_after: float, *, is_global: bool) -> web.Response:
    # discord.py retries a 429 only when it carries Via (else it assumes a Cloudflare ban).
    headers = {"Via": "1.1 google", "Retry-After": str(math.ceil(retry_after)),
               "X-RateLimit-Scope": "global" if is_global else "user"}
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return _json({"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global,
                  "code": 0}, status=429, headers=headers)


@dataclass
class RawAnswer:
    """A body answered as is, instead of Discord's JSON: what a proxy in front of Discord says."""

    body: str
    status: int
    content_type: str
    times: int

    def response(self) -> web.Response:
        # The Content-Type is set exactly: "application/json" with a body that is not JSON is a case too.
        return web.Response(body=self.body.encode(), status=self.status, headers={"Content-Type": self.content_type})


@dataclass
class Request:
    """One request the bot made: method, path (without the API prefix), query, JSON body, time."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float
    status: int = 200
    files: list[tuple[str, bytes]] = field(default_factory=list)
    """The attachments of a multipart body: (file name, bytes)."""


@dataclass
class Interaction:
    """An interaction the fake sent, and everything the bot did about it."""

    id: str
    token: str
    created: float
    payload: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    callback_times: list[float] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    deleted_original: bool = False
    rejected: list[str] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    """Every attachment the bot sent the user in answer: (file name, bytes)."""

    @property
    def first_response_delay(self) -> float | None:
        return self.callback_times[0] - self.created if self.callback_times else None

    @property
    def deferred(self) -> bool:
        return any(c["type"] == 5 for c in self.callbacks)

    @property
    def done(self) -> bool:
        """True once the user can see an answer (a message, an edit or a follow-up)."""
        answered = any(c["type"] == 4 for c in self.callbacks) or self.edits or self.followups
        return bool(answered) or any(c["type"] == 8 for c in self.callbacks) or bool(self.rejected)

    def messages(self) -> list[dict[str, Any]]:
        """Return every message body the user was shown, in order."""
        shown = [c.get("data") or {} for c in self.callbacks if c["type"] == 4]
        return shown + self.edits + self.followups


@dataclass(frozen=True)
class FakeRole:
    """A role of the fake guild; as a `run_command` option value it is sent as a role option."""

    id: str
    name: str

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "permissions": "0", "position": 1, "color": 0,
                "hoist": False, "managed": False, "mentionable": True, "flags": 0}
