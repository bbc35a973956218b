"""How the Discord adapter delivers: error mapping, send nonces, and finding its own posts again.

Pure functions over discord.py objects, so the adapter's methods stay short and
these rules can be read (and tested) in one place.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

import aiohttp
import discord

from adapters.discord import render
from bot.model.channels import ChannelRef
from bot.ports.adapter import DeliveryResult, DeliveryStatus, HistoryUnreadable
from bot.model.replies import PaperCard, Post

UNKNOWN_MESSAGE = 10008
"""Discord's error code for a message that no longer exists."""
THREAD_EXISTS = 160004
"""Discord's error code for a second thread on one message ("A thread has already been created")."""
THREAD_TYPES = frozenset({10, 11, 12})
"""Channel types that are threads (announcement, public, private)."""
THREAD_ARCHIVE_MINUTES = 10080
"""A week without messages before Discord hides a paper's thread: discussions of a paper are slow."""
THREAD_NAME_LIMIT = 100
NO_MENTIONS = discord.AllowedMentions.none()

# A paper's own page, as render links it: the card's URL, or a line of a compact list.
_PAPER_URL = re.compile(r"^https?://(?:huggingface\.co/papers|arxiv\.org/abs)/([^\s?#()]+?)/?$", re.IGNORECASE)
# A markdown link target in an embed description; "(?<!\\)" skips escaped brackets from paper text.
_LINK_TARGET = re.compile(r"(?<!\\)\]\((https?://[^\s()]+)\)")


class HistoryUnavailable(HistoryUnreadable):
    """The channel's history could not be read, so whether a post went out is unknown."""


class NotJson(discord.DiscordException):
    """Something in front of Discord answered with a body that is not JSON, and no error status to raise on."""


def insist_on_json(http: discord.http.HTTPClient) -> None:
    """Make *http* raise `NotJson` where discord.py would choke on a body that is not JSON later.

    discord.py raises `discord.HTTPException` for an error status whatever the body, but
    hands a 2xx body that is not JSON back as a str (its models then fail with a
    TypeError far from the cause) and lets a body labelled JSON that is not escape as
    a JSONDecodeError.
    """
    request = http.request

    async def request_json(route: discord.http.Route, **kwargs: Any) -> Any:
        to = f"to {route.method} {route.path}"
        try:
            data = await request(route, **kwargs)
        except json.JSONDecodeError:
            raise NotJson(f"Discord answered with a non-JSON body labelled application/json ({to})") from None
        if isinstance(data, str) and data.strip():  # an empty str is a 204 No Content
            raise NotJson(f"Discord answered HTTP 2xx with a non-JSON body ({to})")
        return data

    http.request = request_json  # type: ignore[method-assign]


def nonce_for(channel: ChannelRef, post: Post) -> str:
    """Return the send nonce for *post* in *channel*: the same on every attempt, at most 25 characters.

    discord.py sends it with ``enforce_nonce``, so Discord itself turns a repeated
    send of the same post into the first message instead of a duplicate. The
    channel is part of it because a tag such as ``paper:2403.10001`` repeats across channels.
    """
    digest = hashlib.blake2b(f"{channel.workspace}/{channel.channel}/{post.tag}".encode(), digest_size=12)
    return digest.hexdigest()  # 24 hex characters


def result_for_error(error: Exception, *, deleted_means: str | None = None) -> DeliveryResult:
    """Map what discord.py raised onto a delivery result.

    ``deleted_means`` is the reason given when Discord says the *message* is unknown
    (an edit of a deleted message); otherwise a 404 means the channel is gone.
    """
    if isinstance(error, NotJson) or (isinstance(error, discord.HTTPException) and not _is_json(error)):
        # Discord itself always answers JSON: a proxy or load balancer in between said this, so
        # even a 403 or 404 says nothing about the channel. Worth another try later.
        return DeliveryResult(DeliveryStatus.TRANSIENT, reason=describe(error))
    if isinstance(error, discord.NotFound) and error.code == UNKNOWN_MESSAGE and deleted_means:
        return DeliveryResult(DeliveryStatus.PERMANENT, reason=deleted_means)
    if isinstance(error, discord.Forbidden):
        return DeliveryResult(DeliveryStatus.PERMANENT,
                              reason=f"Paperboy lost access to this channel (403 {error.text or 'Forbidden'})")
    if isinstance(error, discord.NotFound):
        return DeliveryResult(DeliveryStatus.PERMANENT,
                              reason=f"This channel is gone or hidden from Paperboy (404 {error.text or 'Not Found'})")
    if isinstance(error, discord.RateLimited):
        return DeliveryResult(DeliveryStatus.RATE_LIMITED, retry_after=error.retry_after, reason="Discord rate limit")
    if isinstance(error, discord.HTTPException):
        status = DeliveryStatus.RATE_LIMITED if error.status == 429 else DeliveryStatus.TRANSIENT
        return DeliveryResult(status, reason=describe(error))
    if isinstance(error, (aiohttp.ClientError, asyncio.TimeoutError, OSError)):
        return DeliveryResult(DeliveryStatus.TRANSIENT, reason=describe(error))
    raise error


