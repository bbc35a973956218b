"""`leaderboard`: this channel's papers of the week or month, ranked by 👍 then saves; or every week."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Protocol

from bot.commands.answers import UsageError
from bot.model.channels import Command
from bot.delivery.planning import leaderboard_post
from bot.model.replies import PaperCard, PaperList, Reply, Text
from bot.model.rows import Channel
from bot.delivery.schedule import last_weekly_at, next_weekly_at, parse_clock_time, parse_weekday, weekly_schedule
from bot.ports.store import ChannelStore, CommunityStore, LedgerStore, PaperStore, StateStore
from bot.delivery.timezones import get_zone

PERIODS = {"week": timedelta(days=7), "month": timedelta(days=30)}
"""Each period the command takes, and how far back it reaches from now."""
MAX_RANKED = 10
"""Papers one leaderboard shows."""
SINCE_KEY = "leaderboard.since.{channel}"
"""State: when the channel's weekly leaderboard was scheduled (a slot before it is never posted)."""
LAST_KEY = "leaderboard.last.{channel}"
"""State: the last weekly slot the poller handled for the channel."""


class LeaderboardStore(ChannelStore, PaperStore, LedgerStore, CommunityStore, StateStore, Protocol):
    """What the leaderboard uses: the channel, its papers and their 👍 and saves, the queue, its schedule's state."""


def counts(votes: int, saves: int) -> str:
    return f"👍 {votes} · 🔖 {saves}"


class Leaderboard:
    """The channel's most 👍 (then most saved) papers of the last week or month: posted, 👍 or saved there."""

    def __init__(self, *, store: LeaderboardStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    async def leaderboard(self, command: Command) -> Reply:
        words = command.args.split()
        if words and words[0].lower() in ("weekly", "off"):
            if not command.caller.can_manage:
                raise UsageError("Only people who can manage this channel can schedule its leaderboard; "
                                 "anyone can see it with 'leaderboard week'.")
            return await (self._weekly(command, words[1:]) if words[0].lower() == "weekly" else self._off(command))
        period = command.args.strip().lower() or "week"
        if period not in PERIODS:
            raise UsageError(f"'{command.args.strip()[:40]}' is not a period; say 'week' (the default) or 'month'.")
        empty = Reply(Text(f"No 👍 or saves in this channel this {period} yet: try 'vote <id>' or 'save <id>' "
                           "on a paper posted here or any paper 'show' finds."), private=True)
        channel = await self.store.get_channel(command.channel)
        found = await self.ranked(channel, since=self.clock() - PERIODS[period]) if channel else ()
        if not found:
            return empty
        return Reply(PaperList(title=f"Top papers in this channel this {period} (1–{len(found)} of {len(found)})",
                               cards=found))

    async def ranked(self, channel: Channel, *, since: datetime) -> tuple[PaperCard, ...]:
        """The channel's top papers since *since*, each with its counts."""
        ranked = await self.store.leaderboard(channel.id, since=since, limit=MAX_RANKED)
        known = await self.store.get_papers([row.paper_id for row in ranked])
        # A paper gone from the cache has no title or link to show: it is left out.
        return tuple(PaperCard(known[row.paper_id], why=counts(row.votes, row.saves), why_label=None)
                     for row in ranked if row.paper_id in known)

    async def _weekly(self, command: Command, words: list[str]) -> Reply:
        if len(words) < 2 or len(words) > 3:
            raise UsageError("Say when, like 'leaderboard weekly fri 17:00 Europe/Paris'.")
        channel = await self.store.ensure_channel(command.channel)
        day, clock_time = parse_weekday(words[0]), parse_clock_time(words[1])
        zone = get_zone(words[2]).key if len(words) == 3 else channel.timezone
        schedule = weekly_schedule(day, clock_time, zone)
        now = self.clock()
        await self.store.update_channel(channel.id, leaderboard_schedule=schedule)
        await self.store.set_state(SINCE_KEY.format(channel=channel.id), now.isoformat())
        upcoming = next_weekly_at(schedule, now)
        return Reply(Text(f"Every week on {upcoming:%A} at {clock_time} {zone}, Paperboy posts this channel's "
                          f"top papers of the week by 👍. Next one: {upcoming:%a %d %b %H:%M %Z}."))

    async def _off(self, command: Command) -> Reply:
        channel = await self.store.get_channel(command.channel)
        if channel is None or not channel.leaderboard_schedule:
            return Reply(Text("This channel has no weekly leaderboard; nothing to turn off."))
        await self.store.update_channel(channel.id, leaderboard_schedule=None)
        return Reply(Text("Weekly leaderboard off. 'leaderboard week' still shows it on request."))

    async def queue_weekly(self, channels: list[Channel], *, now: datetime) -> int:
        """Queue each channel's weekly leaderboard whose time has come (once per slot); return how many."""
        queued = 0
        for channel in channels:
            if not channel.leaderboard_schedule or channel.paused_reason:
                continue
            slot = last_weekly_at(channel.leaderboard_schedule, now)
            since = await self.store.get_state(SINCE_KEY.format(channel=channel.id))
            last = await self.store.get_state(LAST_KEY.format(channel=channel.id))
            if (since and slot <= datetime.fromisoformat(since)) or last == slot.isoformat():
                continue
            top = await self.ranked(channel, since=slot - PERIODS["week"])
            # A week without a 👍 or a save posts nothing: an empty board is noise.
            tag, title = leaderboard_post(slot)
            if top and await self.store.enqueue_post(channel.id, kind="leaderboard", tag=tag,
                                                     paper_ids=[c.paper.id for c in top], title=title, at=now):
                queued += 1
            await self.store.set_state(LAST_KEY.format(channel=channel.id), slot.isoformat())
        return queued
