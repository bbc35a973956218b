"""`leaderboard [week|month]`: this channel's papers of the period, ranked by 👍 then saves."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from bot.answers import UsageError
from bot.channels import Command
from bot.replies import PaperCard, PaperList, Reply, Text
from bot.store import Store

PERIODS = {"week": timedelta(days=7), "month": timedelta(days=30)}
"""Each period the command takes, and how far back it reaches from now."""
MAX_RANKED = 10
"""Papers one leaderboard shows."""


def counts(votes: int, saves: int) -> str:
    return f"👍 {votes} · 🔖 {saves}"


class Leaderboard:
    """The channel's most 👍 (then most saved) papers posted in the last week or month."""

    def __init__(self, *, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    async def leaderboard(self, command: Command) -> Reply:
        period = command.args.strip().lower() or "week"
        if period not in PERIODS:
            raise UsageError(f"'{command.args.strip()[:40]}' is not a period; say 'week' (the default) or 'month'.")
        empty = Reply(Text(f"No 👍 or saves in this channel this {period} yet: try 'vote <id>' or 'save <id>' "
                           "on a paper posted here."), private=True)
        channel = await self.store.get_channel(command.channel)
        if channel is None:
            return empty
        ranked = await self.store.leaderboard(channel.id, since=self.clock() - PERIODS[period], limit=MAX_RANKED)
        known = await self.store.get_papers([row.paper_id for row in ranked])
        # A paper gone from the cache has no title or link to show: it is left out.
        found = tuple(PaperCard(known[row.paper_id], why=counts(row.votes, row.saves))
                      for row in ranked if row.paper_id in known)
        if not found:
            return empty
        return Reply(PaperList(title=f"Top papers in this channel this {period}", cards=found))