def allowed_mentions(role: int | None) -> discord.AllowedMentions:
    """Nobody may be pinged, except the one role a post was asked to notify."""
    if role is None:
        return NO_MENTIONS
    return discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(role)], replied_user=False)


def thread_name(post: Post) -> str:
    """The thread's name: the paper's title cut at a word within Discord's 100 characters, never empty."""
    content = post.content
    card = content if isinstance(content, PaperCard) else (content.cards[0] if content.cards else None)
    title = card.paper.title if card else ""
    fallback = f"Paper {post.paper_ids[0]}" if post.paper_ids else "Discussion"
    return render.shorten(title, THREAD_NAME_LIMIT) if title.strip() else fallback[:THREAD_NAME_LIMIT]


def thread_exists(error: Exception) -> bool:
    """Whether Discord refused a thread because the message has one already (a retried open)."""
    return isinstance(error, discord.HTTPException) and error.code == THREAD_EXISTS


def describe(error: Exception) -> str:
    """Return one readable line saying what went wrong, for any of `DELIVERY_ERRORS`."""
    if isinstance(error, discord.HTTPException) and not _is_json(error):
        kind = error.response.headers.get("Content-Type", "").split(";", 1)[0].strip() or "no content type"
        return f"Discord answered HTTP {error.status} with a non-JSON body ({kind})"
    if isinstance(error, discord.HTTPException):
        return _one_line(f"Discord answered HTTP {error.status}: {error.text or error.response.reason}")
    if isinstance(error, (NotJson, discord.RateLimited)):
        return _one_line(str(error))
    return _one_line(f"cannot reach Discord: {str(error) or type(error).__name__}")


def _is_json(error: discord.HTTPException) -> bool:
    # discord.py's own rule (http.json_or_text): only this exact Content-Type is parsed as JSON.
    return error.response.headers.get("Content-Type") == "application/json"


def _one_line(text: str, limit: int = 300) -> str:
    # Error texts from Discord can span lines (a form error lists each field); a reason is one line.
    return " ".join(text.split())[:limit]


DELIVERY_ERRORS = (discord.HTTPException, discord.RateLimited, NotJson, aiohttp.ClientError, asyncio.TimeoutError,
                   OSError)
"""What a send, edit or history read may raise that `result_for_error` understands."""


def paper_ids_shown(embeds: Sequence[discord.Embed]) -> list[str]:
    """Return the ids of the papers *embeds* present, in order, each once.

    A paper counts when an embed links to its page as its URL (a card) or as a
    list line's link (a compact list); the Links field of a card is not counted.
    """
    ids: list[str] = []
    for embed in embeds:
        urls = [embed.url] if embed.url else []
        urls += _LINK_TARGET.findall(embed.description or "")
        for url in urls:
            match = _PAPER_URL.match(url)
            if match and match.group(1) not in ids:
                ids.append(match.group(1))
    return ids


def _header(content: str | None) -> str:
    # A topic's role mention opens the text of its posts; the post is the same without it.
    return render.without_mention(content).split("\n", 1)[0].strip()


def is_own_post(message: discord.Message, bot_id: int) -> bool:
    """Return whether *message* is a post Paperboy sent itself (not a command answer or someone else's)."""
    return (message.author.id == bot_id and message.type is discord.MessageType.default
            and message.webhook_id is None and message.interaction_metadata is None)


@dataclass(frozen=True, slots=True)
class PostShape:
    """What identifies a post among Paperboy's messages: card or list, the list's title, the papers shown."""

    card: bool
    header: str
    paper_ids: frozenset[str]

    @classmethod
    def of(cls, post: Post) -> PostShape:
        """Return the shape *post* has once rendered."""
        rendered = render.post(post)
        return cls(card=isinstance(post.content, PaperCard), header=_header(rendered.content),
                   paper_ids=frozenset(paper_ids_shown(rendered.embeds)))

    def matches(self, message: discord.Message) -> bool:
        """Return whether *message* shows this post: the same paper card, or the same list with its papers.

        Matching is by paper ids taken from the links, not by rendered text, so a
        paper whose title or numbers changed since the send is still recognised.
        """
        if not self.paper_ids:
            return False
        found = paper_ids_shown(message.embeds)
        if self.card:
            return (not render.without_mention(message.content) and len(message.embeds) == 1
                    and set(found) == self.paper_ids)
        return _header(message.content) == self.header and self.paper_ids <= set(found)
