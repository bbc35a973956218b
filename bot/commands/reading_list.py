"""Reading lists and 👍: `save`, `unsave`, `saved` (or as BibTeX) and `vote`.

A reading list belongs to one person in one workspace or server (a `Reader`) and spans its
channels; a 👍 belongs to one channel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Protocol

from bot.commands.answers import UsageError, error_reply
from bot.model.channels import Command
from bot.model.ids import normalize_paper_id
from bot.sources.lookups import Lookups
from bot.commands.paging import Pages
from bot.model.paper import Paper
from bot.model.replies import File, PaperCard, Reply, Text
from bot.model.rows import Reader
from bot.ports.store import ChannelStore, CommunityStore, LedgerStore, PaperStore
from bot.model.wording import plural

MAX_LISTED = 5000
"""Papers of one reading list `saved` reads at once (its pages, its BibTeX)."""
EXAMPLE_ID = "2411.00001"


def reader(command: Command) -> Reader:
    return Reader(command.channel.platform, command.channel.workspace, command.caller.id)


def papers(count: int) -> str:
    return plural(count, "paper")


def _paper_arg(command: Command) -> str:
    if not command.args.strip():
        raise UsageError("Give an arXiv id or a paper URL.")
    return normalize_paper_id(command.args)


class ReadingListStore(ChannelStore, CommunityStore, LedgerStore, PaperStore, Protocol):
    """What the reading list and 👍 use: the channel, the papers, the saves and votes, and the edit of a post's count."""


class ReadingList:
    """The commands of reading lists and votes."""

    def __init__(self, *, store: ReadingListStore, clock: Callable[[], datetime], pages: Pages, lookups: Lookups,
                 on_queued: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.on_queued = on_queued
        """Wakes the delivery worker once a 👍 queued an edit of a post."""
        self.clock = clock
        self.pages = pages
        self.lookups = lookups
        """Fetches a paper as `show` does and caches it, for a save of a paper never seen."""

    async def _known(self, paper_id: str, doing: str) -> Paper | Reply:
        """The paper, from the cache or as `show` looks it up; else the one-line error that says why not."""
        if (cached := await self.store.get_paper(paper_id)) is not None:
            return cached  # posted or looked up before: no need to ask the sources again
        paper, note, cached = await self.lookups.look_up(paper_id)
        if (paper := paper or cached) is not None:
            return paper
        if note and note.startswith("No paper"):  # neither Hugging Face nor arXiv knows it
            return error_reply(note)
        return error_reply(f"Cannot look up {paper_id} to {doing}: {note or 'no answer'}; try again later.")

    async def save(self, command: Command) -> Reply:
        paper = await self._known(_paper_arg(command), "save it")
        if isinstance(paper, Reply):
            return paper
        who = reader(command)
        channel = await self.store.get_channel(command.channel)
        added = await self.store.save_paper(who, paper.id, channel_id=channel.id if channel else None,
                                            at=self.clock())
        count = await self.store.saved_count(who)
        if not added:
            return Reply(Text(f"{paper.id}: {paper.title} is already on your reading list ({papers(count)})."))
        return Reply(Text(f"Saved {paper.id}: {paper.title} to your reading list ({papers(count)})."))

    async def unsave(self, command: Command) -> Reply:
        paper_id = _paper_arg(command)
        who = reader(command)
        removed = await self.store.unsave_paper(who, paper_id)
        count = await self.store.saved_count(who)
        known = await self.store.get_paper(paper_id)
        name = f"{paper_id}: {known.title}" if known else paper_id
        if not removed:
            return Reply(Text(f"{name} is not on your reading list ({papers(count)})."))
        return Reply(Text(f"Took {name} off your reading list ({papers(count)} left)."))

    async def saved(self, command: Command) -> Reply:
        form = command.args.strip().lower()
        if form not in ("", "bibtex"):
            raise UsageError(f"'{command.args.strip()[:40]}' is not a format; 'saved bibtex' gives the list as BibTeX.")
        who = reader(command)
        count = await self.store.saved_count(who)
        if not count:
            return Reply(Text(f"Nothing saved yet: try 'save {EXAMPLE_ID}' (or a paper URL) to start your reading list."))
        rows = await self.store.saved_papers(who, limit=min(count, MAX_LISTED))
        known = await self.store.get_papers([row.paper_id for row in rows])
        # A save outlives nothing in the cache today; should a paper be missing, its id still lists it.
        listed = [known.get(row.paper_id) or Paper(id=row.paper_id, title=row.paper_id, source="arxiv")
                  for row in rows]
        if form == "bibtex":
            from bot.commands.bibtex import bibtex  # here: pylatexenc's tables load for the one command using them

            return Reply(File(name="reading-list.bib", content=bibtex(listed),
                              note=f"Your reading list as BibTeX ({plural(len(listed), 'entry', 'entries')})"))
        return Reply(self.pages.first(command, "Your reading list", tuple(PaperCard(p) for p in listed),
                                      private=True))

    async def vote(self, command: Command, *, message_ref: str | None = None) -> Reply:
        """Toggle the caller's 👍; the post clicked (*message_ref*), or else the paper's post here, shows the count."""
        paper_id = _paper_arg(command)
        # A 👍 for a paper nobody can show would count towards a leaderboard that cannot list it.
        if isinstance(paper := await self._known(paper_id, "vote for it"), Reply):
            return paper
        channel = await self.store.ensure_channel(command.channel)
        voted, count = await self.store.toggle_vote(channel.id, paper_id, command.caller.id, at=self.clock())
        await self._refresh(channel.id, paper_id, message_ref)
        if voted:
            return Reply(Text(f"👍 {paper_id} ({count} in this channel)"))
        return Reply(Text(f"Took back your 👍 on {paper_id} ({count} in this channel)"))

    async def _refresh(self, channel_id: int, paper_id: str, message_ref: str | None) -> None:
        """Queue the edit that shows the new count, paced like every send (none for a post Paperboy did not send)."""
        targets = [message_ref] if message_ref else [
            card.message_ref for card in await self.store.posted_cards([paper_id]) if card.channel_id == channel_id]
        queued = [await self.store.enqueue_refresh(channel_id, target_ref=ref, at=self.clock()) for ref in targets]
        if any(queued):
            self.on_queued()
