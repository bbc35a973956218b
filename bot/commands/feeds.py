"""`feed` and `feed reset`: a channel's posts (or, in a direct message, one's reading list) as an Atom feed.

A feed's URL is ``<PAPERBOY_FEED_URL>/feeds/<id>/<token>``: the token is an HMAC, under
PAPERBOY_FEED_SECRET, of the feed's record (id, owner, generation), so nothing secret is stored
and `feed reset` revokes a URL by bumping the generation. `Feeds.render` serves it (`bot.delivery.feed_server`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, Callable, Protocol

from bot.commands.answers import UsageError, error_reply
from bot.delivery.atom import Document, Entry, atom
from bot.model.channels import Command
from bot.model.paper import Paper
from bot.commands.reading_list import reader
from bot.model.replies import Reply, Text
from bot.model.rows import FeedKey, Reader
from bot.ports.store import ChannelStore, CommunityStore, FeedStore, PaperStore

MAX_ENTRIES = 100
"""A feed lists this many papers, the newest first."""
FEEDS_PATH = "/feeds"
TOKEN_BYTES = 24
"""The HMAC's bytes a URL carries (192 bits: 32 characters)."""
OFF = ("Feeds are off: whoever runs Paperboy can turn them on by setting PAPERBOY_FEED_URL (Paperboy's public "
       "address) and PAPERBOY_FEED_SECRET.")


class FeedLinks:
    """Derive and check feed URLs from the secret setting; no URL is ever stored."""

    def __init__(self, *, base_url: str, secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret = secret.encode()

    @classmethod
    def from_settings(cls, settings: Any) -> FeedLinks | None:
        """The links of PAPERBOY_FEED_URL and PAPERBOY_FEED_SECRET; None (feeds off) unless both are set."""
        if not settings.feed_url or settings.feed_secret is None:
            return None
        return cls(base_url=settings.feed_url, secret=settings.feed_secret.get_secret_value())

    def token(self, key: FeedKey) -> str:
        message = f"{key.id}\n{key.owner}\n{key.generation}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()[:TOKEN_BYTES]
        return base64.urlsafe_b64encode(digest).decode()

    def url(self, key: FeedKey) -> str:
        return f"{self.base_url}{FEEDS_PATH}/{key.id}/{self.token(key)}"

    def accepts(self, key: FeedKey, token: str) -> bool:
        """Whether *token* is *key*'s current one (a constant-time comparison: timing tells nothing)."""
        return hmac.compare_digest(self.token(key).encode(), token.encode())


def channel_owner(channel_id: int) -> str:
    return json.dumps(["channel", channel_id])


def reader_owner(who: Reader) -> str:
    return json.dumps(["reader", who.platform, who.workspace, who.user_id])


class FeedsStore(ChannelStore, CommunityStore, FeedStore, PaperStore, Protocol):
    """What `feed` and the feeds read: the channel, its topics and posted papers, a reader's saves and 👍 counts."""


class Feeds:
    """The `feed` command, and the feeds themselves as `bot.delivery.feed_server` serves them."""

    def __init__(self, *, store: FeedsStore, clock: Callable[[], datetime], links: FeedLinks | None) -> None:
        self.store = store
        self.clock = clock
        self.links = links

    async def feed(self, command: Command) -> Reply:
        action = command.args.strip().lower()
        if action not in ("", "reset"):
            raise UsageError(f"'{command.args.strip()[:40]}' is not something 'feed' does; 'feed reset' "
                             "replaces the feed's URL.")
        if self.links is None:
            return Reply(Text(OFF), private=True)
        if command.direct:
            owner, whose = reader_owner(reader(command)), ("Your reading list", "your reading list's feed")
        elif action and not command.caller.can_manage:
            return error_reply("Only people who can manage this channel can reset its feed; 'feed' shows its URL.")
        else:
            channel = await self.store.ensure_channel(command.channel)
            owner, whose = channel_owner(channel.id), ("This channel's posts", "this channel's feed")
        if action == "reset":
            key = await self.store.reset_feed_key(owner, at=self.clock())
            return Reply(Text(f"The old URL no longer works; the new URL of {whose[1]}: {self.links.url(key)}"),
                         private=True)
        key = await self.store.feed_key(owner, at=self.clock())
        return Reply(Text(f"{whose[0]} as an Atom feed (the last {MAX_ENTRIES} papers; in Zotero: File → New Feed): "
                          f"{self.links.url(key)}\nAnyone with the URL can read it; 'feed reset' replaces it."),
                     private=True)

    async def render(self, feed_id: str, token: str) -> bytes | None:
        """The Atom document at ``/feeds/<feed_id>/<token>``; None for a wrong or revoked token, or feeds off."""
        if self.links is None or not (feed_id.isascii() and feed_id.isdigit()) or len(feed_id) > 18:
            return None
        key = await self.store.feed_key_by_id(int(feed_id))
        if key is None or not self.links.accepts(key, token):
            return None
        kind, *rest = json.loads(key.owner)
        # Its id stays the same across `feed reset`: a reader that follows the new URL sees the same feed.
        names = dict(id=f"{self.links.base_url}{FEEDS_PATH}/{key.id}", url=self.links.url(key))
        if kind == "channel":
            return await self._channel_feed(rest[0], names)
        return await self._reader_feed(Reader(*rest), names)

    async def _channel_feed(self, channel_id: int, names: dict[str, str]) -> bytes | None:
        channel = await self.store.get_channel_by_id(channel_id)
        if channel is None:
            return None
        posted = await self.store.posted_papers(channel_id, limit=MAX_ENTRIES)
        ids = [row.paper_id for row in posted]
        known, votes = await self.store.get_papers(ids), await self.store.vote_counts(channel_id, ids)
        entries = [Entry(_paper(known, row.paper_id), row.sent_at, topic=row.topic, why=row.why,
                         votes=votes.get(row.paper_id, 0)) for row in posted]
        ref = channel.ref
        topics = ", ".join(topic.query for topic in await self.store.list_topics(channel_id)) or "none yet"
        document = Document(title=f"Paperboy: papers posted in {ref.platform} channel {ref.channel}",
                            subtitle=f"The last {MAX_ENTRIES} papers Paperboy posted there. Topics: {topics}",
                            **names)
        return atom(document, entries)

    async def _reader_feed(self, who: Reader, names: dict[str, str]) -> bytes:
        saved = await self.store.saved_papers(who, limit=MAX_ENTRIES)
        known = await self.store.get_papers([row.paper_id for row in saved])
        entries = [Entry(_paper(known, row.paper_id), row.saved_at) for row in saved]
        document = Document(title="Paperboy: your reading list",
                            subtitle=f"The last {MAX_ENTRIES} papers you saved with Paperboy.", **names)
        return atom(document, entries)


def _paper(known: dict[str, Paper], paper_id: str) -> Paper:
    # A paper gone from the cache still has its id, and so its arXiv links.
    return known.get(paper_id) or Paper(id=paper_id, title=paper_id, source="arxiv")
