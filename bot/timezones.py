"""IANA time zones: validation and as-you-type suggestions."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.usage import UsageError


@lru_cache(maxsize=1)
def _all_zones() -> tuple[str, ...]:
    # "posix/…" and "right/…" duplicate every zone on some systems; people never type them.
    return tuple(sorted(z for z in available_timezones() if not z.startswith(("posix/", "right/"))))


def get_zone(name: str) -> ZoneInfo:
    """Return the zone called *name*, matching case-insensitively; raise UsageError if unknown."""
    cleaned = name.strip()
    for zone in (cleaned, *(z for z in _all_zones() if z.lower() == cleaned.lower())):
        try:
            return ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    raise UsageError(f"unknown time zone '{cleaned[:60]}' (try UTC, Europe/Paris or America/New_York)")


def suggest_timezones(prefix: str, *, limit: int = 25) -> list[str]:
    """Return up to *limit* zone names for what the user has typed so far.

    Zones starting with the text come first, then zones containing it anywhere
    (so "paris" finds Europe/Paris).
    """
    typed = prefix.strip().lower().replace(" ", "_")
    zones = _all_zones()
    if not typed:
        return list(zones[:limit])
    starts = [z for z in zones if z.lower().startswith(typed)]
    contains = [z for z in zones if typed in z.lower() and z not in starts]
    return (starts + contains)[:limit]
