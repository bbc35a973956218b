"""The paper cache, its full-text search (a weighted tsvector and a GIN index), and saved lists."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime

import asyncpg

from bot.model.paper import Paper
from storage.sqlite.papers import MAX_SEARCH_TERMS, SEARCH_BUDGET, SearchTooBroad, _fts_parts, merge_papers
from storage.postgres.connection import Queries

_CONFIG = "paperboy"  # the text search configuration of migration 0001: English stems, no stop words
_WORDS = re.compile(r"[^\W_]+")
_UPSERT = """
INSERT INTO papers (id, title, source, upvotes, daily_date, published_at, data, search)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb,
        setweight(to_tsvector('paperboy', $8), 'A') || setweight(to_tsvector('paperboy', $9), 'B')
        || setweight(to_tsvector('paperboy', $10), 'C') || setweight(to_tsvector('paperboy', $11), 'D'))
ON CONFLICT (id) DO UPDATE SET
    title = excluded.title, source = excluded.source, upvotes = excluded.upvotes,
    daily_date = excluded.daily_date, published_at = excluded.published_at, data = excluded.data,
    search = excluded.search
"""
_TOO_BROAD = (
    "That search matches too much of what Paperboy has seen to sort in time. Use fewer "
    "words, longer prefixes (merg* rather than me*) or a \"quoted phrase\"."
)


def fold(text: str) -> str:
    """Drop accents (Zoë -> Zoe, Müller -> Muller), as SQLite's ``remove_diacritics`` does, for index and query alike."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _row_values(paper: Paper) -> tuple:
    weighted = (paper.title, ", ".join(paper.ai_keywords),
                ", ".join((*paper.authors, paper.ai_summary or "")), paper.abstract or "")
    return (paper.id, paper.title, paper.source, paper.upvotes, paper.daily_date, paper.published_at,
            paper.model_dump_json(), *(fold(text) for text in weighted))


def _unquote(part: str) -> tuple[str, bool]:
    """Return the text of one `_fts_parts` string (``"text"`` or ``"text"*``) and whether it is a prefix."""
    prefix = part.endswith("*")
    return part.rstrip("*")[1:-1].replace('""', '"'), prefix


def tsquery_sql(terms: Sequence[str]) -> tuple[str, list[str]]:
    """Build a tsquery expression matching ANY of *terms* and its parameters; ``("", [])`` when none has text.

    User text only ever reaches Postgres as a parameter of ``phraseto_tsquery`` (which has no
    syntax to get wrong) or as letters and digits in a quoted ``'lexeme':*``, so no input can
    make a tsquery syntax error.
    """
    pieces: list[str] = []
    params: list[str] = []

    def param(value: str) -> str:
        params.append(value)
        return f"${len(params)}"

    for part in _fts_parts(terms)[:MAX_SEARCH_TERMS]:
        text, prefix = _unquote(part)
        text = fold(text)
        words = _WORDS.findall(text)
        if not prefix or not words:
            pieces.append(f"phraseto_tsquery('{_CONFIG}', {param(text)})")
            continue
        head, last = " ".join(words[:-1]), words[-1].lower()
        # A phrase whose last word is a prefix: "model merg"* is  model <-> merg:*
        tail = f"to_tsquery('{_CONFIG}', {param(chr(39) + last + chr(39) + ':*')})"
        pieces.append(f"tsquery_phrase(phraseto_tsquery('{_CONFIG}', {param(head)}), {tail})" if head else tail)
    return " || ".join(pieces), params


