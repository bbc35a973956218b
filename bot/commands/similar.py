"""`similar <id or URL>`: papers like one paper, from the cache and Hugging Face search, ranked by BM25.

The paper's title and abstract are the query; the candidates' titles and abstracts the corpus.
bm25s does the ranking (and the tokenizing, with its English stop words), so what counts as a word
is the same for the ranking, the search words and the words each result is shown to share.
"""

from __future__ import annotations

import asyncio
import math
import textwrap
from collections import Counter
from functools import lru_cache
from typing import Callable

from bot.commands.answers import UsageError, error_reply, fallback_note, unique
from bot.model.channels import Command
from bot.model.ids import normalize_paper_id
from bot.sources.lists import cached_lists
from bot.sources.lookups import Lookups
from bot.commands.paging import Pages
from bot.model.paper import Paper
from bot.model.replies import PaperCard, Reply
from bot.ports.store import PaperStore
from bot.model.wording import plural


LOCAL_TERMS = 16
"""Words of the paper the cache is searched for (the store looks for at most this many)."""
LOCAL_LIMIT = 200
"""Cached candidates ranked at most: the store's own BM25 picks the best of them."""
SEARCH_WORDS = 3
"""Title words in the precise Hugging Face query."""
SEARCH_LIMIT = 20
"""Results asked of Hugging Face per query (the same as `search`, so the two share look-ups)."""
MAX_RESULTS = 30
MAX_SHARED = 4
"""Shared words shown per result: a few, most informative first."""
MIN_LIKENESS = 0.18
"""A result's score at least this share of a copy of the paper's own (what the candidates could share
with it at most). Measured on the 92 real papers of paperboy_testing/data: a paper's close relatives (the unlearning
papers among themselves, the two on model merging) score 0.2 to 0.5, unrelated ones below 0.17."""
OF_THE_BEST = 0.4
"""A result's score at least this share of the best result's: with a close relative, the ones that
share only the field's common words (model, training, data) are left out."""

SCHOLARLY = """paper papers study studies work works show shows shown showing demonstrate demonstrates
demonstrated result results also however new novel using use used uses propose proposes proposed approach
approaches method methods based via well existing available first often even many various may might recent
recently find finds found findings introduce introduces introduced present presents presented provide provides
provided address addresses problem problems experiment experiments experimental extensive furthermore moreover
finally lastly including several significant significantly effective effectiveness compared towards toward
despite given github https http com www org code key remains notably whether across different specific
multiple number set one two three able allow allows enable enables achieve achieves achieved state art lack
particular particularly thus therefore since known like yet still make makes made way ways aim aims goal""".split()
"""How abstracts are written, not what they are about: shared, they say nothing about two papers."""


@lru_cache(maxsize=1)
def stopwords() -> tuple[str, ...]:
    """bm25s's longer English list (NLTK's) and `SCHOLARLY`: its short one ("en") keeps words such as
    "from", "what" and "more", which every abstract has and which said nothing as shared words."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return (*STOPWORDS_EN_PLUS, *SCHOLARLY)


def tokens(texts: list[str]) -> list[list[str]]:
    """Split *texts* into lowercase words without English stop words, as bm25s does."""
    import bm25s  # here, not at the top: it brings numpy, and only `similar` needs it (start-up stays quick)

    return bm25s.tokenize(texts, stopwords=list(stopwords()), show_progress=False, return_ids=False)


def document(paper: Paper) -> str:
    # The title twice: a title word says more about what a paper is about than an abstract word.
    return f"{paper.title}\n{paper.title}\n{paper.abstract}"


def showable(word: str) -> bool:
    """Say whether *word* means something on its own (not a number, not two letters)."""
    return len(word) >= 3 and any(c.isalpha() for c in word)


def idf(words: list[list[str]]) -> Callable[[str], float]:
    """Return a smoothed inverse document frequency over *words* (one list per candidate)."""
    df = Counter(w for doc in words for w in set(doc))
    n = len(words)
    return lambda w: math.log((n + 1) / (df[w] + 1)) + 1


def distinctive_title_words(paper: Paper, pool: list[Paper]) -> list[str]:
    """The paper's title words by TF-IDF: frequent in its own text, rare among the candidates."""
    (title,) = tokens([paper.title])
    counts = Counter(tokens([document(paper)])[0])
    weight = idf(tokens([document(p) for p in pool]))
    words = [w for w in dict.fromkeys(title) if showable(w)]
    return sorted(words, key=lambda w: -counts[w] * weight(w))


def local_terms(paper: Paper) -> list[str]:
    """The words the cache is searched for: the title's, then the abstract's most frequent."""
    (title,) = tokens([paper.title])
    (abstract,) = tokens([paper.abstract])
    frequent = [w for w, _ in Counter(abstract).most_common()]
    return [w for w in dict.fromkeys([*title, *frequent]) if showable(w)][:LOCAL_TERMS]


