"""The paper cache: upserts that never forget, full-text search, and saved lists."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

from bot.model.paper import Paper
from bot.model.usage import UsageError
from storage.sqlite.db import Queries, from_db, is_interrupted, to_db

# bm25 column weights, in papers_fts column order: a word in the title or the keywords says more
# about what a paper is about than the same word somewhere in the abstract.
_BM25_WEIGHTS = "10.0, 1.0, 5.0, 2.0, 3.0"  # title, abstract, ai_keywords, ai_summary, authors

MAX_SEARCH_TERMS = 16
"""The most distinct words, prefixes and phrases one local search looks for (the first ones given).

Ranking costs about the number of terms times the number of papers they match: 75 two-letter
prefixes (what 300 characters allow) took 0.65 s on 10,000 papers, 16 took 0.25 s.
"""
SEARCH_BUDGET = 1.0
"""Seconds of SQLite's time one local search may take before it is stopped as too broad."""

_UPSERT = """
INSERT INTO papers (id, title, source, upvotes, daily_date, published_at, data)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    title = excluded.title, source = excluded.source, upvotes = excluded.upvotes,
    daily_date = excluded.daily_date, published_at = excluded.published_at, data = excluded.data
"""


class SearchTooBroad(UsageError):
    """A search asks for too much of the cache at once; the message says how to narrow it."""


def merge_papers(known: Paper, newer: Paper) -> Paper:
    """Return *known* updated with every field *newer* has; an absent (None or empty) field keeps the known value.

    A Hugging Face record stays one: an arXiv-only or search-only record fills gaps but never
    turns the paper's main link away from its Hugging Face page.
    """
    changes = {
        name: value
        for name, value in newer
        if value is not None and value != "" and value != () and name != "id"
    }
    if known.source == "huggingface":
        changes.pop("source", None)
    return known.model_copy(update=changes)


def fts_query(terms: Sequence[str]) -> str:
    """Build an FTS5 query matching ANY of *terms*, each a word, a ``prefix*`` or a ``"quoted phrase"``.

    Every term becomes an FTS5 string, inside which operators (NEAR, AND, ^, parentheses) are plain
    text, so no user input can produce an FTS syntax error. Returns ``""`` when no term has text.
    """
    return " OR ".join(_fts_parts(terms))


def _fts_parts(terms: Sequence[str]) -> list[str]:
    """Return each distinct term of *terms* as an FTS5 string (see `fts_query`)."""
    parts: list[str] = []
    for term in terms:
        # FTS5 reads the query as a C string, so a NUL would cut the closing quote off.
        text = term.replace("\x00", " ").strip()
        prefix = text.endswith("*")
        text = text.rstrip("*").strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1].strip()
        if not text:
            continue
        part = '"' + text.replace('"', '""') + '"' + ("*" if prefix else "")
        if part not in parts:
            parts.append(part)
    return parts


def _row_values(paper: Paper) -> tuple:
    return (
        paper.id,
        paper.title,
        paper.source,
        paper.upvotes,
        paper.daily_date.isoformat() if paper.daily_date else None,
        to_db(paper.published_at),
        paper.model_dump_json(),
    )


class PaperQueries(Queries):
    """Cache papers, search them, and remember named lists such as ``trending``."""

    async def save_papers(self, papers: Sequence[Paper]) -> None:
        """Upsert *papers* by id, merging each into what is known (see `merge_papers`)."""
        if not papers:
            return
        async with self._transaction() as conn:
            ids = sorted({p.id for p in papers})
            rows = await conn.execute_fetchall(
                "SELECT data FROM papers WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
            )
            stored = {p.id: p for p in (Paper.model_validate_json(r["data"]) for r in rows)}
            merged = dict(stored)
            for paper in papers:
                known = merged.get(paper.id)
                merged[paper.id] = merge_papers(known, paper) if known else paper
            # The FTS index follows through the papers_fts_* triggers; a paper unchanged (a list fetched
            # again, as on most polls) is not written, so its index entry is not rebuilt.
            await conn.executemany(_UPSERT, [_row_values(p) for i, p in merged.items() if stored.get(i) != p])

    async def get_paper(self, paper_id: str) -> Paper | None:
        """Return the cached paper *paper_id*, or None."""
        row = await self._fetchone("SELECT data FROM papers WHERE id = ?", (paper_id,))
        return Paper.model_validate_json(row["data"]) if row else None

    async def get_papers(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """Return the cached papers among *paper_ids*, by id; unknown ids are left out."""
        if not paper_ids:
            return {}
        rows = await self._fetchall(
            "SELECT data FROM papers WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(list(paper_ids)),)
        )
        papers = (Paper.model_validate_json(r["data"]) for r in rows)
        return {p.id: p for p in papers}

    _search_budget: float = SEARCH_BUDGET

    async def search_papers(self, terms: Sequence[str], *, limit: int = 200) -> list[Paper]:
        """Return cached papers matching ANY of *terms*, best (bm25) first; see `fts_query` for term syntax.

        Only the first `MAX_SEARCH_TERMS` distinct terms are looked for (candidates for the
        caller to match in full). Raises `SearchTooBroad` when ranking what they match takes
        SQLite over the store's search budget. Searches run on their own read connections, so
        however slow they hold up no write.
        """
        parts = _fts_parts(terms)[:MAX_SEARCH_TERMS]
        if not parts or limit <= 0:
            return []
        try:
            rows = await self._fetchall(
                f"""
                SELECT p.data FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid
                WHERE papers_fts MATCH ?
                ORDER BY bm25(papers_fts, {_BM25_WEIGHTS}), p.id
                LIMIT ?
                """,
                (" OR ".join(parts), limit),
                slow=True,
                budget=self._search_budget,
            )
        except Exception as error:
            if not is_interrupted(error):
                raise
            raise SearchTooBroad(
                "That search matches too much of what Paperboy has seen to sort in time. Use fewer "
                "words, longer prefixes (merg* rather than me*) or a \"quoted phrase\"."
            ) from None
        return [Paper.model_validate_json(r["data"]) for r in rows]

    async def papers_since(self, day: date) -> list[Paper]:
        """Return papers put on Daily Papers on or after *day*: newest day first, then most upvoted."""
        rows = await self._fetchall(
            """
            SELECT data FROM papers WHERE daily_date >= ?
            ORDER BY daily_date DESC, coalesce(upvotes, -1) DESC, id
            """,
            (day.isoformat(),),
            slow=True,
        )
        return [Paper.model_validate_json(r["data"]) for r in rows]

    async def save_list(self, name: str, paper_ids: Sequence[str], *, at: datetime) -> None:
        """Remember *paper_ids* in order as the list *name* (``trending``, ``daily``…), replacing it."""
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO paper_lists (name, paper_ids, saved_at) VALUES (?, ?, ?)",
                (name, json.dumps(list(paper_ids)), to_db(at)),
            )

    async def get_list(self, name: str) -> tuple[list[Paper], datetime | None]:
        """Return the list *name*'s cached papers in saved order and when it was saved; ``([], None)`` if never saved."""
        rows = await self._fetchall(
            """
            SELECT l.saved_at, p.data FROM paper_lists l
            LEFT JOIN json_each(l.paper_ids) AS item
            LEFT JOIN papers p ON p.id = item.value
            WHERE l.name = ?
            ORDER BY item.key
            """,
            (name,),
            slow=True,
        )
        if not rows:
            return [], None
        papers = [Paper.model_validate_json(r["data"]) for r in rows if r["data"] is not None]
        return papers, from_db(rows[0]["saved_at"])
