"""Rebuild ``arxiv-sample.jsonl.gz`` from two public collections of arXiv metadata (see README.md).

Not run by the tests; kept so the sample can be checked and rebuilt. Usage, with clones of
https://github.com/arXiv/arxiv-browse and https://github.com/RuishanFang/daily-arXiv-ai-enhanced
at the commits named in README.md:

    python tests/data/build_arxiv_sample.py /path/to/arxiv-browse /path/to/daily-arXiv-ai-enhanced

Every real paper under arxiv-browse's ``tests/data/abs_files/ftp/`` (2007's arXiv, mostly), then
`RECENT` papers drawn with a fixed seed from the daily crawls' ``data/*.jsonl`` (2025, mostly
machine learning), become one JSON line each: id, title, authors, categories (primary first),
abstract. Whitespace is collapsed; LaTeX is kept as arXiv wrote it.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import sys
from pathlib import Path

OUT = Path(__file__).with_name("arxiv-sample.jsonl.gz")
RECENT = 1_000
_FIELD = re.compile(r"^(arXiv|Paper|Title|Authors|Categories):\s*(.*)$")


def parse_abs(text: str) -> dict | None:
    """Return the paper of one ``.abs`` file, or None when it lacks a title, categories or abstract."""
    parts = text.split("\n\\\\\n")
    if len(parts) < 3:
        return None
    fields: dict[str, str] = {}
    current = None
    for line in parts[1].splitlines():
        match = _FIELD.match(line)
        if match:
            current = match.group(1)
            fields[current] = match.group(2)
        elif line.startswith(" ") and current in ("Title", "Authors"):
            fields[current] += " " + line.strip()  # a folded header line
        else:
            current = None
    paper_id = fields.get("arXiv") or fields.get("Paper")
    abstract = " ".join(parts[2].split())
    if not (paper_id and fields.get("Title") and fields.get("Categories") and abstract):
        return None
    authors = re.split(r",\s*(?:and\s+)?|\s+and\s+", " ".join(fields.get("Authors", "").split()))
    return {
        "id": paper_id,
        "title": " ".join(fields["Title"].split()),
        "authors": [a.strip() for a in authors if a.strip()],
        "categories": fields["Categories"].split(),
        "abstract": abstract,
    }


def recent(repo: Path) -> list[dict]:
    """Return `RECENT` papers of the daily crawls (``*.jsonl``, not their translations), drawn with a fixed seed."""
    found: dict[str, dict] = {}
    for path in sorted((repo / "data").glob("*.jsonl")):
        if "_AI_enhanced" in path.name:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("title") and row.get("summary") and row.get("categories"):
                found[row["id"]] = {
                    "id": row["id"],
                    "title": " ".join(row["title"].split()),
                    "authors": [" ".join(a.split()) for a in row.get("authors", [])],
                    "categories": list(row["categories"]),
                    "abstract": " ".join(row["summary"].split()),
                }
    return [found[i] for i in random.Random(23).sample(sorted(found), RECENT)]


def main(browse: Path, daily: Path) -> None:
    papers = {}
    for path in sorted((browse / "tests/data/abs_files/ftp").rglob("*.abs")):
        paper = parse_abs(path.read_text(encoding="utf-8", errors="replace"))
        if paper and not re.fullmatch(r"\d{4}\.9999\d", paper["id"]):  # 9999x ids are arxiv-browse's fakes
            papers[paper["id"]] = paper
    for paper in recent(daily):
        papers.setdefault(paper["id"], paper)
    with gzip.open(OUT, "wt", encoding="utf-8") as out:
        for paper in papers.values():
            out.write(json.dumps(paper, ensure_ascii=False) + "\n")
    print(f"{len(papers)} papers -> {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
