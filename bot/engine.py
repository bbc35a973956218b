"""The command engine: turns a platform-neutral `Command` into a `Reply`.

Look-ups go to the sources with a deadline and fall back to the cache; managing
commands change the channel's subscriptions and schedule in storage.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta, timezone
from typing import Awaitable, Callable, TypeVar

from bot.channels import ChannelRef, Command
from bot.commands import COMMANDS
from bot.ids import normalize_paper_id
from bot.lists import CurrentLists, cached_lists, fetch_lists, remember_lists
from bot.paper import Paper
from bot.replies import Error, PaperCard, PaperList, Reply, Text
from bot.schedule import next_digest_at, parse_clock_time
from bot.sources import ArxivClient, HuggingFaceClient, PaperNotFound, SourceError
from bot.timezones import get_zone
from bot.topics import Query, QueryError, parse_query
from storage import Store
from storage.models import Channel

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]

MAX_TOPICS_PER_CHANNEL = 25  # Discord autocomplete shows at most 25 choices
MAX_LIST = 10
PREVIEW_DAYS = 7
LIST_FRESH_FOR = timedelta(minutes=5)
"""A cached trending list younger than this answers `trending` without asking the source."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UsageError(ValueError):
    """The command's arguments are wrong; the message says how to fix them."""


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
    ) -> None:
        self.store = store
        self.hf = hf
        self.arxiv = arxiv
        self.clock = clock or utcnow
        self.answer_timeout = answer_timeout
        self.cache_patience = cache_patience
        self._inflight: dict[str, asyncio.Future] = {}

    async def handle(self, command: Command) -> Reply:
        """Run *command*; bad input and source failures become an `Error` reply, never an exception."""
        spec = COMMANDS.get(command.name)
        if spec is None:
            name = command.name[:40]
            return _error(f"Unknown command '{name}'. Type 'help' to see what Paperboy can do.")
        if spec.manages and not command.caller.can_manage:
            return _error(
                f"Only people who can manage this channel can use '{spec.name}'. "
                "Anyone can use trending, today, search, show, topics and preview."
            )
        handler = getattr(self, f"_{spec.name}")
        try:
            reply: Reply = await handler(command)
        except ValueError as error:  # UsageError, QueryError, InvalidPaperId, bad times and zones
            return _error(f"{error}\nUsage: {spec.usage}")
        except Exception:
            log.exception("command %r failed", command.name)
            return _error("Something went wrong on Paperboy's side; the error has been logged.")
        if isinstance(reply.content, Error) or spec.private:
            return Reply(reply.content, private=True)
        return reply

    async def topic_labels(self, channel: ChannelRef) -> list[str]:
        """Return the channel's topics as ``"1. query"`` labels, oldest first."""
        row = await self.store.get_channel(channel)
        if row is None:
            return []
        return [f"{n}. {t.query}" for n, t in enumerate(await self.store.list_topics(row.id), 1)]

    # -- talking to sources -------------------------------------------------------------

    async def _fresh(
        self, key: str, fetch: Callable[[], Awaitable[T]], *, have_cache: bool = False,
        list_name: str | None = None,
    ) -> tuple[T | None, str | None]:
        """Fetch and cache within the deadline; on failure return None and a note for the user.

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
            return None, (f"cannot reach Hugging Face at {self.hf.base_url} (no answer within "
                          f"{patience:g} s); showing cached results")
        except SourceError as error:
            return None, f"{error}; showing cached results"

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
        return lists, note

    # -- look-ups -----------------------------------------------------------------------

    async def _help(self, command: Command) -> Reply:
        lines = [f"{spec.usage}: {spec.summary}" for spec in COMMANDS.values()]
        lines += [
            "",
            "Topic queries: words match whole words (and plurals) in titles, abstracts and keywords;",
            '"exact phrase", prefix*, OR, -exclude or NOT exclude, (groups), title:, abstract:, author:',
            'Example: subscribe "model merging" OR unlearning -diffusion',
        ]
        return Reply(Text("\n".join(lines), title="Paperboy commands"), private=True)

    async def _trending(self, command: Command) -> Reply:
        count = _int_arg(command.args, default=MAX_LIST, low=1, high=25, what="the number of papers")
        cached, saved_at = await self.store.get_list("trending")
        if cached and saved_at and self.clock() - saved_at < LIST_FRESH_FOR:
            # The poller or another command fetched it moments ago: no need to ask again.
            return Reply(PaperList("Trending on Hugging Face Papers", _cards(cached[:count])))
        papers, note = await self._fresh("trending", lambda: self.hf.trending(limit=50),
                                         have_cache=bool(cached), list_name="trending")
        if papers is None:
            papers, note = cached, _cache_note(note, saved_at)
        title = "Trending on Hugging Face Papers"
        return Reply(PaperList(title, _cards(papers[:count]), note=note,
                               empty="The trending list is empty and nothing is cached yet."))

    async def _today(self, command: Command) -> Reply:
        arg = command.args.strip()
        day = _parse_day(arg) if arg else self.clock().date()
        cached = [p for p in await self.store.papers_since(day) if p.daily_date == day]
        papers, note = await self._fresh(f"daily:{day}", lambda: self.hf.daily(day), have_cache=bool(cached))
        title = f"Daily Papers for {day.isoformat()}"
        if papers is not None and not papers and not arg:
            # Nothing posted yet today (or a weekend): the newest list is what people want.
            papers, note = await self._fresh("daily:latest", lambda: self.hf.daily(None))
            title = f"Latest Daily Papers (none yet for {day.isoformat()})"
        if papers is None:
            papers = cached
        papers = sorted(papers, key=lambda p: -(p.upvotes or 0))
        return Reply(PaperList(title, _cards(papers[:MAX_LIST]), note=_more(note, len(papers)),
                               empty=f"No Daily Papers for {day.isoformat()}."))

    async def _search(self, command: Command) -> Reply:
        query = _query(command.args)
        words = " ".join(t.strip('"').rstrip("*") for t in query.search_terms())
        local = [p for p in await self.store.search_papers(query.search_terms()) if query.match(p)]
        found, note = await self._fresh(f"search:{words}", lambda: self.hf.search(words, limit=20),
                                        have_cache=bool(local))
        remote: list[Paper] = []
        if found is not None:
            # Flat search results carry only a title: keep them unless the full record says otherwise.
            known = await self.store.get_papers([p.id for p in found])
            remote = [known.get(p.id, p) for p in found]
            remote = [p for p in remote if not p.abstract or query.match(p)]
        papers = _unique([*remote, *local])
        cards = tuple(PaperCard(p, _why(query, p)) for p in papers[:MAX_LIST])
        return Reply(PaperList(f"Search: {query.text}", cards, note=_more(note, len(papers)),
                               empty=f"No papers match {query.text}."))

    async def _show(self, command: Command) -> Reply:
        if not command.args.strip():
            raise UsageError("Give an arXiv id or a paper URL.")
        paper_id = normalize_paper_id(command.args)
        cached = await self.store.get_paper(paper_id)
        try:
            paper, note = await self._fresh(f"paper:{paper_id}", lambda: self.hf.paper(paper_id),
                                            have_cache=cached is not None)
        except PaperNotFound:
            paper, note = (await self._from_arxiv(paper_id) if self.arxiv
                           else (None, f"No paper {paper_id} on Hugging Face Papers."))
            if paper is not None:
                await self.store.save_papers([paper])
        if paper is not None:
            return Reply(PaperCard(paper, note=note))
        if cached is not None:
            return Reply(PaperCard(cached, note=note))
        return _error(note.replace("; showing cached results", "") if note else f"No paper {paper_id}.")

    async def _from_arxiv(self, paper_id: str) -> tuple[Paper | None, str | None]:
        assert self.arxiv is not None
        try:
            return await self.arxiv.paper(paper_id), "Not on Hugging Face Papers; details from arXiv."
        except PaperNotFound:
            return None, f"No paper {paper_id} on Hugging Face Papers or arXiv."
        except SourceError as error:
            return None, f"{paper_id} is not on Hugging Face Papers, and arXiv failed: {error}"

    async def _preview(self, command: Command) -> Reply:
        query = _query(command.args)
        lists, note = await self._current_lists()
        recent = await self.store.papers_since(self.clock().date() - timedelta(days=PREVIEW_DAYS))
        pool = _unique([*(lists.papers() if lists else await cached_lists(self.store)), *recent])
        matches = [(p, m) for p in pool if (m := query.match(p))]
        cards = tuple(PaperCard(p, m.explain()) for p, m in matches[:MAX_LIST])
        title = (f"Preview of {query.text}: {len(matches)} of {len(pool)} papers in the trending list "
                 f"and the last {PREVIEW_DAYS} days of Daily Papers match")
        return Reply(PaperList(title, cards, note=_more(note, len(matches)),
                               empty="Nothing recent matches; try a broader query."))

    # -- subscriptions ------------------------------------------------------------------

    async def _subscribe(self, command: Command) -> Reply:
        query = _query(command.args)
        channel = await self.store.ensure_channel(command.channel)
        topics = await self.store.list_topics(channel.id)
        if any(t.query == query.text for t in topics):
            raise UsageError(f"This channel already follows {query.text}.")
        if len(topics) >= MAX_TOPICS_PER_CHANNEL:
            raise UsageError(f"A channel can follow at most {MAX_TOPICS_PER_CHANNEL} topics; "
                             "unsubscribe from one first, or combine them with OR.")
        topic = await self.store.add_topic(channel.id, query.text, command.caller.name, at=self.clock(),
                                           added_by_id=command.caller.id)
        lists, note = await self._current_lists()
        if lists is not None and lists.complete:
            # Papers already in the lists are the channel's baseline: shown here, never posted later.
            await self.store.record_baseline(channel.id, [p.id for p in lists.papers()], at=self.clock())
            await self.store.mark_baseline_taken([topic.id])
        pool = lists.papers() if lists else await cached_lists(self.store)
        matches = [(p, m) for p in pool if (m := query.match(p))]
        cards = tuple(PaperCard(p, m.explain()) for p, m in matches[:MAX_LIST])
        number = len(topics) + 1
        how = "in the daily digest" if channel.digest_time else "here as they appear"
        title = f"Subscribed to {query.text} (topic {number})"
        if matches:
            title += f": {len(matches)} papers in the current lists match already"
        later = f"New matching papers will be posted {how}."
        return Reply(PaperList(title, cards, note=_more(f"{later} {note}." if note else later, len(matches)),
                               empty="Nothing in the current lists matches yet."))

    async def _unsubscribe(self, command: Command) -> Reply:
        channel = await self.store.get_channel(command.channel)
        topics = await self.store.list_topics(channel.id) if channel else []
        if not topics:
            raise UsageError("This channel has no topics.")
        wanted = command.args.strip()
        if not wanted:
            raise UsageError("Say which topic: its number from 'topics', or its text.")
        number, _, rest = wanted.partition(". ")  # autocomplete labels look like "2. query"
        topic = None
        if number.isdigit() and (rest or wanted == number):
            index = int(number) - 1
            if not 0 <= index < len(topics):
                raise UsageError(f"There is no topic {number}; this channel has {len(topics)}.")
            topic = topics[index]
        else:
            canonical = _canonical(wanted)
            topic = next((t for t in topics if t.query in (wanted, canonical)), None)
            if topic is None:
                raise UsageError(f"This channel does not follow '{wanted[:100]}'. Its topics:\n"
                                 + "\n".join(f"{n}. {t.query}" for n, t in enumerate(topics, 1)))
        await self.store.remove_topic(topic.id)
        return Reply(Text(f"Unsubscribed from {topic.query}."))

    async def _topics(self, command: Command) -> Reply:
        channel = await self.store.get_channel(command.channel)
        topics = await self.store.list_topics(channel.id) if channel else []
        if not topics:
            return Reply(Text("This channel follows no topics yet. Add one with 'subscribe <query>'."))
        lines = [f"{n}. {t.query}  (added by {t.added_by}, {t.added_at:%Y-%m-%d})"
                 for n, t in enumerate(topics, 1)]
        return Reply(Text("\n".join(lines), title="Topics followed in this channel"))

    # -- schedule and settings ----------------------------------------------------------

    async def _digest(self, command: Command) -> Reply:
        channel = await self.store.ensure_channel(command.channel)
        words = command.args.split()
        if not words:
            raise UsageError("Give a time, like 'digest 09:00 Europe/Paris 5', or 'digest off'.")
        if words[0].lower() == "off":
            await self.store.update_channel(channel.id, digest_time=None, realtime=True)
            return Reply(Text("Daily digest off: new matching papers will be posted as they appear."))
        hour_minute = parse_clock_time(words[0])
        zone_name, top_n = channel.timezone, channel.top_n
        for word in words[1:]:
            if word.isdigit():
                top_n = _int_arg(word, default=top_n, low=1, high=25, what="the digest size")
            else:
                zone_name = get_zone(word).key
        updated = await self.store.update_channel(
            channel.id, digest_time=hour_minute, timezone=zone_name, top_n=top_n,
            realtime=False, last_digest_at=self.clock(),
        )
        upcoming = next_digest_at(updated, self.clock()).astimezone(get_zone(zone_name))
        return Reply(Text(f"Daily digest at {hour_minute} {zone_name} with the top {top_n} new papers. "
                          f"Next one: {upcoming:%a %d %b %H:%M %Z}."))

    async def _realtime(self, command: Command) -> Reply:
        choice = command.args.strip().lower()
        if choice not in ("on", "off"):
            raise UsageError("Say 'realtime on' or 'realtime off'.")
        channel = await self.store.ensure_channel(command.channel)
        if choice == "on":
            await self.store.update_channel(channel.id, realtime=True, digest_time=None)
            return Reply(Text("Realtime on: each new matching paper is posted as it appears (digest off)."))
        await self.store.update_channel(channel.id, realtime=False)
        if channel.digest_time:
            return Reply(Text(f"Realtime off: new papers wait for the {channel.digest_time} digest."))
        return Reply(Text("Realtime off. Nothing is posted until you set a digest, e.g. 'digest 09:00 UTC'; "
                          "matching papers wait for it."))

    async def _threshold(self, command: Command) -> Reply:
        if not command.args.strip():
            raise UsageError("Give the minimum number of upvotes, e.g. 'threshold 10' (0 posts everything).")
        minimum = _int_arg(command.args, default=0, low=0, high=100_000, what="the minimum upvotes")
        channel = await self.store.ensure_channel(command.channel)
        await self.store.update_channel(channel.id, min_upvotes=minimum)
        return Reply(Text(f"Only papers with at least {minimum} upvotes will be posted here."
                          if minimum else "All matching papers will be posted here, whatever their upvotes."))

    async def _resume(self, command: Command) -> Reply:
        channel = await self.store.get_channel(command.channel)
        if channel is None or not channel.paused_reason:
            return Reply(Text("This channel is not paused; nothing to resume."))
        await self.store.update_channel(channel.id, paused_reason=None)
        return Reply(Text(f"Resumed. Paperboy had paused this channel because: {channel.paused_reason}. "
                          "Posts that were waiting will go out now."))

    async def _settings(self, command: Command) -> Reply:
        channel = await self.store.ensure_channel(command.channel)
        topics = await self.store.list_topics(channel.id)
        counts = await self.store.delivery_counts(channel.id)
        lines = [
            f"Delivery: {_mode(channel)}",
            f"Minimum upvotes: {channel.min_upvotes}",
            f"Topics: {len(topics)}" + (" (see 'topics')" if topics else " (add one with 'subscribe <query>')"),
            f"Posted so far: {counts.get('sent', 0)}; waiting: "
            f"{counts.get('pending', 0) + counts.get('queued', 0)}",
        ]
        if channel.paused_reason:
            lines.append(f"PAUSED: {channel.paused_reason}")
        return Reply(Text("\n".join(lines), title="Settings for this channel"))

    async def _status(self, command: Command) -> Reply:
        now = self.clock()
        state = {key: await self.store.get_state(f"poll.{key}")
                 for key in ("last_ok_at", "last_error", "last_error_at", "next_at")}
        lines = [
            f"Last successful poll: {_ago(state['last_ok_at'], now) or 'never'}",
            f"Last error: {state['last_error']} ({_ago(state['last_error_at'], now)})"
            if state["last_error"] else "Last error: none",
            f"Next poll: {_ago(state['next_at'], now) or 'not scheduled (the poller is not running)'}",
        ]
        paused = [c for c in await self.store.paused_channels()
                  if (c.ref.platform, c.ref.workspace) == (command.channel.platform, command.channel.workspace)]
        outbox = await self.store.outbox_counts()
        lines.append(f"Outbox: {outbox.get('pending', 0) + outbox.get('sending', 0)} waiting, "
                     f"{outbox.get('sent', 0)} sent, {outbox.get('dead', 0)} given up")
        lines.append("Paused channels: " + ("none" if not paused else ""))
        lines += [f"  {c.ref.channel}: {c.paused_reason}" for c in paused]
        return Reply(Text("\n".join(lines), title="Paperboy status"))


# -- small helpers ----------------------------------------------------------------------


def _error(message: str) -> Reply:
    return Reply(Error(message), private=True)


def _query(text: str) -> Query:
    if not text.strip():
        raise UsageError("Give a topic query, e.g. \"model merging\" OR unlearning -diffusion.")
    return parse_query(text)


def _canonical(text: str) -> str:
    try:
        return parse_query(text).text
    except QueryError:
        return text


def _why(query: Query, paper: Paper) -> str | None:
    match = query.match(paper)
    return match.explain() if match else None


def _cards(papers: list[Paper]) -> tuple[PaperCard, ...]:
    return tuple(PaperCard(p) for p in papers)


def _unique(papers: list[Paper]) -> list[Paper]:
    return list({p.id: p for p in reversed(papers)}.values())[::-1]


def _int_arg(text: str, *, default: int, low: int, high: int, what: str) -> int:
    text = text.strip()
    if not text:
        return default
    if not text.lstrip("-").isdigit() or len(text) > 7:
        raise UsageError(f"{what.capitalize()} must be a whole number from {low} to {high}.")
    value = int(text)
    if not low <= value <= high:
        raise UsageError(f"{what.capitalize()} must be from {low} to {high}, not {value}.")
    return value


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"'{text[:40]}' is not a date; write it as YYYY-MM-DD, e.g. 2026-11-27.") from None


def _more(note: str | None, total: int) -> str | None:
    if total <= MAX_LIST:
        return note
    extra = f"{total - MAX_LIST} more not shown"
    return f"{note}. {extra}" if note else extra


def _cache_note(note: str | None, saved_at: datetime | None) -> str | None:
    if note and saved_at:
        return f"{note} from {saved_at:%Y-%m-%d %H:%M} UTC"
    return note


def _mode(channel: Channel) -> str:
    if channel.digest_time:
        return f"daily digest at {channel.digest_time} {channel.timezone}, top {channel.top_n}"
    return "each paper as it appears" if channel.realtime else "off (no digest set)"


def _ago(iso: str | None, now: datetime) -> str | None:
    if not iso:
        return None
    when = datetime.fromisoformat(iso)
    seconds = int((now - when).total_seconds())
    span = abs(seconds)
    amount = (f"{span} s" if span < 120 else f"{span // 60} min" if span < 7200
              else f"{span // 3600} h" if span < 172800 else f"{span // 86400} days")
    relative = f"{amount} ago" if seconds >= 0 else f"in {amount}"
    return f"{when:%Y-%m-%d %H:%M} UTC, {relative}"
