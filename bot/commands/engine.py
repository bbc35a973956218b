"""The command engine: turns a platform-neutral `Command` into a `Reply`.

`Engine.handlers` is the one table from a command's name to the code that answers it; the
look-ups live in `bot.commands.lookup` (through the shared `bot.sources.lookups.Lookups`), the commands
that manage a channel in `bot.commands.channel`. Who sees a reply is decided here, once.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Awaitable, Callable, Mapping, Protocol

from bot.model.actions import Action, with_actions
from bot.commands.answers import UsageError, error_reply
from bot.commands.channel import ChannelCommands
from bot.ranking.channel_interest import Interest
from bot.model.channels import ChannelRef, Command
from bot.commands.registry import COMMANDS, CommandSpec
from bot.ports.adapter import BUTTONS, Adapter
from bot.commands.feeds import FeedLinks, Feeds
from bot.commands.help import help_reply
from bot.commands.history import History
from bot.model.ids import paper_id_in
from bot.commands.leaderboard import Leaderboard
from bot.commands.lookup import LookupCommands
from bot.sources.lookups import Lookups
from bot.runtime.metrics import Metrics
from bot.ports.platforms import Platforms
from bot.commands.paging import Pages
from bot.commands.periods import Periods
from bot.commands.preview import Preview
from bot.commands.picks import Picks
from bot.commands.recommend import Recommend
from bot.commands.reading_list import ReadingList
from bot.commands.signals import SignalCommands
from bot.commands.similar import SimilarPapers
from bot.model.replies import ACTION_KINDS, DOWNVOTE, Error, PaperCard, PaperList, Reply, Text
from bot.ports.store_errors import StorageLost, StorageUnavailable
from bot.ports.store import (ChannelStore, CommunityStore, FeedStore, HealthStore, HistoryStore, LedgerStore,
                             OutboxStore, PaperStore, StateStore)
from bot.delivery.worker import utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Handler = Callable[[Command], Awaitable[Reply]]

MAX_COMMANDS_PER_CALLER = 2
"""Commands one person may have running at once; a third is turned away until one is answered."""


class EngineStore(ChannelStore, PaperStore, LedgerStore, OutboxStore, CommunityStore, FeedStore, StateStore,
                  HistoryStore, HealthStore, Protocol):
    """What the commands use between them (all but installations and the database's own coordination)."""


class Engine:
    """Answer commands. Implements `bot.ports.adapter.CommandEngine`."""

    def __init__(
        self,
        *,
        store: EngineStore,
        lookups: Lookups,
        clock: Clock | None = None,
        platforms: Mapping[str, Adapter] | None = None,
        on_queued: Callable[[], None] = lambda: None,
        metrics: Metrics | None = None,
        interest: Interest | None = None,
        feed_links: FeedLinks | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics or Metrics()
        self.clock = clock or utcnow
        self.platforms = platforms if isinstance(platforms, Platforms) else Platforms(platforms or {})
        """The running adapters by platform (`bot.runtime.app.open_core`'s registry), read only for their ``capabilities``."""
        self.on_queued = on_queued
        """Called when a command queued a message (an edit of a post's 👍): the delivery worker's ``wake``."""
        self._busy: dict[tuple[str, str, str], int] = {}
        """Commands running per (platform, workspace, caller): one person cannot fill the store's queue."""
        self.lookups = lookups
        """The paper look-ups every collaborator shares (one request per key in flight, one cache): built by
        the composition root (`bot.runtime.app.open_core`), which decides the sources and the deadline."""
        answer_timeout = lookups.answer_timeout
        self.pages = Pages(clock=self.clock)
        self.lookup_commands = LookupCommands(store=store, lookups=self.lookups, pages=self.pages)
        self.channels = ChannelCommands(store=store, clock=self.clock, lookups=self.lookups, pages=self.pages,
                                        capabilities=self.capabilities)
        self.reading = ReadingList(store=store, clock=self.clock, pages=self.pages, lookups=self.lookups,
                                   on_queued=lambda: self.on_queued())
        self.leaderboard = Leaderboard(store=store, clock=self.clock)
        self.periods = Periods(store=store, clock=self.clock, pages=self.pages, lookups=self.lookups)
        self.previews = Preview(store=store, clock=self.clock, pages=self.pages, lookups=self.lookups,
                                answer_timeout=answer_timeout)
        self.similar_papers = SimilarPapers(store=store, pages=self.pages, lookups=self.lookups,
                                            answer_timeout=answer_timeout)
        self.interest = interest or Interest(store=store, clock=self.clock)
        """Channels' interest models (shared with the poller's picks and digests)."""
        self.signals = SignalCommands(store=store, clock=self.clock, lookups=self.lookups, interest=self.interest)
        self.recommendations = Recommend(store=store, pages=self.pages, interest=self.interest)
        self.picks = Picks(store=store, clock=self.clock, interest=self.interest)
        self.feeds = Feeds(store=store, clock=self.clock, links=feed_links)
        """`feed`, and the feeds themselves (None links: PAPERBOY_FEED_URL is not set)."""
        self.history = History(store=store, clock=self.clock, pages=self.pages, interest=self.interest,
                               look_up=self.lookups.look_up, links=self.platforms.message_link)
        self.handlers: dict[str, Handler] = self._handlers()
        """Each command's handler by the command's name (`COMMANDS`' keys, exactly)."""
        if unhandled := sorted(set(COMMANDS) - set(self.handlers)):
            # A command added to the registry without its line in `_handlers`: say so at once, not per call.
            raise TypeError(f"commands without a handler: {', '.join(unhandled)} (add each to Engine._handlers)")

    def _handlers(self) -> dict[str, Handler]:
        """Name each command's handler: the one place a command meets its code (one line per command)."""
        look, reading, channels = self.lookup_commands, self.reading, self.channels
        return {
            "help": self._help,
            "more": self._more,
            "trending": look.trending,
            "today": look.today,
            "search": look.search,
            "show": look.show,
            "week": self.periods.week,
            "month": self.periods.month,
            "similar": self.similar_papers.similar,
            "preview": self.previews.preview,
            "save": reading.save,
            "unsave": reading.unsave,
            "saved": reading.saved,
            "feed": self.feeds.feed,
            "vote": reading.vote,
            "downvote": self.signals.downvote,
            "forget": self.signals.forget,
            "recommend": self.recommendations.recommend,
            "picks": self.picks.picks,
            "rank": self.picks.rank,
            "leaderboard": self.leaderboard.leaderboard,
            "subscribe": channels.subscribe,
            "unsubscribe": channels.unsubscribe,
            "topics": channels.topics,
            "digest": channels.digest,
            "realtime": channels.realtime,
            "threads": channels.threads,
            "threshold": channels.threshold,
            "resume": channels.resume,
            "settings": channels.settings,
            "status": channels.status,
            "why": self.history.why,
            "log": self.history.log,
        }

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
        handler = self.handlers[spec.name]
        reply = await self._guarded(command, spec, lambda: handler(command))
        if _private(spec, reply):
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

    async def topic_labels(self, channel: ChannelRef) -> list[str]:
        """Return the channel's topics as ``"1. query"`` labels, by their stable numbers."""
        row = await self.store.get_channel(channel)
        if row is None:
            return []
        return [f"{t.number}. {t.query}" for t in await self.store.list_topics(row.id)]

    async def _help(self, command: Command) -> Reply:
        return help_reply(command.args)

    async def _more(self, command: Command) -> Reply:
        private = self.pages.is_private(command)
        page = self.pages.more(command)
        if page is None:
            return Reply(Text("Nothing more to show: 'more' continues the last list you asked for "
                              "(trending, today, search, preview, subscribe, saved or log)."), private=True)
        return Reply(page, private=private)



def _private(spec: CommandSpec, reply: Reply) -> bool:
    """Say whether only the caller sees *reply*: errors and private commands always; else as the handler said.

    The one place this is decided: adapters carry out `Reply.private` and never judge it again.
    """
    return reply.private or spec.private or isinstance(reply.content, Error)
