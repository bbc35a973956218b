"""Parse the Hugging Face Papers API's raw JSON shapes into `Paper` records.

Three shapes arrive: the *daily item* (a wrapper with a nested ``paper``), the flat
*paper object* of ``/api/papers/{id}``, and search hits, which are either daily-item
shaped (newer) or a flat ``{id, title, thumbnailUrl, source}`` (older).

List policy: a single bad item in a list is skipped and logged at WARNING, so one odd
paper never hides the others; a body that is not JSON, not a list, or a non-empty list
in which *every* item is bad raises `MalformedResponse`, because that means the API
changed shape and an empty answer would be a lie.

Bounds: nothing a hostile answer sends can stop the cache from storing a paper. A count (upvotes,
stars, comments) outside 0..`COUNT_MAX`, or a number too long to read, sets its item aside; a
total of linked repos that is not such a count only becomes unknown. Text keeps valid UTF-8
(a lone surrogate becomes U+FFFD, control characters go) and is cut to a bounded length; a link
that is not http(s) is dropped. Each such fix is logged at WARNING with the paper's id. A list
longer than was asked for is cut to the length asked for.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.model.ids import InvalidPaperId, normalize_paper_id
from bot.model.paper import Paper
from bot.sources.hf_bounds import (
    ABSTRACT_MAX, AI_SUMMARY_MAX, AUTHORS_KEPT, COUNT_MAX, KEYWORD_MAX, KEYWORDS_KEPT, NAME_MAX, SURROGATE, TITLE_MAX,
    YEARS, Fixes, LongNumber, count_or_error, parse_int, short,
)
from bot.sources.errors import MalformedResponse
from bot.model.wording import plural

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

    @field_validator("hidden", mode="before")
    @classmethod
    def _hidden(cls, value: Any) -> bool:
        return value is True


class RawOrganization(_Raw):
    name: str | None = None
    fullname: str | None = None

    @field_validator("name", "fullname", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str | None:
        return value if isinstance(value, str) else None


def _dicts_with_name(value: Any) -> list[dict]:
    if not isinstance(value, list):
        return []
    return [a for a in value if isinstance(a, dict) and isinstance(a.get("name"), str)]


def _strings(value: Any) -> list[str]:
    return [k for k in value if isinstance(k, str)] if isinstance(value, list) else []


def _org(value: Any) -> Any:
    return value if isinstance(value, dict) else None


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

    # Dates are compared with each other and turned into local times: each must be aware, and
    # in years where that works. One outside them is unknown, not a reason to lose the paper.
    @field_validator("published_at", "submitted_on_daily_at")
    @classmethod
    def _sane_date(cls, value: datetime | None) -> datetime | None:
        if value is None or not YEARS[0] <= value.year <= YEARS[1]:
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)

    # A bad count sets the paper aside: an absurd number says the record cannot be trusted.
    @field_validator("upvotes", "github_stars", mode="before")
    @classmethod
    def _bounded(cls, value: Any) -> int | None:
        return count_or_error(value)

    # Odd authors, keywords or an odd organisation cost only themselves.
    @field_validator("authors", mode="before")
    @classmethod
    def _authors(cls, value: Any) -> list[dict]:
        return _dicts_with_name(value)

    @field_validator("ai_keywords", mode="before")
    @classmethod
    def _keywords(cls, value: Any) -> list[str]:
        return _strings(value)

    @field_validator("organization", mode="before")
    @classmethod
    def _organization(cls, value: Any) -> Any:
        return _org(value)

    # Linked repos are extras: an odd list or count must cost only itself, never the paper.
    @field_validator("linked_models", "linked_datasets", "linked_spaces", mode="before")
    @classmethod
    def _repo_ids(cls, value: Any) -> tuple[str, ...]:
        return _repo_ids(value)

    @field_validator("num_total_models", "num_total_datasets", "num_total_spaces", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int | None:
        is_count = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= COUNT_MAX
        return value if is_count else None


class RawDailyItem(_Raw):
    """One entry of ``/api/daily_papers`` (and of the newer search results)."""

    paper: RawPaper
    title: str | None = None
    summary: str | None = None
    thumbnail: str | None = None
    num_comments: int | None = Field(None, alias="numComments")
    organization: RawOrganization | None = None

    @field_validator("num_comments", mode="before")
    @classmethod
    def _bounded(cls, value: Any) -> int | None:
        return count_or_error(value)

    @field_validator("organization", mode="before")
    @classmethod
    def _organization(cls, value: Any) -> Any:
        return _org(value)


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


def _org_name(org: RawOrganization | None, fixes: Fixes) -> str | None:
    if org is None:
        return None
    return fixes.text(org.fullname, "organization", NAME_MAX) or fixes.text(org.name, "organization", NAME_MAX) or None


def _to_paper(raw: RawPaper, *, item: RawDailyItem | None = None, where: str = "Hugging Face") -> Paper:
    try:
        paper_id = normalize_paper_id(SURROGATE.sub("\ufffd", raw.id))
    except InvalidPaperId:
        raise ValueError(f"paper id {short(raw.id)} is not an arXiv id") from None
    fixes = Fixes()
    title = fixes.text(raw.title, "title", TITLE_MAX) or fixes.text(item.title if item else None, "title", TITLE_MAX)
    if not title:
        raise ValueError(f"paper {paper_id} has no title")
    abstract = (fixes.text(raw.summary, "abstract", ABSTRACT_MAX)
                or fixes.text(item.summary if item else None, "abstract", ABSTRACT_MAX))
    daily = raw.submitted_on_daily_at
    paper = Paper(
        id=paper_id,
        title=title,
        authors=fixes.many([a.name for a in raw.authors if not a.hidden], "authors", each=NAME_MAX,
                           kept=AUTHORS_KEPT),
        abstract=abstract,
        ai_summary=fixes.text(raw.ai_summary, "ai_summary", AI_SUMMARY_MAX) or None,
        ai_keywords=fixes.many(raw.ai_keywords, "ai_keywords", each=KEYWORD_MAX, kept=KEYWORDS_KEPT),
        upvotes=raw.upvotes,
        comments=item.num_comments if item else None,
        github_repo=fixes.url(raw.github_repo, "githubRepo"),
        github_stars=raw.github_stars,
        project_page=fixes.url(raw.project_page, "projectPage"),
        organization=_org_name(raw.organization, fixes) or _org_name(item.organization if item else None, fixes),
        published_at=raw.published_at,
        daily_date=daily.date() if daily else None,
        thumbnail=(fixes.url(item.thumbnail if item else None, "thumbnail")
                   or fixes.url(raw.thumbnail_url, "thumbnailUrl") or THUMBNAIL_URL.format(id=paper_id)),
        **_linked(raw),
    )
    if fixes.notes:
        log.warning("paper %s from %s kept with fixes: %s", paper_id, where,
                    "; ".join(f"{field} {what}" for field, what in fixes.notes.items()))
    return paper


def paper_from_daily_item(data: Any, *, where: str = "Hugging Face") -> Paper:
    """Map one decoded daily item to a `Paper`; raise `ValueError` when it lacks an id or title."""
    item = RawDailyItem.model_validate(data)
    return _to_paper(item.paper, item=item, where=where)


def paper_from_flat(data: Any, *, where: str = "Hugging Face") -> Paper:
    """Map one decoded flat paper object (or old search hit) to a `Paper`."""
    return _to_paper(RawPaper.model_validate(data), where=where)


def paper_from_search_hit(data: Any, *, where: str = "Hugging Face") -> Paper:
    """Map one search hit of either shape to a `Paper`."""
    if isinstance(data, dict) and "paper" in data:
        return paper_from_daily_item(data, where=where)
    return paper_from_flat(data, where=where)


def _why(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "item"
        if isinstance(first.get("input"), LongNumber):
            return f"{where}: {first['input'].digits}-digit number"
        if first["type"] == "value_error":  # ours, already worded
            return f"{where}: {first['msg'].removeprefix('Value error, ')}"
        return f"{where}: {first['msg'].lower()}"
    return str(error)


def _item_id(entry: Any) -> str | None:
    """Return the paper id an item claims, normalised when it can be, for a warning; None when it has none."""
    paper = entry.get("paper", entry) if isinstance(entry, dict) else None
    pid = paper.get("id") if isinstance(paper, dict) else None
    if not isinstance(pid, str):
        return None
    try:
        return normalize_paper_id(SURROGATE.sub("\ufffd", pid))
    except InvalidPaperId:
        return short(pid)


def _snippet(text: str) -> str:
    text = " ".join(text[:200].split())
    return repr(text[:40] + ("…" if len(text) > 40 else ""))


def decode_json(body: str | bytes | bytearray, *, where: str = "Hugging Face") -> Any:
    """Decode a JSON body or raise `MalformedResponse` quoting its start.

    Bytes that are not UTF-8 become U+FFFD (logged), and an integer too long to read becomes a
    `LongNumber`, so one odd paper costs only itself, never the whole body.
    """
    if isinstance(body, (bytes, bytearray)):
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = body.decode("utf-8-sig", "replace")
            log.warning("%s answered with bytes that are not UTF-8; each became U+FFFD", where)
    else:
        text = body
    try:
        return json.loads(text, parse_int=parse_int)
    except json.JSONDecodeError:
        raise MalformedResponse(f"{where} answered with something that is not JSON: {_snippet(text)}") from None
    except RecursionError:
        raise MalformedResponse(f"{where} answered with JSON nested too deeply to read") from None


def _parse_list(body: str | bytes | bytearray, parse_one: Callable[..., Paper], *, where: str,
                limit: int | None) -> list[Paper]:
    data = decode_json(body, where=where)
    if not isinstance(data, list):
        raise MalformedResponse(f"{where} answered with a JSON {type(data).__name__} where a list was expected")
    if limit is not None and len(data) > limit:
        log.warning("%s answered with %d items where at most %d were asked for; keeping the first %d",
                    where, len(data), limit, limit)
        del data[limit:]
    papers: list[Paper] = []
    first_error = ""
    for index, entry in enumerate(data):
        try:
            papers.append(parse_one(entry, where=where))
        except ValueError as error:  # ValidationError is a ValueError
            first_error = first_error or _why(error)
            pid = _item_id(entry)
            what = f"paper {pid} (item {index})" if pid else f"item {index}"
            log.warning("skipping %s from %s: %s", what, where, _why(error))
    if data and not papers:
        raise MalformedResponse(f"{where} answered with {plural(len(data), 'item')} and none is a paper "
                                f"({first_error})")
    return papers


def parse_daily_items(body: str | bytes | bytearray, *, where: str = "Hugging Face",
                      limit: int | None = None) -> list[Paper]:
    """Parse a ``/api/daily_papers`` body, skipping (and logging) single bad items; keep at most *limit*."""
    return _parse_list(body, paper_from_daily_item, where=where, limit=limit)


def parse_search_results(body: str | bytes | bytearray, *, where: str = "Hugging Face",
                         limit: int | None = None) -> list[Paper]:
    """Parse a ``/api/papers/search`` body in either of its shapes; keep at most *limit*."""
    return _parse_list(body, paper_from_search_hit, where=where, limit=limit)


def parse_paper(body: str | bytes | bytearray, *, where: str = "Hugging Face") -> Paper:
    """Parse a ``/api/papers/{id}`` body (one flat paper object)."""
    data = decode_json(body, where=where)
    if not isinstance(data, dict):
        raise MalformedResponse(f"{where} answered with a JSON {type(data).__name__} where a paper was expected")
    try:
        return paper_from_flat(data, where=where)
    except ValueError as error:
        raise MalformedResponse(f"{where} answered with a paper that cannot be read ({_why(error)})") from None
