"""Digest times: parsing ``HH:MM`` and days, and working out when a channel's digest is due (daily, weekdays, weekly)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from bot.delivery.timezones import get_zone
from bot.model.usage import UsageError
from bot.model.rows import Channel

_CLOCK = re.compile(r"([01]?\d|2[0-3])[:h.]?([0-5]\d)")


def parse_clock_time(text: str) -> str:
    """Return *text* (``9:00``, ``09:00``, ``0900``, ``21h30``) as ``HH:MM``; raise UsageError."""
    match = _CLOCK.fullmatch(text.strip().lower())
    if not match:
        raise UsageError(f"'{text[:20]}' is not a time of day; write it as HH:MM, e.g. 09:00 or 17:30.")
    return f"{int(match[1]):02d}:{match[2]}"


def last_scheduled_at(channel: Channel, now: datetime) -> datetime | None:
    """Return the most recent digest time at or before *now* (on one of its days), or None without a digest."""
    if not channel.digest_time:
        return None
    local = now.astimezone(get_zone(channel.timezone))
    for back in range(8):  # a weekly digest's last slot is at most 7 days back
        scheduled = _slot(channel, local.date() - timedelta(days=back))
        if scheduled is not None and scheduled <= local:
            return scheduled
    raise AssertionError("unreachable: every digest has a day in the past week")


def next_digest_at(channel: Channel, now: datetime) -> datetime:
    """Return the next digest time after *now* (the channel must have a digest time)."""
    if not channel.digest_time:
        raise ValueError("the channel has no digest time")
    local = now.astimezone(get_zone(channel.timezone))
    for ahead in range(8):
        scheduled = _slot(channel, local.date() + timedelta(days=ahead))
        if scheduled is not None and scheduled > local:
            return scheduled
    raise AssertionError("unreachable: every digest has a day in the next week")


def _slot(channel: Channel, day: date) -> datetime | None:
    """The channel's digest time on *day*, or None when its digest skips that day."""
    if day.weekday() not in digest_weekdays(channel.digest_days):
        return None
    hour, minute = map(int, channel.digest_time.split(":"))
    # The wall-clock time in the zone, so DST changes keep the digest at the chosen hour.
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=get_zone(channel.timezone))


def digest_due(channel: Channel, now: datetime) -> datetime | None:
    """Return the digest time that is due now and not yet sent, or None."""
    scheduled = last_scheduled_at(channel, now)
    if scheduled is None or channel.paused_reason:
        return None
    if channel.last_digest_at is not None and channel.last_digest_at >= scheduled:
        return None
    return scheduled


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_weekday(text: str) -> str:
    """Return the day *text* names (``mon``, ``Monday``, ``tues``) as its three letters; raise UsageError."""
    word = text.strip().lower().rstrip(".")
    for short, full in zip(WEEKDAYS, _DAY_NAMES):
        if len(word) >= 3 and full.startswith(word):
            return short
    raise UsageError(f"'{text[:20]}' is not a day of the week; write it as mon, tue, … or monday, tuesday, ….")


def weekly_schedule(day: str, clock_time: str, zone: str) -> str:
    """The stored form of a weekly time: ``mon 09:00 Europe/Paris``."""
    return f"{day} {clock_time} {zone}"


def last_weekly_at(schedule: str, now: datetime) -> datetime:
    """Return the most recent time of a `weekly_schedule` at or before *now*, in its zone."""
    day, clock_time, zone_name = schedule.split(" ", 2)
    zone = get_zone(zone_name)
    hour, minute = map(int, clock_time.split(":"))
    local = now.astimezone(zone)
    back = (local.weekday() - WEEKDAYS.index(day)) % 7
    for days in (back, back + 7):
        date = (local - timedelta(days=days)).date()
        # Wall-clock time in the zone, so a DST change keeps the hour people chose.
        scheduled = datetime(date.year, date.month, date.day, hour, minute, tzinfo=zone)
        if scheduled <= local:
            return scheduled
    raise AssertionError("unreachable: a week back is always in the past")


def next_weekly_at(schedule: str, now: datetime) -> datetime:
    """Return the next time of a `weekly_schedule` after *now*."""
    last = last_weekly_at(schedule, now)
    date = (last + timedelta(days=7)).date()
    return datetime(date.year, date.month, date.day, last.hour, last.minute, tzinfo=last.tzinfo)


WEEKDAYS_ONLY = "mon-fri"
"""The stored `Channel.digest_days` of a weekday digest (None: every day; one day: weekly)."""


def digest_weekdays(days: str | None) -> frozenset[int]:
    """The weekday numbers (Monday 0) a stored `Channel.digest_days` names: ``mon-fri``, ``mon``, ``mon,thu``."""
    if not days:
        return frozenset(range(7))
    chosen: set[int] = set()
    for part in days.split(","):
        first, _, last = part.partition("-")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        chosen.update(range(start, end + 1))
    return frozenset(chosen)


def parse_digest_days(words: list[str]) -> tuple[str | None, list[str]]:
    """Split ``daily``, ``weekdays`` or ``weekly <day>`` off the front of *words*: (stored days, the rest).

    Anything else is a daily digest (``digest 09:00``): the words are returned as they are.
    """
    first = words[0].lower() if words else ""
    days: str | None = None
    if first == "weekly":
        if len(words) < 2:
            raise UsageError("Say which day, like 'digest weekly mon 09:00 Europe/Paris top 5'.")
        return parse_weekday(words[1]), words[2:]
    if first in ("daily", "weekdays"):
        days, words = (None if first == "daily" else WEEKDAYS_ONLY), words[1:]
    if words and _names_a_day(words[0]):
        # `digest mon 09:00` (or Discord's day option without `weekly`): say what was meant.
        raise UsageError(f"A day goes with weekly: 'digest weekly {words[0][:10].lower()} 09:00'.")
    return days, words


def parse_zone_and_size(words: list[str]) -> tuple[str | None, str | None]:
    """Read ``[time zone] [top N]`` after a digest's time: (the zone's name, N as typed), None when not given.

    A bare number is the size too (``digest 09:00 Europe/Paris 5``): the README shows it, and Discord
    joins its options that way. The caller checks N's range.
    """
    zone: str | None = None
    size: str | None = None
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word.lower() == "top":
            if not rest or not rest[0].lstrip("-").isdigit():
                raise UsageError("'top' needs a number after it, like 'digest 09:00 Europe/Paris top 5'.")
            word = rest.pop(0)
        if word.lstrip("-").isdigit():
            if size is not None:
                raise UsageError("Give the digest size once, like 'top 5'.")
            size = word
        elif zone is not None:
            raise UsageError(f"Give one time zone, not '{zone[:40]}' and '{word[:40]}': "
                             "'digest 09:00 Europe/Paris top 5'.")
        else:
            zone = get_zone(word).key
    return zone, size


def _names_a_day(word: str) -> bool:
    try:
        parse_weekday(word)
    except UsageError:
        return False
    return True


def digest_name(channel: Channel) -> str:
    """``daily digest``, ``weekday digest`` or ``weekly digest on mon``, for replies and settings."""
    if not channel.digest_days:
        return "daily digest"
    if channel.digest_days == WEEKDAYS_ONLY:
        return "weekday digest"
    if is_weekly(channel):
        return f"weekly digest on {channel.digest_days}"
    return f"digest on {channel.digest_days}"


def is_weekly(channel: Channel) -> bool:
    """A digest on one day of the week, which gathers a week of papers."""
    return len(digest_weekdays(channel.digest_days)) == 1
