"""`why <paper>` and `log [n]`: read a channel's real state, and let `bot.commands.why` say what it means."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Awaitable, Callable, Protocol

from bot.commands.answers import UsageError, int_arg
from bot.sources.arxiv_feeds import last_reads
from bot.ranking.channel_interest import Interest
from bot.model.channels import ChannelRef, Command
from bot.model.ids import normalize_paper_id
from bot.commands.paging import Pages
from bot.model.paper import Paper
from bot.model.replies import Reply, Text
from bot.model.rows import Channel, Topic
from bot.ports.store import ChannelStore, HistoryStore, PaperStore, StateStore
from bot.topics import QueryError, parse_query
from bot.commands.why import LIST_NAMES, Standing, WhyFacts, explain, log_line

LOG_DEFAULT = 10
LOG_MOST = 50
RECENT = 200
"""Latest outbox entries read to find the digest that left a paper out."""
LookUp = Callable[[str], Awaitable[tuple[Paper | None, str | None, Paper | None]]]
Links = Callable[[ChannelRef, str], str | None]


class HistoryCommandsStore(ChannelStore, HistoryStore, PaperStore, StateStore, Protocol):
    """What `why` and `log` read: the channel and its topics, the papers and lists, the ledger and outbox, the poll's state."""


class History:
    """The `why` and `log` commands: one paper's way through this channel, and the channel's latest posts."""

    def __init__(self, *, store: HistoryCommandsStore, clock: Callable[[], datetime], pages: Pages, interest: Interest,
                 look_up: LookUp, links: Links = lambda channel, message_ref: None) -> None:
        self.store = store
        self.clock = clock
        self.pages = pages
        self.interest = interest
        self.look_up = look_up
        """`Engine.look_up`: a paper the cache does not have is asked of Hugging Face, then arXiv."""
        self.links = links
        """A link to a message, where its platform gives one."""

    async def why(self, command: Command) -> Reply:
        if not command.args.strip():
            raise UsageError("Give an arXiv id or a paper URL, like 'why 2403.10005'.")
        paper_id = normalize_paper_id(command.args)
        channel = await self.store.get_channel(command.channel)
        paper, note = await self.store.get_paper(paper_id), None
        if paper is None:  # a paper no source brought: whether it exists, and where, is part of the answer
            paper, note, _ = await self.look_up(paper_id)
        facts = await self.facts(command.channel, channel, paper_id, paper, note=note)
        return Reply(Text("\n".join(explain(facts))), private=True)

    async def facts(self, ref: ChannelRef, channel: Channel | None, paper_id: str, paper: Paper | None, *,
                    note: str | None = None) -> WhyFacts:
        """Read what `explain` needs about *paper_id* in *channel* (None: a channel Paperboy never served)."""
        lists, listed_in = {}, []
        for name in LIST_NAMES:
            papers, saved_at = await self.store.get_list(name)
            lists[name] = saved_at
            if any(p.id == paper_id for p in papers):
                listed_in.append(name)
        last_poll = await self.store.get_state("poll.last_ok_at")
        base = WhyFacts(paper_id=paper_id, now=self.clock(), channel=channel, paper=paper, lists=lists,
                        listed_in=tuple(listed_in), last_poll=datetime.fromisoformat(last_poll) if last_poll else None,
                        note=note)
        if channel is None:
            return base
        topics = tuple(await self.store.list_topics(channel.id))
        ledger = await self.store.ledger_row(channel.id, paper_id)
        entries = tuple(await self.store.paper_outbox(channel.id, paper_id))
        recent = (tuple(await self.store.recent_outbox(channel.id, limit=RECENT))
                  if ledger is not None and ledger.state == "skipped" else ())
        links = {e.message_ref: link for e in entries
                 if e.message_ref and (link := self.links(ref, e.message_ref)) is not None}
        return dataclasses.replace(base, topics=topics, ledger=ledger, entries=entries, recent=recent, links=links,
                                   categories=await last_reads(self.store, _categories(topics)),
                                   standing=await self._standing(channel, paper))

    async def _standing(self, channel: Channel, paper: Paper | None) -> Standing | None:
        """Its rank among the channel's candidates, where the channel ranks by interest (picks, rank interest)."""
        if paper is None or not (channel.picks or channel.digest_rank == "interest"):
            return None
        return Standing(*await self.interest.standing(channel, paper))

    async def log(self, command: Command) -> Reply:
        count = int_arg(command.args, default=LOG_DEFAULT, low=1, high=LOG_MOST, what="the number of entries",
                        example="log 20")
        channel = await self.store.get_channel(command.channel)
        entries = await self.store.recent_outbox(channel.id, limit=count) if channel else []
        known = await self.store.get_papers(sorted({e.paper_ids[0] for e in entries if e.paper_ids}))
        lines = tuple(log_line(e, {pid: p.title for pid, p in known.items()}) for e in entries)
        page = self.pages.first_lines(command, "This channel's deliveries, newest first", lines, private=True,
                                      empty="Nothing has been posted or queued in this channel yet.")
        return Reply(page, private=True)


def _categories(topics: tuple[Topic, ...]) -> set[str]:
    found: set[str] = set()
    for topic in topics:
        try:
            found |= parse_query(topic.query).categories()
        except QueryError:
            continue  # the poller skips it too
    return found
