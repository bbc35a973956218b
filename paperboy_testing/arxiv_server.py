"""A fake arXiv query API on 127.0.0.1 that answers ``/api/query?id_list=`` in Atom."""

from __future__ import annotations

import asyncio
import re
import time
from xml.sax.saxutils import escape

from aiohttp import web

from paperboy_testing.hf_server import RecordedRequest
from paperboy_testing.loopback import LoopbackServer

# Deliberately independent of bot.model.ids, so the fake does not agree with the code by construction.
_WELL_FORMED = re.compile(r"(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?")

_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:arxiv="http://arxiv.org/schemas/atom">
  <link href="http://arxiv.org/api/query?id_list={query}" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: id_list={query}</title>
  <id>http://arxiv.org/api/fake</id>
  <updated>2026-03-14T00:00:00-04:00</updated>
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>
{entries}</feed>
"""


def _entry(pid: str, data: dict) -> str:
    authors = "".join(f"    <author><name>{escape(a)}</name></author>\n" for a in data.get("authors", []))
    version = data.get("version", 1)
    return (
        "  <entry>\n"
        f"    <id>http://arxiv.org/abs/{pid}v{version}</id>\n"
        f"    <updated>{data.get('published', '2024-03-14T17:59:59Z')}</updated>\n"
        f"    <published>{data.get('published', '2024-03-14T17:59:59Z')}</published>\n"
        f"    <title>{escape(data['title'])}</title>\n"
        f"    <summary>{escape(data.get('summary', ''))}</summary>\n"
        f"{authors}"
        f'    <link href="http://arxiv.org/abs/{pid}v{version}" rel="alternate" type="text/html"/>\n'
        f'    <link title="pdf" href="http://arxiv.org/pdf/{pid}v{version}" rel="related" type="application/pdf"/>\n'
        f"{_categories(data.get('categories') or ['cs.CL'])}"
        "  </entry>\n"
    )


def _categories(categories: list[str]) -> str:
    primary = (f'    <arxiv:primary_category term="{escape(categories[0])}" scheme="http://arxiv.org/schemas/atom"/>\n'
               if categories else "")
    return primary + "".join(f'    <category term="{escape(c)}" scheme="http://arxiv.org/schemas/atom"/>\n'
                             for c in categories)


def _error_entry(bad: str) -> str:
    return (
        "  <entry>\n"
        f"    <id>http://arxiv.org/api/errors#incorrect_id_format_for_{escape(bad)}</id>\n"
        "    <title>Error</title>\n"
        f"    <summary>incorrect id format for {escape(bad)}</summary>\n"
        "    <updated>2026-03-14T00:00:00-04:00</updated>\n"
        '    <link href="http://arxiv.org/api/errors#incorrect_id_format" rel="alternate" type="text/html"/>\n'
        "    <author><name>arXiv api core</name></author>\n"
        "  </entry>\n"
    )


class FakeArxiv(LoopbackServer):
    """Serve Atom entries for ids in *entries* (``{id: {title, summary, authors, published, categories}}``;
    *categories* is a list, primary first, ``["cs.CL"]`` when absent)."""

    def __init__(self, entries: dict[str, dict] | None = None) -> None:
        super().__init__()
        self.entries: dict[str, dict] = dict(entries or {})
        self.requests: list[RecordedRequest] = []
        self.hang_seconds = 30.0
        self._faults: list[str] = []

    @property
    def request_times(self) -> list[float]:
        """Return when each request arrived (``time.monotonic``), in order."""
        return [r.at for r in self.requests]

    def fail_next(self, *faults: str) -> None:
        """Queue faults ("500", "timeout", "garbage") for the next requests, one each."""
        self._faults.extend(faults)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/query", self._query)

    async def _query(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(RecordedRequest(request.path, dict(request.query), dict(request.headers),
                                             at=time.monotonic()))
        fault = self._faults.pop(0) if self._faults else None
        if fault == "500":
            return web.Response(status=500, text="Internal Server Error")
        if fault == "timeout":
            try:
                await asyncio.wait_for(self._closing.wait(), timeout=self.hang_seconds)
            except asyncio.TimeoutError:
                pass
            return web.Response(status=504)
        if fault == "garbage":
            return web.Response(text="<html><body>Service Unavailable", content_type="text/html")
        search = request.query.get("search_query", "")
        if search.startswith("cat:"):
            return self._category(request, search[4:])
        ids = [i for i in request.query.get("id_list", "").split(",") if i]
        entries = []
        for pid in ids:
            if not _WELL_FORMED.fullmatch(pid):
                entries = [_error_entry(pid)]
                break
            bare = re.sub(r"v\d+$", "", pid)
            if bare in self.entries:
                entries.append(_entry(bare, self.entries[bare]))
        body = _FEED.format(query=escape(",".join(ids)), total=len(entries), entries="".join(entries))
        return web.Response(text=body, content_type="application/atom+xml")

    def add(self, pid: str, *, title: str, published: str, categories: list[str], **data: object) -> None:
        """Add a paper in *categories* (primary first) published at *published* (ISO 8601)."""
        self.entries[pid] = {"title": title, "published": published, "categories": categories, **data}

    def _category(self, request: web.Request, pattern: str) -> web.Response:
        def matches(cats: list[str]) -> bool:
            if pattern.endswith(".*"):
                return any(c.split(".")[0] == pattern[:-2] for c in cats)
            return pattern in cats
        hits = [(pid, d) for pid, d in self.entries.items() if matches(d.get("categories") or ["cs.CL"])]
        hits.sort(key=lambda item: item[1].get("published", ""),
                  reverse=request.query.get("sortOrder", "descending") == "descending")
        start = int(request.query.get("start", 0))
        size = int(request.query.get("max_results", 10))
        entries = "".join(_entry(pid, d) for pid, d in hits[start:start + size])
        body = _FEED.format(query=escape(pattern), total=len(hits), entries=entries)
        return web.Response(text=body, content_type="application/atom+xml")
