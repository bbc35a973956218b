"""The command engine: turns a platform-neutral `Command` into a `Reply`.

Look-ups (here) go to the sources with a deadline and fall back to the cache; the
commands that manage a channel live in `bot.channel_commands`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Mapping, TypeVar

from bot.actions import Action, with_actions
from bot.answers import (UsageError, cards, error_reply, fallback_note, int_arg, parse_day, query_arg,
                         ranked_matches, unique)
from bot.channel_commands import ChannelCommands
from bot.channel_interest import Interest
from bot.channels import ChannelRef, Command
from bot.commands import COMMANDS, CommandSpec
from bot.delivery import BUTTONS, Adapter
from bot.help import help_reply
from bot.history import History
from bot.ids import normalize_paper_id, paper_id_in
from bot.leaderboard import Leaderboard
from bot.lists import CurrentLists, cached_lists, fetch_lists, remember_lists
from bot.metrics import Metrics
from bot.platforms import Platforms
from bot.paging import PAGE, Pages
from bot.paper import Paper
from bot.periods import Periods
from bot.preview import Preview
from bot.picks import Picks
from bot.recommend import Recommend
from bot.reading_list import ReadingList
from bot.signals import SignalCommands
from bot.similar import SimilarPapers
from bot.replies import ACTION_KINDS, DOWNVOTE, Error, PaperCard, PaperList, Reply, Text
from bot.sources import ArxivClient, HuggingFaceClient, PaperNotFound, SourceError
from bot.store_errors import StorageLost, StorageUnavailable
from bot.topics import Query
from bot.store import Store
from bot.wording import plural
from bot.worker import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]

MAX_COMMANDS_PER_CALLER = 2
"""Commands one person may have running at once; a third is turned away until one is answered."""
SEARCH_LIMIT = 20
"""Results asked of Hugging Face per OR branch of a search."""
LIST_FRESH_FOR = timedelta(minutes=5)
"""A cached trending list younger than this answers `trending` without asking the source."""


class Engine:
    """Answer commands. Implements `bot.delivery.CommandEngine`."""

    def __init__(
        self,
        *,
        store: Store,
        hf: HuggingFaceClient,
        arxiv: ArxivClient | None = None,
        clock: Clock | None = None,
        answer_timeout: float = 2.5,
        cache_patience: float = 1.0,
        platforms: Mapping[str, Adapter] | None = None,
        on_queued: Callable[[], None] = lambda: None,
        metrics: Metrics | None = None,
        interest: Interest | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics or Metrics()
        self.hf = hf
        self.arxiv = arxiv
        self.clock = clock or utcnow
        self.answer_timeout = answer_timeout
        self.cache_patience = cache_patience
        self.platforms = platforms if isinstance(platforms, Platforms) else Platforms(platforms or {})
        """The running adapters by platform (`bot.app.open_core`'s registry), read only for their ``capabilities``."""
        self.on_queued = on_queued
        """Called when a command queued a message (an edit of a post's 👍): the delivery worker's ``wake``."""
        self._inflight: dict[str, asyncio.Future] = {}
        self._busy: dict[tuple[str, str, str], int] = {}
        """Commands running per (platform, workspace, caller): one person cannot fill the store's queue."""
        self.pages = Pages(clock=self.clock)
        self.channels = ChannelCommands(store=store, clock=self.clock, current_lists=self._current_lists,
                                        pages=self.pages, source_notes=self._source_notes,
                                        capabilities=self.capabilities)
        self.reading = ReadingList(store=store, clock=self.clock, pages=self.pages, look_up=self.look_up,
                                   on_queued=lambda: self.on_queued())
        self.leaderboard = Leaderboard(store=store, clock=self.clock)
        self.periods = Periods(store=store, clock=self.clock, pages=self.pages, hf=hf, fresh=self._fresh)
        self.previews = Preview(store=store, clock=self.clock, pages=self.pages, arxiv=arxiv,
                                current_lists=self._current_lists, answer_timeout=answer_timeout)
        self.similar_papers = SimilarPapers(store=store, pages=self.pages, hf=hf, look_up=self.look_up,
                                            fresh=self._fresh, answer_timeout=answer_timeout)
        self.interest = interest or Interest(store=store, clock=self.clock)
        """Channels' interest models (shared with the poller's picks and digests)."""
        self.signals = SignalCommands(store=store, clock=self.clock, look_up=self.look_up, interest=self.interest)
        self.recommendations = Recommend(store=store, pages=self.pages, interest=self.interest)
        self.picks = Picks(store=store, clock=self.clock, interest=self.interest)
        self.history = History(store=store, clock=self.clock, pages=self.pages, interest=self.interest,
                               look_up=self.look_up, links=self.platforms.message_link)

    async def handle(self, command: Command) -> Reply:
        """Run *command*; bad input and source failures become an `Error` reply, never an exception."""
        with self.metrics.command_seconds.labels(command.channel.platform).time():
            return await self._handle(command)

    async def _handle(self, command: Command) -> Reply:
        spec = COMMANDS.get(command.name)
        if spec is None and not command.args and paper_id_in(command.name):
            # A pasted paper id or link on its own: what else could it ask for but the paper?
            command, spec = dataclasses.replace(command, name="show", args=command.name), COMMANDS["show"]
        if spec is None:
            name = command.name[:40]
            return error_reply(f"Unknown command '{name}'. Type 'help' to see what Paperboy can do.")
        if spec.manages and not command.caller.can_manage:
            return error_reply(
                f"Only people who can manage this channel can use '{spec.name}'. "
                "Anyone can look papers up (trending, today, search, show, similar), see topics and preview."
            )
        handler = (getattr(self, f"_{spec.name}", None) or getattr(self.reading, spec.name, None)
                   or getattr(self.leaderboard, spec.name, None) or getattr(self.periods, spec.name, None)
                   or getattr(self.similar_papers, spec.name, None)
                   or getattr(self.signals, spec.name, None) or getattr(self.recommendations, spec.name, None)
                   or getattr(self.picks, spec.name, None) or getattr(self.history, spec.name, None)
                   or getattr(self.channels, spec.name))
        reply = await self._guarded(command, spec, lambda: handler(command))
        if isinstance(reply.content, Error) or spec.private:
            return Reply(reply.content, private=True)
        return await self._with_buttons(command, reply)

    async def act(self, action: Action) -> Reply:
        """Do what a click on a post asks (save it, 👍 it); always answer the clicker privately."""
        if action.kind not in ACTION_KINDS:
            return error_reply("Paperboy does not know that button; it may be from a newer version.")
        command = Command(action.kind, action.paper_id[:100], action.caller, action.channel)
        spec = COMMANDS[action.kind]
        if spec.name == DOWNVOTE:
            reply = await self._guarded(command, spec, lambda: self.signals.downvote(command, clicked=True))
            return Reply(reply.content, private=True)
        run = ((lambda: self.reading.vote(command, message_ref=action.message_ref)) if spec.name == "vote"
               else (lambda: self.reading.save(command)))
        return Reply((await self._guarded(command, spec, run)).content, private=True)

    def capabilities(self, platform: str) -> frozenset[str]:
        """What the platform's adapter has of buttons, threads and files (nothing when it is not running)."""
        return self.platforms.capabilities(platform)

    async def _with_buttons(self, command: Command, reply: Reply) -> Reply:
        """Give a public answer's papers the save and 👍 buttons, with this channel's counts, where there are buttons."""
        content = reply.content
        if BUTTONS not in self.capabilities(command.channel.platform) or not isinstance(content, (PaperCard, PaperList)):
            return reply
        ids = [content.paper.id] if isinstance(content, PaperCard) else [c.paper.id for c in content.cards]
        channel = await self.store.get_channel(command.channel) if ids else None
        votes = await self.store.vote_counts(channel.id, ids) if channel else {}
        return Reply(with_actions(content, votes), private=reply.private)

    async def _guarded(self, command: Command, spec: CommandSpec, run: Callable[[], Awaitable[Reply]]) -> Reply:
        """Run one command or click for *command*'s caller: at most a few at once, errors as one line."""
        caller = (command.channel.platform, command.channel.workspace, command.caller.id)
        if self._busy.get(caller, 0) >= MAX_COMMANDS_PER_CALLER:
            return error_reply(f"Paperboy is still working on your last {MAX_COMMANDS_PER_CALLER} requests; "
                               "try again when they have been answered.")
        self._busy[caller] = self._busy.get(caller, 0) + 1
        try:
            return await run()
        except UsageError as error:  # also QueryError, InvalidPaperId, bad times and zones
            return error_reply(f"{error}\nUsage: {spec.usage}")
        except StorageUnavailable as error:
            log.warning("command %r: the database refuses writes (%s)", command.name, error)
            # The store's trouble says since when (a server restarting, a full disk); Paperboy retries on its own.
            return error_reply(f"Paperboy cannot use its database right now ({self.store.trouble or error}), so "
                               "nothing was changed; it keeps trying on its own: try again in a few minutes.")
        except StorageLost as error:
            log.critical("command %r: %s", command.name, error)
            return error_reply("Paperboy has lost its database and is stopping; nothing was saved. "
                               "Tell whoever runs it.")
        except Exception:
            log.exception("command %r failed", command.name)
            return error_reply("Something went wrong on Paperboy's side; the error has been logged.")
        finally:
            self._busy[caller] -= 1
            if not self._busy[caller]:
                del self._busy[caller]

    def _source_notes(self) -> list[str]:
        sources = (self.hf, self.arxiv) if self.arxiv else (self.hf,)
        return [note for source in sources if (note := source.waiting())]

    async def topic_labels(self, channel: ChannelRef) -> list[str]:
        """Return the channel's topics as ``"1. query"`` labels, by their stable numbers."""
        row = await self.store.get_channel(channel)
        if row is None:
            return []
        return [f"{t.number}. {t.query}" for t in await self.store.list_topics(row.id)]

    # -- talking to sources -------------------------------------------------------------

    async def _fresh(
        self, key: str, fetch: Callable[[], Awaitable[T]], *, have_cache: bool = False,
        list_name: str | None = None,
    ) -> tuple[T | None, str | None]:
        """Fetch and cache within the deadline; on failure return None and what went wrong, in one line.

        Concurrent commands asking for the same *key* share one request (and one cache
        write), so a crowd typing the same look-up costs the source one call. With
        *have_cache*, the wait is short: a slow source should not hold back an answer
        the cache can give. A fetch that misses the deadline goes on in the background,
        so the cache is fresh for the next person.
        """
        task = self._inflight.get(key)
        if task is None:
            task = self._inflight[key] = asyncio.ensure_future(self._fetch_and_remember(fetch, list_name))
            task.add_done_callback(lambda done: self._settled(key, done))
        patience = min(self.cache_patience, self.answer_timeout) if have_cache else self.answer_timeout
        try:
            return await asyncio.wait_for(asyncio.shield(task), patience), None
        except PaperNotFound:
            raise
        except asyncio.TimeoutError:
            # Retries may still be going on; the attempts so far say why better than the clock does.
            reason = self.hf.recent_failure() or f"no answer within {patience:g} s"
            return None, f"cannot reach Hugging Face at {self.hf.base_url}: {reason}"
        except SourceError as error:
            return None, str(error)

    async def _fetch_and_remember(self, fetch: Callable[[], Awaitable[T]], list_name: str | None) -> T:
        result = await fetch()
        now = self.clock()
        if isinstance(result, CurrentLists):
            await remember_lists(self.store, result, at=now)
        elif isinstance(result, Paper):
            await self.store.save_papers([result])
        elif isinstance(result, list):
            await self.store.save_papers(result)
            if list_name:
                await self.store.save_list(list_name, [p.id for p in result], at=now)
        return result

    def _settled(self, key: str, task: asyncio.Future) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.debug("look-up %s failed: %s", key, task.exception())  # also marks it retrieved

    async def _current_lists(self) -> tuple[CurrentLists | None, str | None]:
        cached = await cached_lists(self.store)
        lists, note = await self._fresh("lists", lambda: fetch_lists(self.hf), have_cache=bool(cached))
        if lists is not None and lists.errors:
            note = f"{lists.errors[0]}; showing what could be fetched"
        elif lists is None:
            note = fallback_note(note, cached=bool(cached))
        return lists, note

    # -- look-ups -----------------------------------------------------------------------

    async def _help(self, command: Command) -> Reply:
        return help_reply(command.args)

    async def _trending(self, command: Command) -> Reply:
        count = int_arg(command.args, default=PAGE, low=1, high=25, what="the number of papers",
                        example="trending 5")
        cached, saved_at = await self.store.get_list("trending")
        title = "Trending on Hugging Face Papers"
        if cached and saved_at and self.clock() - saved_at < LIST_FRESH_FOR:
            # The poller or another command fetched it moments ago: no need to ask again.
            return Reply(self.pages.first(command, title, cards(cached), size=count))
        papers, note = await self._fresh("trending", lambda: self.hf.trending(limit=50),
                                         have_cache=bool(cached), list_name="trending")
        if papers is None:
            if not cached:
                return error_reply(fallback_note(note, cached=False))
            papers, note = cached, fallback_note(note, cached=True, saved_at=saved_at)
        return Reply(self.pages.first(command, title, cards(papers), note=note, size=count,
                                      empty="The trending list is empty."))

    async def _today(self, command: Command) -> Reply:
        arg = command.args.strip()
        day = parse_day(arg) if arg else self.clock().date()
        cached = [p for p in await self.store.papers_since(day) if p.daily_date == day]
        papers, note = await self._fresh(f"daily:{day}", lambda: self.hf.daily(day), have_cache=bool(cached))
        title = f"Daily Papers for {day.isoformat()}"
        if papers is not None and not papers and not arg:
            # Nothing posted yet today (or a weekend): the newest list is what people want.
            papers, note = await self._fresh("daily:latest", lambda: self.hf.daily(None))
            title = f"Latest Daily Papers (none yet for {day.isoformat()})"
        if papers is None:
            if not cached:
                return error_reply(fallback_note(note, cached=False))
            papers, note = cached, fallback_note(note, cached=True)
        papers = sorted(papers, key=lambda p: -(p.upvotes or 0))
        return Reply(self.pages.first(command, title, cards(papers), note=note,
                                      empty=f"No Daily Papers for {day.isoformat()}."))

    async def _search(self, command: Command) -> Reply:
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
            self._fresh(f"search:{words}", lambda words=words: self.hf.search(words, limit=SEARCH_LIMIT),
                        have_cache=have_cache)
            for words in dict.fromkeys(branches)
        ))
        notes = [note for _, note in answers if note]
        return [p for papers, _ in answers for p in papers or ()], notes[0] if notes else None

    async def _show(self, command: Command) -> Reply:
        if not command.args.strip():
            raise UsageError("Give an arXiv id or a paper URL.")
        paper_id = normalize_paper_id(command.args)
        paper, note, cached = await self.look_up(paper_id)
        if paper is None and cached is not None:
            return Reply(PaperCard(cached, note=fallback_note(note, cached=True), detail=True))
        if paper is None:
            return error_reply(note or f"No paper {paper_id}.")
        return Reply(PaperCard(paper, note=note, detail=True))

    async def look_up(self, paper_id: str) -> tuple[Paper | None, str | None, Paper | None]:
        """Fetch *paper_id* as `show` does (Hugging Face, then arXiv) and cache it.

        Return (the fresh paper or None, a one-line note, the paper as cached before the call).
        """
        cached = await self.store.get_paper(paper_id)
        try:
            paper, note = await self._fresh(f"paper:{paper_id}", lambda: self.hf.paper(paper_id),
                                            have_cache=cached is not None)
            if paper is not None:
                # The paper endpoint lacks what only daily lists carry (comments); the cache merged both.
                paper = await self.store.get_paper(paper_id) or paper
        except PaperNotFound:
            paper, note = (await self._from_arxiv(paper_id) if self.arxiv
                           else (None, f"No paper {paper_id} on Hugging Face Papers."))
            if paper is not None:
                await self.store.save_papers([paper])
        return paper, note, cached

    async def _from_arxiv(self, paper_id: str) -> tuple[Paper | None, str | None]:
        assert self.arxiv is not None
        try:
            return await self.arxiv.paper(paper_id), "Not on Hugging Face Papers; details from arXiv."
        except PaperNotFound:
            return None, f"No paper {paper_id} on Hugging Face Papers or arXiv."
        except SourceError as error:
            return None, f"{paper_id} is not on Hugging Face Papers, and arXiv failed: {error}"

    async def _preview(self, command: Command) -> Reply:
        return await self.previews.preview(command)

    async def _more(self, command: Command) -> Reply:
        private = self.pages.is_private(command)
        page = self.pages.more(command)
        if page is None:
            return Reply(Text("Nothing more to show: 'more' continues the last list you asked for "
                              "(trending, today, search, preview, subscribe, saved or log)."), private=True)
        return Reply(page, private=private)


def _no_match(query: Query, seen: list[Paper]) -> str:
    """Say that nothing matched, and why a category filter may be the cause."""
    if not query.categories():
        return f"No papers match {query.text}."
    known = sum(1 for p in seen if p.categories)
    # Hugging Face gives no categories: only papers an arXiv read or look-up brought can pass cat:.
    return (f"No papers match {query.text}. cat: passes only papers whose arXiv categories Paperboy knows "
            f"({known} of the {plural(len(seen), 'paper')} the words found here); Hugging Face does not give "
            f"them. 'preview {query.text}' reads the newest in {', '.join(sorted(query.categories()))} from arXiv.")
