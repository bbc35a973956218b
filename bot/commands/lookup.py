"""The commands that look papers up: `trending`, `today`, `search` and `show`.

They ask the sources through the shared `Lookups` service and page long answers with `more`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.commands.answers import (UsageError, cards, error_reply, fallback_note, int_arg, parse_day, query_arg,
                         ranked_matches, unique)
from bot.model.channels import Command
from bot.model.ids import normalize_paper_id, paper_id_in
from bot.sources.lookups import Lookups
from bot.commands.paging import PAGE, Pages
from bot.model.paper import Paper
from bot.model.replies import PaperCard, Reply
from bot.ports.store import PaperStore
from bot.topics import Query
from bot.model.wording import plural

SEARCH_LIMIT = 20
"""Results asked of Hugging Face per OR branch of a search."""
LIST_FRESH_FOR = timedelta(minutes=5)
"""A cached trending list younger than this answers `trending` without asking the source."""


class LookupCommands:
    """Answer the look-up commands from Hugging Face (then arXiv), falling back to the cache."""

    def __init__(self, *, store: PaperStore, lookups: Lookups, pages: Pages) -> None:
        self.store = store
        self.lookups = lookups
        self.hf = lookups.hf
        self.clock = lookups.clock
        self.pages = pages

    async def trending(self, command: Command) -> Reply:
        count = int_arg(command.args, default=PAGE, low=1, high=25, what="the number of papers",
                        example="trending 5")
        cached, saved_at = await self.store.get_list("trending")
        title = "Trending on Hugging Face Papers"
        if cached and saved_at and self.clock() - saved_at < LIST_FRESH_FOR:
            # The poller or another command fetched it moments ago: no need to ask again.
            return Reply(self.pages.first(command, title, cards(cached), size=count))
        papers, note = await self.lookups.fresh("trending", lambda: self.hf.trending(limit=50),
                                                have_cache=bool(cached), list_name="trending")
        if papers is None:
            if not cached:
                return error_reply(fallback_note(note, cached=False))
            papers, note = cached, fallback_note(note, cached=True, saved_at=saved_at)
        return Reply(self.pages.first(command, title, cards(papers), note=note, size=count,
                                      empty="The trending list is empty."))

    async def today(self, command: Command) -> Reply:
        arg = command.args.strip()
        day = parse_day(arg) if arg else self.clock().date()
        cached = [p for p in await self.store.papers_since(day) if p.daily_date == day]
        papers, note = await self.lookups.fresh(f"daily:{day}", lambda: self.hf.daily(day), have_cache=bool(cached))
        title = f"Daily Papers for {day.isoformat()}"
        if papers is not None and not papers and not arg:
            # Nothing posted yet today (or a weekend): the newest list is what people want.
            papers, note = await self.lookups.fresh("daily:latest", lambda: self.hf.daily(None))
            title = f"Latest Daily Papers (none yet for {day.isoformat()})"
        if papers is None:
            if not cached:
                return error_reply(fallback_note(note, cached=False))
            papers, note = cached, fallback_note(note, cached=True)
        papers = sorted(papers, key=lambda p: -(p.upvotes or 0))
        return Reply(self.pages.first(command, title, cards(papers), note=note,
                                      empty=f"No Daily Papers for {day.isoformat()}."))

    async def search(self, command: Command) -> Reply:
        if paper_id := paper_id_in(command.args):
            raise UsageError(f"Search looks for words; to see that paper, use: show {paper_id}")
        query = query_arg(command.args)
        if query.everything:
            raise UsageError("Search needs words to look for; '*' (every paper) is for subscribe.")
        if not query.search_terms():
            raise UsageError("Search needs words to look for; filters such as upvotes:>=50 or cat:cs.CL only "
                             "narrow what the words find (a topic can follow them alone: subscribe).")
        cached = await self.store.search_papers(query.search_terms())
        local = [p for p in cached if query.match(p)]
        found, note = await self._search_upstream(query, have_cache=bool(local))
        # Flat search results carry only a title: keep them unless the full record says otherwise.
        known = await self.store.get_papers([p.id for p in found])
        candidates = [known.get(p.id, p) for p in found]
        remote = [p for p in candidates if not p.abstract or query.match(p)]
        if note and not found and not local:
            return error_reply(fallback_note(note, cached=False))
        if note:
            note = fallback_note(note, cached=bool(local))
        ranked = ranked_matches(query, unique([*remote, *local]))
        results = tuple(PaperCard(p, m.explain() if m else None) for p, m in ranked)
        return Reply(self.pages.first(command, f"Search: {query.text}", results, note=note,
                                      empty=_no_match(query, unique([*candidates, *cached]))))

    async def _search_upstream(self, query: Query, *, have_cache: bool) -> tuple[list[Paper], str | None]:
        """Search Hugging Face once per OR branch of *query*, concurrently; merge what comes back.

        The search engine takes words, not our language: the whole query as one string would
        look for every word at once and find only papers that have them all.
        """
        branches = [" ".join(t.strip('"').rstrip("*") for t in branch) for branch in query.search_branches()]
        answers = await asyncio.gather(*(
            self.lookups.fresh(f"search:{words}", lambda words=words: self.hf.search(words, limit=SEARCH_LIMIT),
                               have_cache=have_cache)
            for words in dict.fromkeys(branches)
        ))
        notes = [note for _, note in answers if note]
        return [p for papers, _ in answers for p in papers or ()], notes[0] if notes else None

    async def show(self, command: Command) -> Reply:
        if not command.args.strip():
            raise UsageError("Give an arXiv id or a paper URL.")
        paper_id = normalize_paper_id(command.args)
        paper, note, cached = await self.lookups.look_up(paper_id)
        if paper is None and cached is not None:
            return Reply(PaperCard(cached, note=fallback_note(note, cached=True), detail=True))
        if paper is None:
            return error_reply(note or f"No paper {paper_id}.")
        return Reply(PaperCard(paper, note=note, detail=True))


def _no_match(query: Query, seen: list[Paper]) -> str:
    """Say that nothing matched, and why a category filter may be the cause."""
    if not query.categories():
        return f"No papers match {query.text}."
    known = sum(1 for p in seen if p.categories)
    # Hugging Face gives no categories: only papers an arXiv read or look-up brought can pass cat:.
    return (f"No papers match {query.text}. cat: passes only papers whose arXiv categories Paperboy knows "
            f"({known} of the {plural(len(seen), 'paper')} the words found here); Hugging Face does not give "
            f"them. 'preview {query.text}' reads the newest in {', '.join(sorted(query.categories()))} from arXiv.")
