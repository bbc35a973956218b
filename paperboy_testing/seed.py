"""The 92 real trending papers of paperboy_testing/data, dressed as Hugging Face daily items.

The seed page gives only titles and abstracts; ids, authors, upvotes and the rest are
made up here, deterministically, in the exact shapes the Hugging Face API returns
(the captured paper object in paperboy_testing/data/ shows them).
"""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path

# Everything a test reads lives inside the repository, so a bare clone passes.
DATA = Path(__file__).resolve().parent / "data"
SEED_FILE = DATA / "trending-seed.txt"
FIXTURE_FILE = DATA / "hf-paper-2509.04664.json"

_AUTHOR_POOL = (
    "Graham Neubig", "Yoshua Bengio", "Percy Liang", "Chelsea Finn", "Sara Hooker",
    "Zoë Kravitz-Müller", "Tri Dao", "Noam Shazeer", "Jiaming Song", "Colin Raffel",
    "Hannaneh Hajishirzi", "Luke Zettlemoyer", "Tatsunori Hashimoto", "Ludwig Schmidt",
)
_HEADER_LINES = 5  # "new", "Get trending papers…", "Subscribe", "byAK…", "Mar 14"


@lru_cache(maxsize=1)
def seed_titles_and_abstracts() -> tuple[tuple[str, str], ...]:
    """Return the seed's 92 (title, abstract) pairs in page order."""
    lines = [line.strip() for line in SEED_FILE.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line][_HEADER_LINES:]
    if len(lines) % 2:
        raise ValueError(f"{SEED_FILE} does not alternate title and abstract")
    return tuple((lines[i], lines[i + 1]) for i in range(0, len(lines), 2))


def seed_id(index: int) -> str:
    """The made-up arXiv id of the seed paper at *index* (0-based)."""
    return f"2403.{10001 + index:05d}"


def fixture_paper() -> dict:
    """The real paper object captured from the Hugging Face API."""
    return json.loads(FIXTURE_FILE.read_text(encoding="utf-8"))


def make_item(
    index: int,
    title: str,
    abstract: str,
    *,
    daily: date,
    paper_id: str | None = None,
    upvotes: int | None = None,
) -> dict:
    """Build one daily item (the `daily_papers` shape) for a seed paper."""
    pid = paper_id or seed_id(index)
    authors = [
        {"_id": f"a{index:03d}{k}", "name": _AUTHOR_POOL[(index * 3 + k) % len(_AUTHOR_POOL)], "hidden": False}
        for k in range(1 + index % 4)
    ]
    submitted = datetime.combine(daily, time(6, index % 60), tzinfo=timezone.utc)
    published = submitted - timedelta(days=2)
    paper = {
        "id": pid,
        "authors": authors,
        "publishedAt": published.isoformat().replace("+00:00", ".000Z"),
        "submittedOnDailyAt": submitted.isoformat().replace("+00:00", ".000Z"),
        "title": title,
        "summary": abstract,
        "upvotes": upvotes if upvotes is not None else max(1, 120 - index),
        "discussionId": f"d{index:05d}",
        "submittedOnDailyBy": {"_id": "u1", "fullname": "AK", "user": "akhaliq", "type": "user",
                               "avatarUrl": "https://cdn-avatars.huggingface.co/ak.png"},
    }
    if index % 3 != 2:  # the newest papers often lack the AI fields
        paper["ai_summary"] = abstract.split(". ")[0].rstrip(".") + "."
        paper["ai_keywords"] = [w for w in title.split() if len(w) > 6][:4]
        paper["ai_summary_model"] = "Qwen/Qwen3-235B-A22B"
    if index % 2 == 0:  # about half have code
        paper["githubRepo"] = f"https://github.com/example/paper-{index}"
        paper["githubStars"] = index * 7
    if index % 5 == 0:
        paper["projectPage"] = f"https://example.org/paper-{index}"
        paper["organization"] = {"_id": "o1", "name": "example-lab", "fullname": "Example Lab", "avatar": ""}
    return {
        "paper": paper,
        "publishedAt": paper["publishedAt"],
        "title": title,
        "summary": abstract,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{pid}.png",
        "numComments": index % 7,
        "submittedBy": paper["submittedOnDailyBy"],
        "isAuthorParticipating": index % 4 == 0,
    }


def seed_items(*, today: date | None = None, days: int = 5) -> list[dict]:
    """All 92 seed papers as daily items, spread over the last *days* daily dates."""
    today = today or datetime.now(timezone.utc).date()
    return [
        make_item(i, title, abstract, daily=today - timedelta(days=i % days))
        for i, (title, abstract) in enumerate(seed_titles_and_abstracts())
    ]


def flat_paper(item: dict) -> dict:
    """The flat `/api/papers/{id}` shape of a daily item (numComments is not on it)."""
    return copy.deepcopy(item["paper"])


def seed_papers(*, today: date | None = None) -> list:
    """The 92 seed papers parsed exactly as the Hugging Face client parses daily items."""
    from bot.sources.hf_shapes import paper_from_daily_item

    return [paper_from_daily_item(item) for item in seed_items(today=today)]