class PaperQueries(Queries):
    """Cache papers, search them, and remember named lists such as ``trending``."""

    _search_budget: float = SEARCH_BUDGET

    async def save_papers(self, papers: Sequence[Paper]) -> None:
        """Upsert *papers* by id, merging each into what is known (see `merge_papers`)."""
        if not papers:
            return
        ids = sorted({p.id for p in papers})
        async with self._transaction() as conn:
            # Locking each id (in id order, against deadlocks), known or not yet, keeps a concurrent
            # save from merging into the same old record, or inserting beside us, and losing fields.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('paper:' || id)) FROM unnest($1::text[]) AS id "
                               "ORDER BY id", ids)
            rows = await conn.fetch("SELECT data::text FROM papers WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
                                    ids)
            stored = {p.id: p for p in (Paper.model_validate_json(r[0]) for r in rows)}
            merged = dict(stored)
            for paper in papers:
                known = merged.get(paper.id)
                merged[paper.id] = merge_papers(known, paper) if known else paper
            # A paper unchanged (a list fetched again, as on most polls) is not written again.
            changed = [merged[i] for i in sorted(merged) if stored.get(i) != merged[i]]
            await conn.executemany(_UPSERT, [_row_values(p) for p in changed])

    async def get_paper(self, paper_id: str) -> Paper | None:
        text = await self._fetchval("SELECT data::text FROM papers WHERE id = $1", paper_id)
        return Paper.model_validate_json(text) if text is not None else None

    async def get_papers(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        if not paper_ids:
            return {}
        rows = await self._fetch("SELECT data::text FROM papers WHERE id = ANY($1::text[])", list(paper_ids))
        papers = (Paper.model_validate_json(r[0]) for r in rows)
        return {p.id: p for p in papers}

    async def search_papers(self, terms: Sequence[str], *, limit: int = 200) -> list[Paper]:
        """Return cached papers matching ANY of *terms*, best (``ts_rank_cd``) first, then by id.

        Terms are as SQLite's: a word, a ``prefix*`` or a ``"quoted phrase"``; only the first
        `MAX_SEARCH_TERMS` are looked for. Raises `SearchTooBroad` when the search takes the
        server over the store's search budget.
        """
        query, params = tsquery_sql(terms)
        if not query or limit <= 0:
            return []
        sql = f"""WITH q AS (SELECT {query} AS q)
                  SELECT p.data::text FROM papers p, q WHERE p.search @@ q.q
                  ORDER BY ts_rank_cd(p.search, q.q) DESC, p.id LIMIT {int(limit)}"""
        budget = max(1, round(self._search_budget * 1000))
        async with self._translated(), self._pool.acquire() as conn:
            try:
                async with conn.transaction():
                    # SET LOCAL: the budget ends with this transaction, the pooled connection keeps none.
                    await conn.execute(f"SET LOCAL statement_timeout = {budget}")
                    rows = await conn.fetch(sql, *params)
            except asyncpg.QueryCanceledError:  # caught before it could pass for database trouble
                raise SearchTooBroad(_TOO_BROAD) from None
        return [Paper.model_validate_json(r[0]) for r in rows]

    async def papers_since(self, day: date) -> list[Paper]:
        rows = await self._fetch(
            """SELECT data::text FROM papers WHERE daily_date >= $1
               ORDER BY daily_date DESC, coalesce(upvotes, -1) DESC, id""", day)
        return [Paper.model_validate_json(r[0]) for r in rows]

    async def save_list(self, name: str, paper_ids: Sequence[str], *, at: datetime) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                """INSERT INTO paper_lists (name, paper_ids, saved_at) VALUES ($1, $2, $3)
                   ON CONFLICT (name) DO UPDATE SET paper_ids = excluded.paper_ids, saved_at = excluded.saved_at""",
                name, list(paper_ids), at)

    async def get_list(self, name: str) -> tuple[list[Paper], datetime | None]:
        """Return the list *name*'s cached papers in saved order and when it was saved; ``([], None)`` if never saved."""
        rows = await self._fetch(
            """SELECT l.saved_at, p.data::text AS data FROM paper_lists l
               LEFT JOIN LATERAL unnest(l.paper_ids) WITH ORDINALITY AS item (paper_id, n) ON true
               LEFT JOIN papers p ON p.id = item.paper_id
               WHERE l.name = $1 ORDER BY item.n""", name)
        if not rows:
            return [], None
        papers = [Paper.model_validate_json(r["data"]) for r in rows if r["data"] is not None]
        return papers, rows[0]["saved_at"]
