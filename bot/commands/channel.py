"""The commands that manage a channel: its topics, schedule, threshold, and health."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Callable, Protocol

from bot.commands.answers import UsageError, int_arg, query_arg
from bot.sources.arxiv_feeds import last_reads
from bot.model.channels import Command, Group
from bot.ports.adapter import THREADS
from bot.sources.lists import as_known, cached_lists
from bot.sources.lookups import Lookups
from bot.commands.paging import Pages
from bot.ports.platforms import named
from bot.model.replies import PaperCard, Reply, Text
from bot.delivery.schedule import (digest_name, is_weekly, next_digest_at, parse_clock_time, parse_digest_days,
                          parse_zone_and_size)
from bot.delivery.timezones import get_zone
from bot.topics import QueryError, parse_query
from bot.topics.arxiv_taxonomy import is_known
from bot.ports.store import ChannelStore, HealthStore, LedgerStore, OutboxStore, PaperStore, StateStore
from bot.model.rows import Channel, Topic
from bot.model.wording import plural

MAX_TOPICS_PER_CHANNEL = 25  # Discord autocomplete shows at most 25 choices
_NOTIFY = re.compile(r"\s+notify\s+@(\S.*)$", re.IGNORECASE)
"""The end of ``subscribe <query> notify @group`` (the adapter wrote the group as ``@name``)."""
_BARE_NOTIFY = re.compile(r"(?:\S\s+notify(?:\s+[^@\s]\S*)?|^notify)\s*$", re.IGNORECASE)
"""``notify`` after a query, alone or before one word without ``@``: a slip, not a word of the topic.
A query that starts with the word (``notify systems``) is a query."""


class ChannelCommandsStore(ChannelStore, PaperStore, LedgerStore, OutboxStore, StateStore, HealthStore, Protocol):
    """What the channel's commands use: its settings and topics, the cache for baselines, what was delivered and
    is owed (`status`), the categories' last reads, and the database's trouble."""


class ChannelCommands:
    """Subscribe, unsubscribe, topics, digest, realtime, threshold, resume, settings, status."""

    def __init__(
        self,
        *,
        store: ChannelCommandsStore,
        clock: Callable[[], datetime],
        lookups: Lookups,
        pages: Pages,
        capabilities: Callable[[str], frozenset[str]] = lambda platform: frozenset(),
    ) -> None:
        self.store = store
        self.capabilities = capabilities
        """What a platform's adapter has (threads, buttons, files)."""
        self.lookups = lookups
        """The current lists for `subscribe`'s first matches; the sources' waits (a rate limit) for `status`."""
        self.clock = clock
        self.pages = pages

    async def subscribe(self, command: Command) -> Reply:
        text, group = _notify_clause(command)
        query = query_arg(text)
        channel = await self.store.ensure_channel(command.channel)
        topics = await self.store.list_topics(channel.id)
        if same := next((t for t in topics if _key(t.query) == query.key), None):
            raise UsageError(f"This channel already follows {same.query} (topic {same.number}).")
        if len(topics) >= MAX_TOPICS_PER_CHANNEL:
            raise UsageError(f"A channel can follow at most {MAX_TOPICS_PER_CHANNEL} topics; "
                             "unsubscribe from one first, or combine them with OR.")
        topic = await self.store.add_topic(channel.id, query.text, command.caller.name, at=self.clock(),
                                           added_by_id=command.caller.id, notify=group.id if group else None,
                                           notify_name=group.name if group else None)
        lists, note = await self.lookups.current_lists()
        # As the cache knows them, so cat: sees the categories an arXiv read gave them, as the poller does.
        pool = await as_known(self.store, lists.papers()) if lists else await cached_lists(self.store)
        if lists is not None and lists.complete:
            # Papers in the lists that match now are the baseline: shown here, never posted later. One that
            # misses a filter (upvotes:>=20) is looked at again each poll and posted once it passes.
            await self.store.record_baseline(channel.id, [p.id for p in pool if query.match(p)], at=self.clock())
            await self.store.mark_baseline_taken([topic.id])
        matches = [(p, m) for p in pool if (m := query.match(p))]
        cards = tuple(PaperCard(p, m.explain()) for p, m in matches)
        how = f"in the {digest_name(channel)}" if channel.digest_time else "here as they appear"
        what = "every new paper" if query.everything else "new matching papers"
        if query.everything and channel.min_upvotes:
            what = f"every new paper with at least {channel.min_upvotes} upvotes"
        title = f"Subscribed to {query.text} (topic {topic.number})"
        if matches:
            title += (f": {plural(len(matches), 'paper')} in the current lists "
                      f"{'matches' if len(matches) == 1 else 'match'} already")
        later = f"From now on {what} will be posted {how}."
        if categories := query.categories():
            later += f" It also follows arXiv's new submissions in {', '.join(sorted(categories))}."
        if group:
            later += f" Each post of this topic mentions @{group.name}."
        return Reply(self.pages.first(command, title, cards, note=f"{later} {note}." if note else later,
                                      empty="Nothing in the current lists matches yet."))

    async def unsubscribe(self, command: Command) -> Reply:
        channel = await self.store.get_channel(command.channel)
        topics = await self.store.list_topics(channel.id) if channel else []
        if not topics:
            raise UsageError("This channel has no topics.")
        wanted = command.args.strip()
        if not wanted:
            raise UsageError("Say which topic: its number from 'topics', or its text.")
        number, _, rest = wanted.partition(". ")  # autocomplete labels look like "2. query"
        if number.isdigit() and (rest or wanted == number):
            topic = next((t for t in topics if str(t.number) == number.lstrip("0")), None)
            if topic is None:
                raise UsageError(f"There is no topic {number[:10]} here. This channel's topics:\n"
                                 + _topic_lines(topics))
        else:
            key = _key(wanted)
            topic = next((t for t in topics if t.query == wanted or _key(t.query) == key), None)
            if topic is None:
                raise UsageError(f"This channel does not follow '{wanted[:100]}'. Its topics:\n"
                                 + _topic_lines(topics))
        await self.store.remove_topic(topic.id)
        left = len(topics) - 1
        after = (f"This channel still follows {left} topic{'s' if left != 1 else ''}; "
                 "their numbers stay as shown." if left else "This channel follows no topics now.")
        return Reply(Text(f"Unsubscribed from topic {topic.number}: {topic.query}. {after}"))

    async def topics(self, command: Command) -> Reply:
        channel = await self.store.get_channel(command.channel)
        topics = await self.store.list_topics(channel.id) if channel else []
        if not topics:
            return Reply(Text("This channel follows no topics yet. Add one with 'subscribe <query>'."))
        lines = [f"{t.number}. {t.query}  (added by {t.added_by}, {t.added_at:%Y-%m-%d}"
                 + (f"; notifies @{t.notify_name}" if t.notify else "") + ")" for t in topics]
        return Reply(Text("\n".join(lines), title="Topics followed in this channel"))

    async def digest(self, command: Command) -> Reply:
        channel = await self.store.ensure_channel(command.channel)
        words = command.args.split()
        if not words:
            raise UsageError("Give a time, like 'digest 09:00 Europe/Paris top 5', 'digest weekly mon 09:00' "
                             "or 'digest weekdays 09:00', or 'digest off'.")
        if words[0].lower() == "off":
            await self.store.update_channel(channel.id, digest_time=None, digest_days=None, realtime=True)
            return Reply(Text("Digest off: new matching papers will be posted as they appear."))
        days, words = parse_digest_days(words)
        if not words:
            raise UsageError("Give the time of day too, like 'digest weekdays 09:00 Europe/Paris top 5'.")
        hour_minute = parse_clock_time(words[0])
        zone, size = parse_zone_and_size(words[1:])
        zone_name = zone or channel.timezone
        top_n = int_arg(size or "", default=channel.top_n, low=1, high=25, what="the digest size")
        updated = await self.store.update_channel(
            channel.id, digest_time=hour_minute, digest_days=days, timezone=zone_name, top_n=top_n,
            realtime=False, last_digest_at=self.clock(),
        )
        upcoming = next_digest_at(updated, self.clock()).astimezone(get_zone(zone_name))
        since = " of the week" if is_weekly(updated) else ""
        return Reply(Text(f"{digest_name(updated).capitalize()} at {hour_minute} {zone_name} with the top {top_n} "
                          f"new papers{since}. Next one: {upcoming:%a %d %b %H:%M %Z}."))

    async def realtime(self, command: Command) -> Reply:
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

    async def threads(self, command: Command) -> Reply:
        choice = command.args.strip().lower()
        if choice not in ("on", "off"):
            raise UsageError("Say 'threads on' or 'threads off'.")
        if choice == "on" and THREADS not in self.capabilities(command.channel.platform):
            raise UsageError("This platform has no threads, so Paperboy cannot open one per paper here.")
        channel = await self.store.ensure_channel(command.channel)
        await self.store.update_channel(channel.id, threads=choice == "on")
        if choice == "on":
            return Reply(Text("Threads on: each paper posted here opens a thread with its abstract, for discussion. "
                              "Digests and roll-ups stay one message."))
        return Reply(Text("Threads off: papers are posted without a thread."))

    async def threshold(self, command: Command) -> Reply:
        if not command.args.strip():
            raise UsageError("Give the minimum number of upvotes, e.g. 'threshold 10' (0 posts everything).")
        minimum = int_arg(command.args, default=0, low=0, high=100_000, what="the minimum upvotes",
                          example="threshold 10")
        channel = await self.store.ensure_channel(command.channel)
        await self.store.update_channel(channel.id, min_upvotes=minimum)
        return Reply(Text(f"Only papers with at least {minimum} upvotes will be posted here."
                          if minimum else "All matching papers will be posted here, whatever their upvotes."))

    async def resume(self, command: Command) -> Reply:
        channel = await self.store.get_channel(command.channel)
        if channel is None or not channel.paused_reason:
            return Reply(Text("This channel is not paused; nothing to resume."))
        await self.store.update_channel(channel.id, paused_reason=None)
        return Reply(Text(f"Resumed. Paperboy had paused this channel because: {channel.paused_reason}. "
                          "Posts that were waiting will go out now."))

    async def settings(self, command: Command) -> Reply:
        channel = await self.store.ensure_channel(command.channel)
        topics = await self.store.list_topics(channel.id)
        counts = await self.store.delivery_counts(channel.id)
        lines = [
            f"Delivery: {_mode(channel)}",
            f"Minimum upvotes: {channel.min_upvotes}",
            f"Threads: {'on (one per paper posted)' if channel.threads else 'off'}",
            f"Weekly leaderboard: {channel.leaderboard_schedule or 'off'}",
            f"Digest order: {_digest_order(channel)}",
            f"Daily picks: {_picks(channel)}",
            f"Topics: {len(topics)}" + (" (see 'topics')" if topics else " (add one with 'subscribe <query>')"),
            f"Posted so far: {counts.get('sent', 0)}; waiting: "
            f"{counts.get('pending', 0) + counts.get('queued', 0)}",
        ]
        if channel.paused_reason:
            lines.append(f"PAUSED: {channel.paused_reason}")
        return Reply(Text("\n".join(lines), title="Settings for this channel"))

    async def status(self, command: Command) -> Reply:
        now = self.clock()
        state = {key: await self.store.get_state(f"poll.{key}")
                 for key in ("last_ok_at", "last_error", "last_error_at", "next_at", "started_at")}
        lines = [
            f"Last successful poll: {_ago(state['last_ok_at'], now) or 'never'}",
            _error_line(state, now),
            _next_poll_line(state, now),
        ]
        lines += [f"Waiting: {note}" for note in self.lookups.source_notes()]
        if self.store.trouble:
            lines.append(f"Database: {self.store.trouble}")
        paused = [c for c in await self.store.paused_channels()
                  if (c.ref.platform, c.ref.workspace) == (command.channel.platform, command.channel.workspace)]
        outbox = await self.store.outbox_counts()
        lines.append(f"Outbox: {outbox.get('pending', 0) + outbox.get('sending', 0)} waiting, "
                     f"{outbox.get('sent', 0)} sent, {outbox.get('dead', 0)} given up")
        unconfirmed, since = await self.store.outbox_unconfirmed()
        if unconfirmed:  # maybe sent before a crash: the platform cannot say yet (Slack: history once a minute)
            lines.append(f"Waiting for confirmation: {unconfirmed} post{'s' if unconfirmed != 1 else ''} "
                         f"(since {_ago(since.isoformat() if since else None, now) or 'an unknown time'})")
        lines += await self._category_lines(command, now)
        lines.append("Paused channels: " + ("none" if not paused else ""))
        lines += [f"  {c.ref.channel}: {c.paused_reason}" for c in paused]
        return Reply(Text("\n".join(lines), title="Paperboy status"))


    async def _category_lines(self, command: Command, now: datetime) -> list[str]:
        """When the arXiv categories this channel's topics name were last read, if they name any."""
        channel = await self.store.get_channel(command.channel)
        categories: set[str] = set()
        for topic in await self.store.list_topics(channel.id) if channel else []:
            try:
                categories |= parse_query(topic.query).categories()
            except QueryError:
                continue  # the poller skips it too, and says so in the log
        if not categories:
            return []
        reads = await last_reads(self.store, categories)
        return ["arXiv categories here: " + ", ".join(
            f"{name} ({_read_note(name, at, now)})" for name, at in reads.items())]


