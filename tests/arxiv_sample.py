"""The real arXiv papers of ``tests/data/arxiv-sample.jsonl.gz`` as `Paper`s (origin: tests/data/README.md)."""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

from bot.model.paper import Paper

SAMPLE = Path(__file__).parent / "data" / "arxiv-sample.jsonl.gz"


@lru_cache(maxsize=1)
def arxiv_sample() -> tuple[Paper, ...]:
    """Return the sample's papers, in file order."""
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as lines:
        return tuple(
            Paper(id=row["id"], title=row["title"], abstract=row["abstract"], authors=tuple(row["authors"]),
                  categories=tuple(row["categories"]), source="arxiv")
            for row in map(json.loads, lines)
        )


def in_category(paper: Paper, category: str) -> bool:
    """Say whether *paper* is in *category*: ``hep-th``, or an archive such as ``cond-mat`` for all its ``cond-mat.*``."""
    return any(c == category or c.startswith(category + ".") for c in paper.categories)