def rank(paper: Paper, pool: list[Paper], background: list[Paper] = ()) -> list[tuple[Paper, list[str]]]:
    """The papers of *pool* related to *paper*, most first by BM25, each with the words they share.

    *background* (papers of the moment, such as the current lists) is indexed too, never listed:
    a pool found by the paper's own words is small and of one topic, and a word's rarity in it
    alone says little. The paper itself is indexed and scored on the words the pool has: that copy
    is the most any candidate could share, so `MIN_LIKENESS` means the same for any pool.
    """
    if not pool:
        return []
    listed = {p.id for p in pool} | {paper.id}
    corpus = tokens([document(p) for p in pool])
    (query,) = tokens([document(paper)])
    seen = {w for doc in corpus for w in doc}
    asked = [w for w in query if w in seen]
    if not asked:
        return []
    import bm25s

    model = bm25s.BM25()
    model.index([*corpus, *tokens([document(p) for p in background if p.id not in listed]), query],
                show_progress=False)
    scores = model.get_scores(asked)
    itself, best = float(scores[-1]), float(max(scores[:len(pool)]))
    cut = max(MIN_LIKENESS * itself, OF_THE_BEST * best, 1e-9)
    related = sorted((i for i in range(len(pool)) if scores[i] >= cut), key=lambda i: (-scores[i], pool[i].id))
    # Each shared word's part of the result's score: what made the two alike, most first. (An IDF
    # alone would rank a word low for being in every candidate, yet the candidates were found by it.)
    part = {w: model.get_scores([w]) * count for w, count in Counter(asked).items() if showable(w)}
    ranked = []
    for doc in related[:MAX_RESULTS]:
        shared = sorted(set(corpus[doc]) & part.keys(), key=lambda w: (-part[w][doc], w))
        ranked.append((pool[doc], shared[:MAX_SHARED]))
    return ranked


class SimilarPapers:
    """Find papers like a given one, answering from the cache when Hugging Face is slow or down."""

    def __init__(self, *, store: PaperStore, pages: Pages, lookups: Lookups, answer_timeout: float) -> None:
        self.store = store
        self.pages = pages
        self.lookups = lookups
        self.hf = lookups.hf
        self.answer_timeout = answer_timeout

    async def similar(self, command: Command) -> Reply:
        if not command.args.strip():
            raise UsageError("Give an arXiv id or a paper URL.")
        paper_id = normalize_paper_id(command.args)
        deadline = asyncio.get_running_loop().time() + self.answer_timeout
        paper, note, cached = await self.lookups.look_up(paper_id)
        if paper is None and cached is None:
            return error_reply(note or f"No paper {paper_id}.")
        local = [p for p in await self._cached_like(paper or cached) if p.id != paper_id]
        if paper is None:
            # Hugging Face did not answer for the paper itself: its search would not either.
            remote, problem = [], note
        else:
            remote, problem = await self._searched_like(paper, local, deadline)
        if problem and not local and not remote:
            return error_reply(fallback_note(problem, cached=False))
        paper = paper or cached
        pool = unique([*remote, *local])
        results = tuple(PaperCard(p, why=f"shares: {', '.join(words)}" if words else None, why_label=None)
                        for p, words in rank(paper, pool, await cached_lists(self.store)))
        title = (f"{plural(len(results), 'related paper')} like {paper_id}: "
                 f"{textwrap.shorten(paper.title, 80, placeholder='…')}")
        note = f"{problem}; showing what could be found" if problem and remote else fallback_note(problem, cached=True)
        empty = (f"Nothing Paperboy has seen or can find is closely related to {paper_id} yet: the "
                 f"{plural(len(pool), 'paper')} it looked at share only a few words with it." if pool
                 else f"Nothing Paperboy has seen or can find is like {paper_id} yet.")
        return Reply(self.pages.first(command, title, results, note=note, empty=empty))

    async def _cached_like(self, paper: Paper) -> list[Paper]:
        terms = local_terms(paper)
        try:
            return await self.store.search_papers(terms, limit=LOCAL_LIMIT)
        except UsageError:  # too broad for the store's time budget: the title alone is narrower
            (title,) = tokens([paper.title])
            try:
                return await self.store.search_papers([w for w in title if showable(w)], limit=LOCAL_LIMIT)
            except UsageError:
                return []

    async def _searched_like(self, paper: Paper, local: list[Paper],
                             deadline: float) -> tuple[list[Paper], str | None]:
        """Search Hugging Face for the paper's most distinctive title words, within the command's deadline.

        Two queries: the top few words together (precise), and the top one alone, in case a
        search engine that wants every word finds nothing but the paper itself with all of them.
        """
        words = distinctive_title_words(paper, local)
        queries = list(dict.fromkeys(q for q in (" ".join(words[:SEARCH_WORDS]), " ".join(words[:1])) if q))
        if not queries:
            return [], None
        left = max(deadline - asyncio.get_running_loop().time(), 0.1)
        try:
            # `fresh` shields each request: one cut short here goes on and fills the cache for next time.
            answers = await asyncio.wait_for(asyncio.gather(*(
                self.lookups.fresh(f"search:{q}", lambda q=q: self.hf.search(q, limit=SEARCH_LIMIT), have_cache=bool(local))
                for q in queries)), left)
        except asyncio.TimeoutError:
            return [], f"Hugging Face search did not answer in time (the deadline is {self.answer_timeout:g} s)"
        found = [p for papers, _ in answers for p in papers or () if p.id != paper.id]
        problems = [note for _, note in answers if note]
        # Search hits may carry only a title: what the cache knows of them ranks better.
        known = await self.store.get_papers([p.id for p in found])
        return [known.get(p.id, p) for p in found], problems[0] if problems else None