def _notify_clause(command: Command) -> tuple[str, Group | None]:
    """Split ``<query> notify @group`` into the query and the group the adapter resolved, or raise UsageError."""
    match = _NOTIFY.search(command.args)
    if match is None:
        if _BARE_NOTIFY.search(command.args):
            raise UsageError("notify needs a group: subscribe <query> notify @group "
                             "(pick the group from the mention list as you type @).")
        return command.args, None
    name = match[1].strip().lstrip("@")
    group = next((g for g in command.groups if g.name.lstrip("@").lower() == name.lower()), None)
    if group is None:
        platform = named(command.channel.platform)
        hint = f" ({platform.group_hint})" if platform is not None else ""
        raise UsageError(f"Paperboy cannot tell which group @{name[:60]} is. Pick it from your platform's "
                         f"mention list as you type{hint}.")
    return command.args[:match.start()], Group(group.id, group.name.lstrip("@"))


def _read_note(category: str, at: datetime | None, now: datetime) -> str:
    if not is_known(category):  # stored before topics were checked: the poller skips it
        return "not an arXiv category, never read"
    return f"read {_ago(at.isoformat(), now)}" if at else "not read yet"


def _topic_lines(topics: list[Topic]) -> str:
    return "\n".join(f"{t.number}. {t.query}" for t in topics)


