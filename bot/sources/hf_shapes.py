"""Parse the Hugging Face Papers API's raw JSON shapes into `Paper` records.

Three shapes arrive: the *daily item* (a wrapper with a nested ``paper``), the flat
*paper object* of ``/api/papers/{id}``, and search hits, which are either daily-item
shaped (newer) or a flat ``{id, title, thumbnailUrl, source}`` (older).

List policy: a single bad item in a list is skipped and logged at WARNING, so one odd
paper never hides the others; a body that is not JSON, not a list, or a non-empty list
in which *every* item is bad raises `MalformedResponse`, because that means the API
changed shape and an empty answer would be a lie.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.ids import InvalidPaperId, normalize_paper_id
from bot.paper import Paper
from bot.sources.errors import MalformedResponse

log = logging.getLogger(__name__)

THUMBNAIL_URL = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{id}.png"

LINKED_KEPT = 20
"""A famous paper can have thousands of linked models: the cache keeps this many ids of each kind."""
# A Hub repo id: ``name`` or ``namespace/name``, letters, digits, ``-``, ``_`` and ``.`` (the Hub
# caps names at 96). Anything else is not a repo we can link to, and must not reach a URL.
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(?:/[A-Za-z0-9][\w.-]{0,95})?", re.ASCII)


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class RawAuthor(_Raw):
    name: str = ""
    hidden: bool = False


class RawOrganization(_Raw):
    name: str | None = None
    fullname: str | None = None


class RawPaper(_Raw):
    """The flat paper object; also the ``paper`` inside a daily item and the old search hit."""

    id: str
    title: str | None = None
    summary: str | None = None
    authors: list[RawAuthor] = []
    published_at: datetime | None = Field(None, alias="publishedAt")
    submitted_on_daily_at: datetime | None = Field(None, alias="submittedOnDailyAt")
    upvotes: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = []
    github_repo: str | None = Field(None, alias="githubRepo")
    github_stars: int | None = Field(None, alias="githubStars")
    project_page: str | None = Field(None, alias="projectPage")
    organization: RawOrganization | None = None
    thumbnail_url: str | None = Field(None, alias="thumbnailUrl")
    """Only on the old flat search hits."""
    # The linked* lists (repo objects, kept as their ids) and totals come only from /api/papers/{id}.
    linked_models: tuple[str, ...] = Field((), alias="linkedModels")
    linked_datasets: tuple[str, ...] = Field((), alias="linkedDatasets")
    linked_spaces: tuple[str, ...] = Field((), alias="linkedSpaces")
    num_total_models: int | None = Field(None, alias="numTotalModels")
    num_total_datasets: int | None = Field(None, alias="numTotalDatasets")
    num_total_spaces: int | None = Field(None, alias="numTotalSpaces")

    # Linked repos are extras: an odd list or count must cost only itself, never the paper.
    @field_validator("linked_models", "linked_datasets", "linked_spaces", mode="before")
    @classmethod
    def _repo_ids(cls, value: Any) -> tuple[str, ...]:
        return _repo_ids(value)

    @field_validator("num_total_models", "num_total_datasets", "num_total_spaces", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int | None:
        is_count = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return value if is_count else None


class RawDailyItem(_Raw):
    """One entry of ``/api/daily_papers`` (and of the newer search results)."""

    paper: RawPaper
    title: str | None = None
    summary: str | None = None
    thumbnail: str | None = None
    num_comments: int | None = Field(None, alias="numComments")
    organization: RawOrganization | None = None


def _repo_ids(value: Any) -> tuple[str, ...]:
    """Return the valid, distinct ``id`` of each repo object in *value*, skipping anything else."""
    if not isinstance(value, list):
        return ()
    ids = (item.get("id") if isinstance(item, dict) else None for item in value)
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, str) and _REPO_ID.fullmatch(i)))


def _linked(raw: RawPaper) -> dict[str, Any]:
    """Return the `Paper` fields for the linked repos, keeping only the first `LINKED_KEPT` ids of each kind."""
    fields: dict[str, Any] = {}
    for kind, ids, total in (("models", raw.linked_models, raw.num_total_models),
                             ("datasets", raw.linked_datasets, raw.num_total_datasets),
                             ("spaces", raw.linked_spaces, raw.num_total_spaces)):
        fields[f"linked_{kind}"] = ids[:LINKED_KEPT]
        # A list we cut must still count everything it had.
        fields[f"linked_{kind}_total"] = max(total or 0, len(ids)) if len(ids) > LINKED_KEPT else total
    return fields


def _collapse(text: str | None) -> str:
    # Abstracts arrive hard-wrapped with newlines; cards want one flowing paragraph.
    return " ".join((text or "").split())


def _org_name(org: RawOrganization | None) -> str | None:
    if org is None:
        return None
    return org.fullname or org.name or None


def _to_paper(raw: RawPaper, *, item: RawDailyItem | None = None) -> Paper:
    try:
        paper_id = normalize_paper_id(raw.id)
    except InvalidPaperId:
        raise ValueError(f"paper id {raw.id[:40]!r} is not an arXiv id") from None
    title = _collapse(raw.title) or _collapse(item.title if item else None)
    if not title:
        raise ValueError(f"paper {paper_id} has no title")
    daily = raw.submitted_on_daily_at
    return Paper(
        id=paper_id,
        title=title,
        authors=tuple(a.name.strip() for a in raw.authors if not a.hidden and a.name.strip()),
        abstract=_collapse(raw.summary) or _collapse(item.summary if item else None),
        ai_summary=_collapse(raw.ai_summary) or None,
        ai_keywords=tuple(k.strip() for k in raw.ai_keywords if k.strip()),
        upvotes=raw.upvotes,
        comments=item.num_comments if item else None,
        github_repo=raw.github_repo or None,
        github_stars=raw.github_stars,
        project_page=raw.project_page or None,
        organization=_org_name(raw.organization) or _org_name(item.organization if item else None),
        published_at=raw.published_at,
        daily_date=daily.date() if daily else None,
        thumbnail=(item.thumbnail if item else None) or raw.thumbnail_url or THUMBNAIL_URL.format(id=paper_id),
        **_linked(raw),
    )


def paper_from_daily_item(data: Any) -> Paper:
    """Map one decoded daily item to a `Paper`; raise `ValueError` when it lacks an id or title."""
    item = RawDailyItem.model_validate(data)
    return _to_paper(item.paper, item=item)


def paper_from_flat(data: Any) -> Paper:
    """Map one decoded flat paper object (or old search hit) to a `Paper`."""
    return _to_paper(RawPaper.model_validate(data))


def paper_from_search_hit(data: Any) -> Paper:
    """Map one search hit of either shape to a `Paper`."""
    if isinstance(data, dict) and "paper" in data:
        return paper_from_daily_item(data)
    return paper_from_flat(data)


def _why(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "item"
        return f"{where}: {first['msg'].lower()}"
    return str(error)


def _snippet(body: str | bytes) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return repr(text[:40] + ("…" if len(text) > 40 else ""))


def decode_json(body: str | bytes, *, where: str = "Hugging Face") -> Any:
    """Decode a JSON body or raise `MalformedResponse` quoting its start."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedResponse(f"{where} answered with something that is not JSON: {_snippet(body)}") from None


