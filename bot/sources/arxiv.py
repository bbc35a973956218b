"""An async arXiv client: the fallback for papers Hugging Face does not have."""

from __future__ import annotations

import asyncio
import logging
import time
import xml.etree.ElementTree as ET
from datetime import datetime

import httpx

from bot.ids import InvalidPaperId, normalize_paper_id
from bot.paper import Paper
from bot.sources.errors import MalformedResponse, PaperNotFound, SourceError, SourceUnavailable
from bot.sources.http import Answer, Clock, HttpSource, Sleep, default_deadline, fetch, send_with_retries

log = logging.getLogger(__name__)

USER_AGENT = "paperboy/0.1"
_ATOM = "{http://www.w3.org/2005/Atom}"


class ArxivClient(HttpSource):
    """Look papers up in the arXiv query API, one request at a time, *min_interval* apart.

    arXiv's terms ask for at most one request every three seconds over one connection;
    an `asyncio.Lock` plus the last request's time enforce both, retries included.
    *timeout* bounds each read, *deadline* (by default 3 x *timeout*) each whole request;
    an answer over `MAX_BODY` is refused.
    """

    name = "arXiv"

    def __init__(self, *, base_url: str, timeout: float = 10.0, deadline: float | None = None,
                 http: httpx.AsyncClient | None = None, min_interval: float = 3.0, max_retries: int = 1,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(base_url=base_url, http=http)
        self._timeout = timeout
        self._deadline = default_deadline(timeout, deadline)
        self._min_interval = min_interval
        self._max_retries = max_retries
        self._clock, self._sleep = clock, sleep
        self._lock = asyncio.Lock()
        self._last_request: float | None = None

    async def paper(self, paper_id: str) -> Paper:
        """Return the arXiv record for *paper_id*; raise `PaperNotFound` when arXiv has none."""
        pid = normalize_paper_id(paper_id)
        async with self._lock:
            try:
                response = await send_with_retries(lambda: self._spaced_get(pid), max_retries=self._max_retries,
                                                   sleep=self._sleep, backoff=self._min_interval,
                                                   on_failure=self._failed)
            except MalformedResponse as error:  # too large
                log.warning("arXiv lookup of %s refused: %s", pid, error)
                raise
            except SourceUnavailable as error:
                log.warning("arXiv lookup of %s failed: %s", pid, error)
                raise SourceUnavailable(f"cannot reach arXiv at {self.base_url}: {error}") from error
        self._answered()
        if response.status_code >= 400:
            raise SourceError(f"arXiv refused the lookup of {pid} with HTTP {response.status_code}")
        return parse_atom_entry(response.content, requested=pid)

    async def _spaced_get(self, pid: str) -> Answer:
        if self._last_request is not None:
            wait = self._last_request + self._min_interval - self._clock()
            if wait > 0:
                await self._sleep(wait)
        # Count from the send, so a slow answer does not shorten the next gap; the deadline starts there too.
        self._last_request = self._clock()
        return await fetch(self._http, f"{self.base_url}/api/query", params={"id_list": pid, "max_results": 1},
                           headers={"User-Agent": USER_AGENT}, timeout=self._timeout, deadline=self._deadline,
                           where=f"arXiv (the lookup of {pid})")


def _text(element: ET.Element, tag: str) -> str:
    found = element.find(_ATOM + tag)
    return " ".join((found.text or "").split()) if found is not None else ""


def parse_atom_entry(body: bytes | str, *, requested: str) -> Paper:
    """Parse an arXiv Atom feed answering ``id_list=<requested>`` into a `Paper`."""
    try:
        feed = ET.fromstring(body)
    except ET.ParseError:
        raise MalformedResponse(f"arXiv answered the lookup of {requested} with something that is not XML") from None
    entries = feed.findall(_ATOM + "entry")
    if not entries:
        raise PaperNotFound(f"arXiv has no paper {requested}")
    entry = entries[0]
    title = _text(entry, "title")
    if title == "Error":
        detail = _text(entry, "summary") or "no detail"
        if "id" in detail.lower():
            raise PaperNotFound(f"arXiv has no paper {requested} ({detail})")
        raise MalformedResponse(f"arXiv answered the lookup of {requested} with an error ({detail})")
    if not title:
        # arXiv may answer an unknown but well-formed id with an empty entry.
        raise PaperNotFound(f"arXiv has no paper {requested}")
    try:
        pid = normalize_paper_id(_text(entry, "id"))
    except InvalidPaperId:
        raise MalformedResponse(f"arXiv answered the lookup of {requested} with an entry without an id") from None
    published = _text(entry, "published")
    try:
        published_at = datetime.fromisoformat(published) if published else None
    except ValueError:
        published_at = None
    return Paper(
        id=pid,
        title=title,
        abstract=_text(entry, "summary"),
        authors=tuple(name for a in entry.findall(_ATOM + "author") if (name := _text(a, "name"))),
        published_at=published_at,
        source="arxiv",
    )
