"""`recommend [n]`: the channel's candidates ranked by what it 👍, saved and 👎, each with why.

In a direct message the ranking is the person's own: their reading list and their 👍/👎 there.
Public like `trending`; the rest of the list waits for `more`.
"""

from __future__ import annotations

from bot.commands.answers import int_arg
from bot.ranking.channel_interest import Interest
from bot.model.channels import Command
from bot.commands.paging import PAGE, Pages
from bot.commands.reading_list import reader
from bot.model.replies import PaperCard, Reply
from bot.ports.store import ChannelStore

MAX_LISTED = 100
"""Candidates one `recommend` keeps for `more`."""


class Recommend:
    """The `recommend` command."""

    def __init__(self, *, store: ChannelStore, pages: Pages, interest: Interest) -> None:
        self.store = store
        self.pages = pages
        self.interest = interest

    async def recommend(self, command: Command) -> Reply:
        count = int_arg(command.args, default=PAGE, low=1, high=25, what="the number of papers")
        channel = await self.store.ensure_channel(command.channel)
        ranking = await self.interest.rank(channel, reader=reader(command) if command.direct else None)
        cards = tuple(PaperCard(paper, why) for paper, why in ranking.papers[:MAX_LISTED])
        whose = "you" if command.direct else "this channel"
        title = f"Recommended for {whose}" if not ranking.cold else f"Recommended for {whose} (by upvotes for now)"
        empty = ("Nothing new to recommend: the cache has no trending or recent papers this channel has not "
                 "had or signalled yet. Try again after the next poll.")
        return Reply(self.pages.first(command, title, cards, note=ranking.cold, size=count, empty=empty))
