"""Discord markdown, written safely: escaping, shortening at a sentence or a word, fitting Discord's limits.

Every string from a paper or a user is escaped, so it can never become a link or a ping.
"""

from __future__ import annotations

import re

from discord.utils import escape_markdown

_SAFE_URL = re.compile(r"https?://[^\s()<>\[\]\"'`]+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s)")


def escape(text: str) -> str:
    """Return *text* with Discord markdown and link brackets neutralised."""
    escaped = escape_markdown(text, ignore_links=False)
    return escaped.replace("[", "\\[").replace("]", "\\]")


def shorten(text: str, limit: int, *, sentences: bool = False) -> str:
    """Return *text* on one line within *limit* characters, cut at a sentence or word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    if limit <= 1:
        return "…"[:limit]
    head = flat[: limit - 1]
    if sentences:
        ends = [m.end() for m in _SENTENCE_END.finditer(flat[: limit + 1])]
        if ends and ends[-1] >= limit // 3:
            return flat[: ends[-1]]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:-") + "…"


def fit(text: str, limit: int, *, sentences: bool = False) -> str:
    """Return *text* shortened and escaped so that the escaped form fits *limit*."""
    target = limit
    while True:
        result = escape(shorten(text, target, sentences=sentences))
        if len(result) <= limit or target <= 1:
            return result[:limit] if len(result) > limit else result
        # Escaping added backslashes: aim lower by the overshoot and try again.
        target -= len(result) - limit


def fit_lines(lines: list[str], limit: int) -> str:
    """Join already-escaped *lines* within *limit*, cutting the first line that does not fit.

    What was left out is said on a last line, so a reader knows the text goes on.
    """
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        rest = len(lines) - index - 1
        after = f"… ({rest} more lines)" if rest else ""
        sep = 1 if kept else 0
        reserve = len(after) + 1 if after else 0
        if used + sep + len(line) + reserve <= limit:
            kept.append(line)
            used += sep + len(line)
            continue
        room = limit - used - sep - reserve
        if room >= min(len(line), 40):
            kept.append(cut_escaped(line, room))
            if after:
                kept.append(after)
        else:
            more = f"… ({rest + 1} more lines)"
            kept.append(more if used + sep + len(more) <= limit else "…")
        break
    return "\n".join(kept)


def safe_url(url: str | None) -> str | None:
    """Return *url* when it is a plain http(s) URL that cannot break a markdown link."""
    if url and len(url) <= 512 and _SAFE_URL.fullmatch(url):
        return url
    return None


def fit_joined(items: list[str], separator: str, limit: int) -> str:
    """Join whole *items* with *separator*, leaving out the ones that would pass *limit*."""
    result = ""
    for item in items:
        candidate = result + separator + item if result else item
        if len(candidate) <= limit:
            result = candidate
    return result


def cut_escaped(escaped: str, limit: int) -> str:
    """Cut already-escaped text to *limit* at a space, or mid-word without splitting an escape."""
    if len(escaped) <= limit:
        return escaped
    if limit <= 1:
        return "…"[:limit]
    space = escaped.rfind(" ", 0, limit - 1)
    if space >= limit // 2:
        head = escaped[:space]
    else:
        head = escaped[: limit - 1]
        # An odd run of trailing backslashes would escape the ellipsis: drop one.
        trailing = len(head) - len(head.rstrip("\\"))
        if trailing % 2:
            head = head[:-1]
    return head.rstrip() + "…"
