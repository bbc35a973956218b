"""Daily picks and digests ranked by interest: `picks <n>` / `picks off`, `rank interest` / `rank upvotes`.

Picks: once a day, at the channel's digest time in its zone (09:00 there when it has no digest),
one post "Today's picks for this channel" with the n best candidates it has not had yet, queued
through the outbox with their ledger rows (`Store.enqueue_picks`), so each day's picks go out
once whatever crashes. Independent of topics: a channel may have both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Protocol

from bot.commands.answers import UsageError, int_arg
from bot.ranking.channel_interest import Interest, Pool
from bot.model.channels import Command
from bot.ranking.interest import MIN_POSITIVES
from bot.delivery.planning import picks_post
from bot.model.replies import Reply, Text
from bot.model.rows import Channel
from bot.ports.store import ChannelStore, CommunityStore, LedgerStore
from bot.delivery.timezones import get_zone

PICKS_TIME = "09:00"
"""When the picks go out in a channel without a digest (in its zone)."""
RANKS = ("interest", "upvotes")


class PicksStore(ChannelStore, LedgerStore, CommunityStore, Protocol):
    """What picks use: the channel's settings, the queue, and the channel's signals (its cold start)."""


def picks_time(channel: Channel) -> str:
    return channel.digest_time or PICKS_TIME


def last_picks_slot(channel: Channel, now: datetime) -> datetime:
    """The channel's most recent picks time at or before *now* (wall-clock time in its zone)."""
    zone = get_zone(channel.timezone)
    local = now.astimezone(zone)
    hour, minute = map(int, picks_time(channel).split(":"))
    for back in (0, 1):
        day = local.date() - timedelta(days=back)
        slot = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        if slot <= local:
            return slot
    raise AssertionError("unreachable: yesterday's slot is in the past")


def picks_due(channel: Channel, now: datetime) -> datetime | None:
    """The picks time due now and not yet served, or None (no picks, paused, or served)."""
    if not channel.picks or channel.paused_reason:
        return None
    slot = last_picks_slot(channel, now)
    if channel.last_picks_at is not None and channel.last_picks_at >= slot:
        return None
    return slot


class Picks:
    """The `picks` and `rank` commands, and the poller's daily picks and interest-ranked digests."""

    def __init__(self, *, store: PicksStore, clock: Callable[[], datetime], interest: Interest) -> None:
        self.store = store
        self.clock = clock
        self.interest = interest

    async def picks(self, command: Command) -> Reply:
        word = command.args.strip().lower()
        if not word:
            raise UsageError("Say how many papers a day, from 1 to 10 ('picks 3'), or 'picks off'.")
        channel = await self.store.ensure_channel(command.channel)
        if word == "off":
            await self.store.update_channel(channel.id, picks=None)
            return Reply(Text("Picks off: no more daily picks here."))
        count = int_arg(word, default=3, low=1, high=10, what="the number of picks")
        # Served up to now: the first picks go out at the next picks time, not at once.
        updated = await self.store.update_channel(channel.id, picks=count, last_picks_at=self.clock())
        lines = [f"Picks on: every day at {picks_time(updated)} {updated.timezone}, the {count} "
                 f"paper{'s' if count != 1 else ''} this channel may like most that it has not had yet, "
                 "learned from its 👍, saves and 👎."]
        lines += await self._cold_line(updated)
        return Reply(Text("\n".join(lines)))

    async def rank(self, command: Command) -> Reply:
        word = command.args.strip().lower()
        if word not in RANKS:
            raise UsageError("Say 'rank interest' (by what this channel likes) or 'rank upvotes'.")
        channel = await self.store.ensure_channel(command.channel)
        updated = await self.store.update_channel(channel.id, digest_rank=word)
        if word == "upvotes":
            return Reply(Text("Digests here choose and order their top papers by Hugging Face upvotes."))
        lines = ["Digests here choose and order their top papers by this channel's interest, learned from its "
                 "👍, saves and 👎."]
        if not updated.digest_time:
            lines.append("This channel has no digest yet: set one with 'digest 09:00'.")
        lines += await self._cold_line(updated)
        return Reply(Text("\n".join(lines)))

    async def _cold_line(self, channel: Channel) -> list[str]:
        positives = sum(max(s.positive, 0) for s in await self.store.channel_signals(channel.id))
        if positives >= MIN_POSITIVES:
            return []
        return [f"Until this channel has {MIN_POSITIVES} 👍 or saves (it has {positives}), they are ranked by "
                "upvotes."]

    async def queue_due(self, channels: list[Channel], *, now: datetime) -> int:
        """Queue the picks of every channel whose picks time has come; return how many posts were queued."""
        due = [(channel, slot) for channel in channels if (slot := picks_due(channel, now)) is not None]
        pool: Pool | None = await self.interest.pool() if due else None
        queued = 0
        for channel, slot in due:
            ranking = await self.interest.rank(channel, pool=pool)
            chosen = ranking.papers[: channel.picks or 0]
            tag, title = picks_post(slot, ranking.cold)
            if chosen and await self.store.enqueue_picks(channel.id, tag=tag, title=title,
                                                         picks=[(p.id, why) for p, why in chosen], at=now):
                queued += 1
            elif not chosen:  # nothing new today: served all the same
                await self.store.update_channel(channel.id, last_picks_at=now)
        return queued

    async def digest_order(self, channel: Channel, paper_ids: list[str], papers: dict) -> tuple[list[str], str | None]:
        """*paper_ids* (upvote order) as a digest with ``rank interest`` orders them, and the cold-start line."""
        if channel.digest_rank != "interest" or not paper_ids:
            return paper_ids, None
        ranking = await self.interest.order(channel, [papers[pid] for pid in paper_ids])
        return [p.id for p, _ in ranking.papers], ranking.cold