def _parse_list(body: str | bytes, parse_one: Callable[[Any], Paper], *, where: str) -> list[Paper]:
    data = decode_json(body, where=where)
    if not isinstance(data, list):
        raise MalformedResponse(f"{where} answered with a JSON {type(data).__name__} where a list was expected")
    papers: list[Paper] = []
    first_error = ""
    for index, entry in enumerate(data):
        try:
            papers.append(parse_one(entry))
        except ValueError as error:  # ValidationError is a ValueError
            first_error = first_error or _why(error)
            log.warning("skipping item %d from %s: %s", index, where, _why(error))
    if data and not papers:
        raise MalformedResponse(f"{where} answered with {len(data)} items and none is a paper ({first_error})")
    return papers


def parse_daily_items(body: str | bytes, *, where: str = "Hugging Face") -> list[Paper]:
    """Parse a ``/api/daily_papers`` body, skipping (and logging) single bad items."""
    return _parse_list(body, paper_from_daily_item, where=where)


def parse_search_results(body: str | bytes, *, where: str = "Hugging Face") -> list[Paper]:
    """Parse a ``/api/papers/search`` body in either of its shapes."""
    return _parse_list(body, paper_from_search_hit, where=where)


def parse_paper(body: str | bytes, *, where: str = "Hugging Face") -> Paper:
    """Parse a ``/api/papers/{id}`` body (one flat paper object)."""
    data = decode_json(body, where=where)
    if not isinstance(data, dict):
        raise MalformedResponse(f"{where} answered with a JSON {type(data).__name__} where a paper was expected")
    try:
        return paper_from_flat(data)
    except ValueError as error:
        raise MalformedResponse(f"{where} answered with a paper that cannot be read ({_why(error)})") from None
