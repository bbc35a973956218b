"""What a hostile Hugging Face answer may hold, and what Paperboy keeps of it.

A count (upvotes, stars, comments) outside 0..`COUNT_MAX`, or a number too long to read, is an
error; text keeps valid UTF-8 (a lone surrogate becomes U+FFFD, control characters go) and is
cut to a bounded length; a link that is not http(s) is dropped. `Fixes` collects what was
changed in one paper, for one warning line.
"""

from __future__ import annotations

import re
from typing import Any

COUNT_MAX = 10**9
"""Upvotes, stars and comments above this are not real: the item is set aside (a linked-repo total only becomes unknown)."""
DIGITS_READ = 30
"""A JSON integer with more digits is not turned into an int (Python refuses past 4,300 digits, for the whole body)."""
TITLE_MAX = 1_000
ABSTRACT_MAX = 10_000
AI_SUMMARY_MAX = 3_000
NAME_MAX = 200
"""An author's or an organisation's name."""
AUTHORS_KEPT = 200
KEYWORD_MAX = 100
KEYWORDS_KEPT = 50
URL_MAX = 2_000
YEARS = (1900, 2200)
"""A date outside these years is taken as unknown."""
_URL = re.compile(r"https?://[^\s<>|\"'`\\]+", re.IGNORECASE)
SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls that are not whitespace (whitespace is collapsed anyway): invisible, or worse, in a chat.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_UNSAFE = re.compile("[\ud800-\udfff\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


class LongNumber:
    """What `decode_json` puts where the body has an integer of more than `DIGITS_READ` digits."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"<{self.digits}-digit number>"


def parse_int(text: str) -> int | LongNumber:
    digits = len(text) - text.startswith("-")
    return int(text) if digits <= DIGITS_READ else LongNumber(digits)


def count_or_error(value: Any) -> int | None:
    """Return *value* as a count in 0..COUNT_MAX (None stays None); raise `ValueError` saying what is wrong."""
    if value is None:
        return None
    if isinstance(value, LongNumber):
        raise ValueError(f"{value.digits}-digit number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= DIGITS_READ:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{short(value)} is not a count")
    if not 0 <= value <= COUNT_MAX:
        raise ValueError(f"{value} is out of range (0 to {COUNT_MAX:,})")
    return value


def short(value: Any) -> str:
    text = repr(value[:60] if isinstance(value, str) else value)  # repr escapes lone surrogates for the log
    return text if len(text) <= 40 else text[:39] + "…"


class Fixes:
    """The text fixes made to one paper, to log in one line."""

    def __init__(self) -> None:
        self.notes: dict[str, str] = {}

    def text(self, value: str | None, field: str, limit: int) -> str:
        """Return *value* collapsed to one line of valid UTF-8, at most *limit* characters."""
        text = value or ""
        if _UNSAFE.search(text):
            text, surrogates = SURROGATE.subn("\ufffd", text)
            text, controls = _CONTROL.subn("", text)
            done = [f"{surrogates} lone surrogate{'s' * (surrogates != 1)} replaced with U+FFFD"] if surrogates else []
            done += [f"{controls} control character{'s' * (controls != 1)} removed"] if controls else []
            self.note(field, ", ".join(done))
        # Abstracts arrive hard-wrapped with newlines; cards want one flowing paragraph.
        text = " ".join(text.split())
        if len(text) > limit:
            self.note(field, f"cut to {limit:,} characters from {len(text):,}")
            text = text[: limit - 1].rstrip() + "…"
        return text

    def many(self, values: list[str], field: str, *, each: int, kept: int) -> tuple[str, ...]:
        """Clean each of *values* (blank ones dropped) and keep the first *kept*."""
        cleaned = [v for v in (self.text(value, field, each) for value in values) if v]
        if len(cleaned) > kept:
            self.note(field, f"kept the first {kept:,} of {len(cleaned):,}")
        return tuple(cleaned[:kept])

    def url(self, value: str | None, field: str) -> str | None:
        """Return *value* when it is an http(s) URL of at most `URL_MAX` characters, else None."""
        if not value or not value.strip():
            return None
        url = value.strip()
        if len(url) <= URL_MAX and _URL.fullmatch(url) and not _UNSAFE.search(url):
            return url
        self.note(field, f"dropped {short(value)}, not an http(s) link")
        return None

    def note(self, field: str, what: str) -> None:
        if what:
            self.notes[field] = f"{self.notes[field]}, {what}" if field in self.notes else what
