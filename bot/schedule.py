"""Digest times: parsing ``HH:MM`` and working out when a channel's digest is due."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.timezones import get_zone
from bot.usage import UsageError
from bot.rows import Channel

_CLOCK = re.compile(r"([01]?\d|2[0-3])[:h.]?([0-5]\d)")


def parse_clock_time(text: str) -> str:
    """Return *text* (``9:00``, ``09:00``, ``0900``, ``21h30``) as ``HH:MM``; raise UsageError."""
    match = _CLOCK.fullmatch(text.strip().lower())
    if not match:
        raise UsageError(f"'{text[:20]}' is not a time of day; write it as HH:MM, e.g. 09:00 or 17:30.")
    return f"{int(match[1]):02d}:{match[2]}"


def last_scheduled_at(channel: Channel, now: datetime) -> datetime | None:
    """Return the most recent digest time at or before *now*, or None without a digest."""
    if not channel.digest_time:
        return None
    zone = get_zone(channel.timezone)
    hour, minute = map(int, channel.digest_time.split(":"))
    local = now.astimezone(zone)
    # Build the wall-clock time in the zone, so DST changes keep the digest at the chosen hour.
    scheduled = datetime(local.year, local.month, local.day, hour, minute, tzinfo=zone)
    if scheduled > local:
        day = (local - timedelta(days=1)).date()
        scheduled = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    return scheduled


def next_digest_at(channel: Channel, now: datetime) -> datetime:
    """Return the next digest time after *now* (the channel must have a digest time)."""
    last = last_scheduled_at(channel, now)
    if last is None:
        raise ValueError("the channel has no digest time")
    day = (last + timedelta(days=1)).date()
    return datetime(day.year, day.month, day.day, last.hour, last.minute, tzinfo=last.tzinfo)


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
