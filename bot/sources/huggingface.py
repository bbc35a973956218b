"""An async client for the Hugging Face Papers API (daily, trending, one paper, search)."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

import httpx

from bot.model.ids import normalize_paper_id
from bot.model.paper import Paper
from bot.sources import hf_shapes
from bot.sources.errors import MalformedResponse, PaperNotFound, SourceError, SourceUnavailable
from bot.sources.http import (
    Answer, BudgetExhausted, HttpSource, RequestBudget, Sleep, default_deadline, fetch, send_with_retries,
)

log = logging.getLogger(__name__)

USER_AGENT = "paperboy/0.1"
MAX_LIMIT = 100
"""The API answers 400 to ``limit`` above 100."""


class HuggingFaceClient(HttpSource):
    """Fetch papers from the Hugging Face Papers API, politely and with retries.

    Every call of one client shares one `RequestBudget` (by default the anonymous
    500 requests per 5 minutes). An ``http`` client passed in is used but not closed.
    *timeout* bounds each read; *deadline* (by default 3 x *timeout*) each whole request,
    body included. An answer over `MAX_BODY` is refused, a list longer than asked for cut.
    """

    name = "Hugging Face"

    def __init__(self, *, base_url: str, token: str | None = None, timeout: float = 10.0,
                 deadline: float | None = None, http: httpx.AsyncClient | None = None, max_retries: int = 3,
                 backoff: float = 0.5, budget: RequestBudget | None = None, sleep: Sleep = asyncio.sleep) -> None:
        budget = budget or RequestBudget(sleep=sleep)
        if budget.name == "the server":
            budget.name = self.name
        super().__init__(base_url=base_url, http=http, budget=budget)
        self._timeout = timeout
        self._deadline = default_deadline(timeout, deadline)
        self._max_retries = max_retries
        self._backoff = backoff
        self._sleep = sleep
        self.budget = budget
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    async def trending(self, *, limit: int = 50) -> list[Paper]:
        """Return the papers trending now, in the site's trending order."""
        where = self._where("trending papers")
        body = await self._get("/api/daily_papers", {"sort": "trending", "limit": _checked(limit)}, where=where)
        return hf_shapes.parse_daily_items(body, where=where, limit=limit)

    async def daily(self, day: date | None = None, *, limit: int = 100) -> list[Paper]:
        """Return one day's Daily Papers (by upvotes), or the newest ones when *day* is None."""
        params: dict[str, Any] = {"limit": _checked(limit)}
        if day is not None:
            params["date"] = day.isoformat()
        where = self._where("daily papers")
        body = await self._get("/api/daily_papers", params, where=where)
        return hf_shapes.parse_daily_items(body, where=where, limit=limit)

    async def week(self, iso_week: str, *, limit: int = 100) -> list[Paper]:
        """Return the top Daily Papers of an ISO week (``YYYY-Www``), most upvoted first."""
        return await self._period("week", iso_week, limit)

    async def month(self, year_month: str, *, limit: int = 100) -> list[Paper]:
        """Return the top Daily Papers of a month (``YYYY-MM``), most upvoted first."""
        return await self._period("month", year_month, limit)

    async def _period(self, period: str, value: str, limit: int) -> list[Paper]:
        # No ``sort``: ``sort=trending`` ignores date filters and ranks by its own score, not upvotes.
        where = self._where(f"papers of the {period} {value}")
        body = await self._get("/api/daily_papers", {period: value, "limit": _checked(limit)}, where=where)
        papers = hf_shapes.parse_daily_items(body, where=where, limit=limit)
        return sorted(papers, key=lambda p: -(p.upvotes or 0))

    async def paper(self, paper_id: str) -> Paper:
        """Return one paper; raise `PaperNotFound` when Hugging Face does not have it.

        *paper_id* may be any form `normalize_paper_id` accepts (it raises `InvalidPaperId`).
        """
        pid = normalize_paper_id(paper_id)
        where = self._where(f"paper {pid}")
        body = await self._get(f"/api/papers/{pid}", {}, where=where,
                               not_found=f"Hugging Face has no page for paper {pid}")
        return hf_shapes.parse_paper(body, where=where)

    async def search(self, query: str, *, limit: int = 20) -> list[Paper]:
        """Return the papers Hugging Face's search finds for *query* (none for a blank query)."""
        if not query.strip():
            return []
        where = self._where("search")
        body = await self._get("/api/papers/search", {"q": query.strip(), "limit": _checked(limit)}, where=where)
        return hf_shapes.parse_search_results(body, where=where, limit=limit)

    def _where(self, what: str) -> str:
        return f"Hugging Face ({what})"

    async def _get(self, path: str, params: dict[str, Any], *, where: str | None = None,
                   not_found: str | None = None) -> bytes | bytearray:
        url = self.base_url + path
        where = where or self._where(path)

        async def send() -> Answer:
            return await fetch(self._http, url, params=params, headers=self._headers, timeout=self._timeout,
                               deadline=self._deadline, where=where)

        try:
            response = await send_with_retries(send, max_retries=self._max_retries, sleep=self._sleep,
                                               backoff=self._backoff, budget=self.budget, on_failure=self._failed)
        except MalformedResponse as error:  # too large: an answer, but not one we will read
            log.info("Hugging Face GET %s refused: %s", path, error)  # the caller reports it, once
            self._failed(str(error).removeprefix(where).strip())
            raise
        except SourceUnavailable as error:
            log.info("Hugging Face GET %s failed: %s", path, error)
            kind = BudgetExhausted if isinstance(error, BudgetExhausted) else SourceUnavailable
            # One cause whichever request met it: a poll's two lists fail together when the host is down.
            raise kind(f"cannot reach Hugging Face at {self.base_url}: {error}",
                       cause=f"{self.base_url} unreachable") from error
        self._answered()
        if response.status_code == 404 and not_found:
            raise PaperNotFound(not_found)
        if response.status_code >= 400:
            raise SourceError(f"Hugging Face refused {path} with HTTP {response.status_code}",
                              cause=f"{self.base_url} HTTP {response.status_code}")
        return response.content


def _checked(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    return limit