def _error_line(state: dict[str, str | None], now: datetime) -> str:
    """Tell a current problem (no successful poll since) from one a later poll got past."""
    error, error_at, ok_at = state["last_error"], state["last_error_at"], state["last_ok_at"]
    if not error:
        return "Last error: none"
    when = _ago(error_at, now) or "time unknown"
    if ok_at and error_at and datetime.fromisoformat(ok_at) > datetime.fromisoformat(error_at):
        return f"Last error (past; a later poll succeeded): {error} ({when})"
    return f"Current error (no successful poll since): {error} ({when})"


def _next_poll_line(state: dict[str, str | None], now: datetime) -> str:
    """Say when the next poll is due, and whether one is running (and for how long) or overdue."""
    started, next_at = state["started_at"], state["next_at"]
    if started:
        running = int((now - datetime.fromisoformat(started)).total_seconds())
        return f"Poll in progress: running for {running} s (started {_ago(started, now)})"
    if not next_at:
        return "Next poll: not scheduled (the poller is not running)"
    late = int((now - datetime.fromisoformat(next_at)).total_seconds())
    if late > 60:
        return f"Next poll: overdue by {late} s (due {_ago(next_at, now)}); is the poller stuck?"
    if late >= 0:  # its time has come: the poller starts it within moments
        return f"Next poll: due now ({datetime.fromisoformat(next_at):%Y-%m-%d %H:%M} UTC)"
    return f"Next poll: {_ago(next_at, now)}"


def _key(text: str) -> str:
    """What tells topics apart: *text* folded (``Merging`` is ``merging``), or as it is if it does not parse."""
    try:
        return parse_query(text).key
    except QueryError:
        return text


def _mode(channel: Channel) -> str:
    if channel.digest_time:
        return f"{digest_name(channel)} at {channel.digest_time} {channel.timezone}, top {channel.top_n}"
    return "each paper as it appears" if channel.realtime else "off (no digest set)"


def _digest_order(channel: Channel) -> str:
    if channel.digest_rank == "interest":
        return "interest (what this channel 👍, saves and 👎; 'rank upvotes' to change)"
    return "upvotes ('rank interest' to order by what this channel likes)"


def _picks(channel: Channel) -> str:
    if not channel.picks:
        return "off ('picks 3' for the 3 papers this channel may like most, daily)"
    return f"{channel.picks} a day at {channel.digest_time or '09:00'} {channel.timezone}"


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
