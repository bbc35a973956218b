"""A fake Hugging Face Papers API on 127.0.0.1, with faults a test can queue.

Run it alone with the seed papers: ``python -m paperboy_testing.hf_server --port 8765``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from aiohttp import web

from paperboy_testing.loopback import LoopbackServer

FAULTS = ("500", "429", "timeout", "truncated", "garbage", "missing_fields")
HOSTILE_FAULTS = ("drip", "huge", "huge_declared", "gzip_bomb")
"""Faults only a test asks for (`fail_next`), never drawn at random by ``failure_rate``:
"drip" sends the answer one byte every ``drip_interval`` seconds; "huge" streams ``huge_bytes``
of JSON without a Content-Length, "huge_declared" the same with one; "gzip_bomb" sends a small
gzip body (a few tens of KB, its Content-Length true) that inflates to ``huge_bytes`` of JSON."""
_DIGITS_MARK = "\x00digits:"
_DIGITS = re.compile(r'"\\u0000digits:(\d+)"')


def many_digits(count: int) -> str:
    """A placeholder the fake writes out as a bare JSON integer of *count* digits.

    ``json.dumps`` cannot write one: Python refuses to turn an int of more than 4,300 digits into text.
    """
    return f"{_DIGITS_MARK}{count}"


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """As received; use `header()` for a case-insensitive look-up."""
    at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        """Return the header *name* whatever its case, or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


def _upvotes(item: dict) -> int:
    upvotes = item["paper"].get("upvotes")
    return upvotes if isinstance(upvotes, int) else 0  # a hostile item's may be anything


def _daily_at(item: dict) -> str:
    return item["paper"].get("submittedOnDailyAt", "")


