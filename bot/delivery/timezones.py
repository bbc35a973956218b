"""IANA time zones: validation, a suggestion for what people type instead, and as-you-type suggestions."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.model.usage import UsageError

ABBREVIATIONS = {
    "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "MDT": "America/Denver",
    "CST": "America/Chicago", "CDT": "America/Chicago", "EDT": "America/New_York",
    "AKST": "America/Anchorage", "AKDT": "America/Anchorage", "BST": "Europe/London",
    "IST": "Asia/Kolkata", "CEST": "Europe/Paris", "EEST": "Europe/Athens", "WEST": "Europe/Lisbon",
    "MSK": "Europe/Moscow", "JST": "Asia/Tokyo", "KST": "Asia/Seoul", "SGT": "Asia/Singapore",
    "HKT": "Asia/Hong_Kong", "AEST": "Australia/Sydney", "AEDT": "Australia/Sydney",
    "NZST": "Pacific/Auckland", "NZDT": "Pacific/Auckland", "BRT": "America/Sao_Paulo",
}
"""Abbreviations people write for a zone, and the zone suggested for each. Only suggested, never taken
as the zone: they are ambiguous (IST is India's, Ireland's and Israel's) and name no summer time rule.
(EST, MST, HST, CET, EET and WET are IANA zones themselves, so they are accepted as they are.)"""

_NO_OFFSETS = "give the zone's name, such as Asia/Kolkata or America/St_Johns (a fixed offset keeps no summer time)"
_OFFSET = re.compile(r"(?:UTC|GMT)?\s*(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?", re.IGNORECASE)


@lru_cache(maxsize=1)
def _all_zones() -> tuple[str, ...]:
    # "posix/…" and "right/…" duplicate every zone on some systems; people never type them.
    return tuple(sorted(z for z in available_timezones() if not z.startswith(("posix/", "right/"))))


@lru_cache(maxsize=1)
def _by_folded_name() -> dict[str, str]:
    """Zones by their folded name and by their folded last part (``paris``, ``new_york``): what people type."""
    zones = _all_zones()
    found = {z.rsplit("/", 1)[-1].lower(): z for z in zones if "/" in z and not z.startswith("Etc/")}
    found.update({z.lower(): z for z in zones})
    return found


def get_zone(name: str) -> ZoneInfo:
    """Return the zone called *name*, matching case-insensitively; raise UsageError (with a suggestion) if unknown."""
    cleaned = name.strip()
    for zone in (cleaned, *(z for z in _all_zones() if z.lower() == cleaned.lower())):
        try:
            return ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    hint = suggest_zone(cleaned)
    raise UsageError(f"unknown time zone '{cleaned[:60]}'; "
                     + (hint if hint else "write an IANA name such as UTC, Europe/Paris or America/New_York"))


def suggest_zone(typed: str) -> str | None:
    """Say which zone *typed* probably means (``did you mean Europe/Paris?``), or None when nothing is close."""
    if zone := ABBREVIATIONS.get(typed.upper()):
        return f"did you mean {zone}? (abbreviations are ambiguous and skip summer time; give the zone's name)"
    if offset := _OFFSET.fullmatch(typed):
        return _offset_hint(offset)
    names = _by_folded_name()
    key = typed.lower().replace(" ", "_")
    if key in names:
        return f"did you mean {names[key]}?"
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.8)
    return f"did you mean {names[close[0]]}?" if close else None


def _offset_hint(offset: re.Match[str]) -> str:
    hours, minutes = int(offset["hours"]), int(offset["minutes"] or 0)
    if minutes or hours > 14:
        return _NO_OFFSETS
    if hours == 0:
        return "did you mean UTC?"
    # IANA's Etc/GMT zones count the other way: Etc/GMT-2 is two hours ahead of UTC.
    etc = f"Etc/GMT{'-' if offset['sign'] == '+' else '+'}{hours}"
    if etc not in _all_zones():
        return _NO_OFFSETS
    return (f"did you mean {etc} (UTC{offset['sign']}{hours}; the sign is inverted in these names)? "
            "A city's zone, such as Europe/Paris, also follows summer time")


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
