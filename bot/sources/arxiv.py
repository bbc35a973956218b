"""An async arXiv client: the fallback for papers Hugging Face does not have."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

import httpx

from bot.model.ids import InvalidPaperId, normalize_paper_id
from bot.model.paper import Paper
from bot.sources.errors import MalformedResponse, PaperNotFound, SourceError, SourceUnavailable
from bot.sources.http import Answer, Clock, HttpSource, Sleep, default_deadline, fetch, send_with_retries

log = logging.getLogger(__name__)

USER_AGENT = "paperboy/0.1"


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
        response = await self._query({"id_list": pid, "max_results": 1}, f"the lookup of {pid}")
        return parse_atom_entry(response.content, requested=pid)

    async def category(self, pattern: str, *, start: int = 0, max_results: int = 100) -> list[Paper]:
        """Return one page of the newest submissions in *pattern* (``cs.CL``, or ``cs.*`` for an archive)."""
        what = f"the listing of {pattern}"
        params = {"search_query": f"cat:{pattern}", "sortBy": "submittedDate", "sortOrder": "descending",
                  "start": start, "max_results": max_results}
        return parse_atom_page((await self._query(params, what)).content, category=pattern)

    async def _query(self, params: dict, what: str) -> Answer:
        """One polite request to the query API (spaced, retried, under the lock); raise in one line naming *what*."""
        async with self._lock:
            try:
                response = await send_with_retries(lambda: self._spaced_get(params, what),
                                                   max_retries=self._max_retries, sleep=self._sleep,
                                                   backoff=self._min_interval, on_failure=self._failed)
            except MalformedResponse as error:  # too large
                log.info("arXiv %s refused: %s", what, error)  # the caller reports it, once
                raise
            except SourceUnavailable as error:
                log.info("arXiv %s failed: %s", what, error)
                # One cause whichever request met it: a poll's category reads fail together when arXiv is down.
                raise SourceUnavailable(f"cannot reach arXiv at {self.base_url}: {error}",
                                        cause=f"{self.base_url} unreachable") from error
        self._answered()
        if response.status_code >= 400:
            raise SourceError(f"arXiv refused {what} with HTTP {response.status_code}",
                              cause=f"{self.base_url} HTTP {response.status_code}")
        return response

    async def new_in_category(self, pattern: str, *, since: datetime | None, most: int = 500,
                              page_size: int = 100) -> list[Paper]:
        """Read *pattern*'s submissions newest first until one is older than *since*, a page is short,
        or *most* are read; papers published before *since* are left out."""
        found: list[Paper] = []
        start = 0
        while len(found) < most:
            size = min(page_size, most - len(found))
            page = await self.category(pattern, start=start, max_results=size)
            start += size
            older = False
            for paper in page:
                if since is not None and paper.published_at is not None and paper.published_at < since:
                    older = True
                    continue
                found.append(paper)
            if older or len(page) < size:
                break
        return found[:most]

    async def _spaced_get(self, params: dict, what: str) -> Answer:
        if self._last_request is not None:
            wait = self._last_request + self._min_interval - self._clock()
            if wait > 0:
                await self._sleep(wait)
        # Count from the send, so a slow answer does not shorten the next gap; the deadline starts there too.
        self._last_request = self._clock()
        return await fetch(self._http, f"{self.base_url}/api/query", params=params,
                           headers={"User-Agent": USER_AGENT}, timeout=self._timeout, deadline=self._deadline,
                           where=f"arXiv ({what})")


def _clean(value: object) -> str:
    return " ".join(str(value or "").split())


def _categories(entry: dict) -> tuple[str, ...]:
    """The entry's categories, primary first, each once."""
    found: list[str] = []
    primary = entry.get("arxiv_primary_category")
    terms = [primary.get("term") if isinstance(primary, dict) else None]
    terms += [tag.get("term") for tag in entry.get("tags") or [] if isinstance(tag, dict)]
    for term in terms:
        term = _clean(term)
        if term and term not in found:
            found.append(term)
    return tuple(found)


def _feed(body: bytes | bytearray | str) -> dict:
    import feedparser  # here: a process that never asks arXiv does not hold it (and its sgmllib) in memory

    return feedparser.parse(body.encode() if isinstance(body, str) else bytes(body))


def parse_atom_entry(body: bytes | bytearray | str, *, requested: str) -> Paper:
    """Parse an arXiv Atom feed answering ``id_list=<requested>`` into a `Paper`."""
    feed = _feed(body)
    if feed.get("bozo") and not feed.get("entries") and not feed.get("feed"):
        raise MalformedResponse(f"arXiv answered the lookup of {requested} with something that is not XML")
    entries = feed.get("entries") or []
    if not entries:
        if feed.get("bozo") and not feed.get("feed", {}).get("title"):
            raise MalformedResponse(f"arXiv answered the lookup of {requested} with something that is not XML")
        raise PaperNotFound(f"arXiv has no paper {requested}")
    entry = entries[0]
    title = _clean(entry.get("title"))
    if title == "Error":
        detail = _clean(entry.get("summary")) or "no detail"
        if "id" in detail.lower():
            raise PaperNotFound(f"arXiv has no paper {requested} ({detail})")
        raise MalformedResponse(f"arXiv answered the lookup of {requested} with an error ({detail})")
    if not title:
        # arXiv may answer an unknown but well-formed id with an empty entry.
        raise PaperNotFound(f"arXiv has no paper {requested}")
    try:
        pid = normalize_paper_id(_clean(entry.get("id")))
    except InvalidPaperId:
        raise MalformedResponse(f"arXiv answered the lookup of {requested} with an entry without an id") from None
    published = _clean(entry.get("published"))
    try:
        published_at = datetime.fromisoformat(published) if published else None
    except ValueError:
        published_at = None
    return Paper(
        id=pid,
        title=title,
        abstract=_clean(entry.get("summary")),
        authors=tuple(name for a in entry.get("authors") or [] if (name := _clean(a.get("name")))),
        published_at=published_at,
        source="arxiv",
        categories=_categories(entry),
    )


def parse_atom_page(body: bytes | bytearray | str, *, category: str) -> list[Paper]:
    """Parse a ``search_query=cat:<category>`` answer; entries without an arXiv id are skipped."""
    feed = _feed(body)
    entries = feed.get("entries") or []
    if feed.get("bozo") and not entries and not feed.get("feed", {}).get("title"):
        raise MalformedResponse(f"arXiv answered the listing of {category} with something that is not XML")
    papers: list[Paper] = []
    for entry in entries:
        title = _clean(entry.get("title"))
        if title == "Error":
            detail = _clean(entry.get("summary")) or "no detail"
            raise SourceError(f"arXiv answered the listing of {category} with an error ({detail})")
        try:
            pid = normalize_paper_id(_clean(entry.get("id")))
        except InvalidPaperId:
            log.warning("arXiv listing of %s: skipped an entry without an arXiv id", category)
            continue
        published = _clean(entry.get("published"))
        try:
            published_at = datetime.fromisoformat(published) if published else None
        except ValueError:
            published_at = None
        papers.append(Paper(id=pid, title=title or pid, abstract=_clean(entry.get("summary")),
                            authors=tuple(n for a in entry.get("authors") or [] if (n := _clean(a.get("name")))),
                            published_at=published_at, source="arxiv", categories=_categories(entry)))
    return papers