class FakeHuggingFace(LoopbackServer):
    """Serve ``/api/daily_papers``, ``/api/papers/{id}`` and ``/api/papers/search`` from *items*."""

    def __init__(self, items: list[dict] | None = None, *, trending: list[str] | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        self.items: dict[str, dict] = {item["paper"]["id"]: item for item in items or []}
        if trending is None:
            trending = sorted(self.items, key=lambda pid: -_upvotes(self.items[pid]))
        self.trending_ids: list[str] = list(trending)
        self.failure_rate = 0.0
        self.delay = 0.0
        self.hang_seconds = 30.0
        self.retry_after_seconds = 1
        """``Retry-After`` sent with a "429" fault."""
        self.reset_seconds = 1
        """``t=`` of the ``RateLimit`` header sent with a "429" fault."""
        self.drip_interval = 0.2
        """Seconds between the bytes of a "drip" answer."""
        self.huge_bytes = 50 * 2**20
        """Size of a "huge" answer's body."""
        self.ignore_limit = False
        """When True, `/api/daily_papers` sends every matching item whatever ``limit`` asked for."""
        self.gzip_answers = False
        """When True, ordinary answers are sent gzipped (``Content-Encoding: gzip``), as Hugging Face sends them."""
        self.always_headers: dict[str, str] = {}
        """Headers added to every answer, as Hugging Face adds ``RateLimit`` to each."""
        self.requests: list[RecordedRequest] = []
        self.not_found: set[str] = set()
        self.linked: dict[str, dict] = {}
        """Per paper id, the linked* fields `/api/papers/{id}` adds, replacing the made-up ones."""
        self._faults: list[tuple[str, Callable[[RecordedRequest], bool] | None]] = []
        self._rng = random.Random(seed)

    # -- control ---------------------------------------------------------------------------

    def add(self, item: dict, *, trending: bool = True) -> None:
        """Publish a new paper: it joins its day's daily list and, if *trending*, tops trending."""
        pid = item["paper"]["id"]
        self.items[pid] = item
        if trending:
            self.trending_ids = [pid] + [t for t in self.trending_ids if t != pid]

    def fail_next(self, *faults: str, when: Callable[[RecordedRequest], bool] | None = None) -> None:
        """Queue *faults* for the next requests, one fault per request (only requests *when* accepts, if given)."""
        unknown = set(faults) - set(FAULTS) - set(HOSTILE_FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {FAULTS + HOSTILE_FAULTS}")
        self._faults.extend((fault, when) for fault in faults)

    def paper_object(self, pid: str) -> dict:
        """The flat object `/api/papers/{pid}` serves: the item's paper plus its linked Hub repos."""
        item = self.items[pid]
        return {**item["paper"], **self.linked.get(pid, linked_repos(item))}

    def paths(self) -> list[str]:
        """Return the path of every request received, in order."""
        return [r.path for r in self.requests]

    # -- lifecycle -------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/daily_papers", self._daily_papers)
        app.router.add_get("/api/papers/search", self._search)
        app.router.add_get("/api/papers/{paper_id:.+}", self._paper)

    # -- faults ----------------------------------------------------------------------------

    def _next_fault(self, request: RecordedRequest) -> str | None:
        for index, (fault, when) in enumerate(self._faults):
            if when is None or when(request):
                del self._faults[index]
                return fault
        if self.failure_rate and self._rng.random() < self.failure_rate:
            return self._rng.choice(FAULTS)
        return None

    async def _answer(self, request: web.Request, status: int, payload: Any) -> web.StreamResponse:
        self.requests.append(RecordedRequest(request.path, dict(request.query), dict(request.headers)))
        fault = self._next_fault(self.requests[-1])
        if self.delay:
            await self._wait(self.delay)
        if fault == "500":
            return web.json_response({"error": "Internal Error"}, status=500)
        if fault == "429":
            return web.json_response(
                {"error": "You have been rate-limited; you can retry this action later."}, status=429,
                headers={"Retry-After": str(self.retry_after_seconds),
                         "RateLimit": f'"api";r=0;t={self.reset_seconds}',
                         "RateLimit-Policy": '"fixed window";"api";q=500;w=300'})
        if fault == "timeout":
            await self._wait(self.hang_seconds)
            return web.json_response({"error": "too late"}, status=504)
        if fault == "garbage":
            return web.Response(text="<!DOCTYPE html><html><body>Hugging Face is down</body></html>",
                                content_type="text/html")
        if fault in ("huge", "huge_declared"):
            return await self._huge(request, declared=fault == "huge_declared")
        if fault == "gzip_bomb":
            return web.Response(body=_gzip_bomb(self.huge_bytes), content_type="application/json",
                                headers={**self.always_headers, "Content-Encoding": "gzip"})
        if fault == "missing_fields" and status == 200:
            payload = _strip_ids_and_titles(payload)
        text = json.dumps(payload)
        if "\\u0000digits:" in text:  # a `many_digits` placeholder, as json.dumps escaped it
            text = _DIGITS.sub(lambda m: "9" * int(m[1]), text)
        if fault == "truncated":
            text = text[: len(text) // 2]
        if fault == "drip":
            return await self._drip(request, status, text.encode())
        if self.gzip_answers:
            return web.Response(body=gzip.compress(text.encode()), status=status, content_type="application/json",
                                headers={**self.always_headers, "Content-Encoding": "gzip"})
        return web.Response(text=text, status=status, content_type="application/json",
                            headers=self.always_headers)

    async def _drip(self, request: web.Request, status: int, body: bytes) -> web.StreamResponse:
        """Send *body* one byte every `drip_interval` seconds: each read succeeds, the answer never ends."""
        response = web.StreamResponse(status=status, headers=self.always_headers)
        response.content_type = "application/json"
        response.content_length = len(body)
        await response.prepare(request)
        try:
            for index in range(len(body)):
                await response.write(body[index:index + 1])
                await self._wait(self.drip_interval)
                if self._closing.is_set():
                    break
        except ConnectionError:  # the client gave up: that is the point
            pass
        return response

    async def _huge(self, request: web.Request, *, declared: bool) -> web.StreamResponse:
        """Stream `huge_bytes` of a JSON list in 64 KB chunks, never holding the whole body."""
        item = json.dumps({"paper": {"id": "2403.10001", "title": "Again"}}).encode() + b","
        chunk = item * (65536 // len(item))
        response = web.StreamResponse(headers=self.always_headers)
        response.content_type = "application/json"
        if declared:
            response.content_length = self.huge_bytes
        await response.prepare(request)
        sent = 0
        try:
            await response.write(b"[")
            sent = 1
            while sent < self.huge_bytes and not self._closing.is_set():
                part = chunk[: self.huge_bytes - sent]
                await response.write(part)
                sent += len(part)
        except ConnectionError:  # the client stopped reading, as it should
            pass
        return response

    async def _wait(self, seconds: float) -> None:
        # Wake on stop(), so a hanging answer never holds up the test's teardown.
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    # -- routes ----------------------------------------------------------------------------

    async def _daily_papers(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        try:
            limit = int(query.get("limit", "50"))
            page = int(query.get("p", "0"))
        except ValueError:
            return await self._answer(request, 400, {"error": "limit and p must be integers"})
        if not 1 <= limit <= 100 or page < 0:
            return await self._answer(request, 400, {"error": "limit must be between 1 and 100"})
        if query.get("sort") == "trending":
            chosen = [self.items[pid] for pid in self.trending_ids if pid in self.items]
        elif "date" in query:
            try:
                day = date.fromisoformat(query["date"])
            except ValueError:
                return await self._answer(request, 400, {"error": "Invalid date"})
            chosen = [i for i in self.items.values() if _daily_at(i)[:10] == day.isoformat()]
            chosen.sort(key=_upvotes, reverse=True)
        elif "week" in query or "month" in query:
            try:
                days = _period_days(query)
            except ValueError:
                return await self._answer(request, 400, {"error": "Invalid week or month"})
            chosen = [i for i in self.items.values() if _daily_at(i)[:10] in days]
            chosen.sort(key=_upvotes, reverse=True)
        else:
            chosen = sorted(self.items.values(), key=_daily_at, reverse=True)
        if self.ignore_limit:
            return await self._answer(request, 200, chosen)
        return await self._answer(request, 200, chosen[page * limit:(page + 1) * limit])

    async def _paper(self, request: web.Request) -> web.StreamResponse:
        pid = request.match_info["paper_id"]
        if pid in self.not_found or pid not in self.items:
            return await self._answer(request, 404, {"error": "Paper not found"})
        return await self._answer(request, 200, self.paper_object(pid))

    async def _search(self, request: web.Request) -> web.StreamResponse:
        words = request.query.get("q", "").lower().split()
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            limit = 0
        if not words or not 1 <= limit <= 120:
            return await self._answer(request, 400, {"error": "q is required and limit must be 1-120"})

        def matches(item: dict) -> bool:
            text = f"{item['paper'].get('title', '')} {item['paper'].get('summary', '')}".lower()
            return all(word in text for word in words)

        found = sorted((i for i in self.items.values() if matches(i)), key=_upvotes, reverse=True)
        return await self._answer(request, 200, found[:limit])


def _period_days(query: Any) -> set[str]:
    """The days (ISO dates) of ``week=YYYY-Www`` or ``month=YYYY-MM``; ValueError when malformed."""
    if "week" in query:
        match = re.fullmatch(r"(\d{4})-W(\d{2})", query["week"])
        if not match:
            raise ValueError(query["week"])
        year, week = int(match[1]), int(match[2])
        return {date.fromisocalendar(year, week, day).isoformat() for day in range(1, 8)}
    match = re.fullmatch(r"(\d{4})-(\d{2})", query["month"])
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(query["month"])
    prefix = f"{match[1]}-{match[2]}-"
    return {f"{prefix}{day:02d}" for day in range(1, 32)}


def _gzip_bomb(size: int) -> bytes:
    """Gzip a JSON empty list padded with spaces to *size* bytes, 64 KB at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: a gzip header
    block = b" " * 65536
    parts = [compressor.compress(b"[")]
    parts += [compressor.compress(block) for _ in range(max(0, size - 2) // len(block))]
    parts += [compressor.compress(b"]"), compressor.flush()]
    return b"".join(parts)


def linked_repos(item: dict) -> dict:
    """Make up the linked models, datasets and Spaces of a paper with code (none for the others).

    Only `/api/papers/{id}` sends these, never the daily lists. The counts come from the id, so
    they are the same every run; ``numTotalModels`` sometimes says more than the list holds.
    """
    paper = item["paper"]
    if "githubRepo" not in paper:
        return {}
    n = sum(map(ord, paper["id"]))
    slug = paper["id"].replace(".", "-").replace("/", "-")
    models = [{"id": f"example-lab/model-{slug}-{k}", "author": "example-lab", "downloads": 100 * k,
               "likes": k, "pipeline_tag": "text-generation", "private": False} for k in range(1 + n % 8)]
    datasets = [{"id": f"example-lab/data-{slug}-{k}", "author": "example-lab", "downloads": 10 * k,
                 "likes": k, "private": False} for k in range(n % 3)]
    spaces = [{"id": f"example-lab/demo-{slug}-{k}", "author": "example-lab", "title": f"Demo {k}",
               "emoji": "🚀", "sdk": "gradio", "likes": k} for k in range(n % 4)]
    return {"linkedModels": models, "numTotalModels": len(models) + 5 * (n % 3),
            "linkedDatasets": datasets, "numTotalDatasets": len(datasets),
            "linkedSpaces": spaces, "numTotalSpaces": len(spaces)}


def _strip_ids_and_titles(payload: Any) -> Any:
    """Break every paper: alternately drop its id or its titles (the "missing_fields" fault)."""
    papers = payload if isinstance(payload, list) else [payload]
    broken = json.loads(json.dumps(papers))
    for index, entry in enumerate(broken):
        paper = entry.get("paper", entry)
        if index % 2 == 0:
            paper.pop("id", None)
        else:
            paper.pop("title", None)
            entry.pop("title", None)
    return broken if isinstance(payload, list) else broken[0]


async def _serve(port: int) -> None:
    from paperboy_testing.seed import seed_items

    fake = FakeHuggingFace(seed_items())
    await fake.start(port=port)
    print(f"fake Hugging Face serving {len(fake.items)} papers at {fake.base_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the seed papers as a fake Hugging Face API.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    try:
        asyncio.run(_serve(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
