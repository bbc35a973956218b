"""Slack's mrkdwn, written safely: escaping, clipping without cutting an entity, links, and text objects.

Every string from a paper or a user goes through `escape` and into text objects with
``verbatim=True``, so it can never become a link, a channel ping or a user mention.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from slack_sdk.models.blocks import MarkdownTextObject, PlainTextObject

MAX_SECTION_CHARS = 3000
MAX_FALLBACK_CHARS = 3000


def escape(text: str) -> str:
    """Escape Slack's three control characters so *text* shows literally and pings no one."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Shorten *text* to at most *limit* characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clip_escaped(text: str, limit: int) -> str:
    """Escape *text* and clip the result to *limit* without cutting an entity in half."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    return escaped[: entity_safe_cut(escaped, limit - 1)].rstrip() + "…"


def link(url: str, label: str) -> str:
    """Return a mrkdwn link whose label is escaped and whose URL cannot break out of ``<…>``."""
    return f"<{safe_url(url)}|{escape(label)}>"


def join_whole(items: list[str], separator: str, limit: int) -> str:
    """Join whole *items* with *separator*, leaving out the ones that would pass *limit* (never half a link)."""
    result = ""
    for item in items:
        candidate = f"{result}{separator}{item}" if result else item
        if len(candidate) <= limit:
            result = candidate
    return result


def mrkdwn(text: str) -> MarkdownTextObject:
    # verbatim: Slack must not auto-link bare URLs, channel names or @mentions in our text.
    return MarkdownTextObject(text=non_blank(text), verbatim=True)


def plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=non_blank(text), emoji=False)


def non_blank(text: str) -> str:
    # Slack rejects a whole message (invalid_blocks) when any text object is blank.
    return text if text.strip() else "(empty)"


def fallback_text(text: str) -> str:
    return clip_escaped(" ".join(text.split()), MAX_FALLBACK_CHARS)


def at_most(chunks: list[str], most: int, limit: int) -> list[str]:
    """Keep at most *most* of *chunks* (each within *limit*), marking the cut at the end of the last."""
    if len(chunks) <= most:
        return chunks
    last = chunks[most - 1]
    return chunks[: most - 1] + [last[: entity_safe_cut(last, limit - 2)].rstrip() + " …"]


def split_chunks(text: str, limit: int) -> list[str]:
    """Split *text* into pieces of at most *limit* characters, preferring line breaks, then spaces."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            cut = word_cut(line, limit)
            chunks.append(line[:cut])
            line = line[cut:].lstrip(" ")
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            candidate = line
        current = candidate
    if current.strip():
        chunks.append(current)
    return [chunk for chunk in chunks if chunk.strip()]


def word_cut(escaped: str, limit: int) -> int:
    """Return where to cut *escaped* at or before *limit*: at a space if one is near, never inside an entity."""
    space = escaped.rfind(" ", limit // 2, limit + 1)
    return space if space > 0 else entity_safe_cut(escaped, limit)


def entity_safe_cut(escaped: str, limit: int) -> int:
    """Return where to cut *escaped* at or before *limit* without splitting ``&amp;`` and friends."""
    amp = escaped.rfind("&", max(0, limit - 4), limit)
    return amp if amp != -1 and ";" not in escaped[amp:limit] else limit


def is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def safe_url(url: str) -> str:
    # Percent-encode what would end the <url|label> form early, then escape & as Slack expects.
    return escape(quote(url, safe=":/?#[]@!$&'()*+,;=%~"))
