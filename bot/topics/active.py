"""The active topics as the poller matches them: one `TopicIndex`, kept up to date topic by topic.

Parsing and indexing 10,000 topics takes the better part of a second. Between two polls a few
topics change at most, so a change re-reads the list but parses and indexes only the topics
that are new (or whose text changed), and drops the ones that went; the rest stay as they are.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Protocol

from bot.runtime.collector import collector_paused
from bot.topics import Query, QueryError, parse_query
from bot.topics.index import TopicIndex

log = logging.getLogger(__name__)

Key = tuple[int, int]
"""(channel id, topic id)."""


class TopicRows(Protocol):
    """What `ActiveTopics` reads from the store."""

    async def active_topics_signature(self) -> tuple[int, int, int]: ...
    async def active_topics(self) -> list[tuple[int, int, str]]: ...


class ActiveTopics:
    """Every active topic: the index of those a paper must be matched against, and the rest of what the poller asks."""

    def __init__(self) -> None:
        self.index: TopicIndex[Key] = TopicIndex()
        self.every_paper: list[Key] = []
        """The ``*`` topics, in topic order: they match every paper without the index."""
        self.categories: dict[Key, frozenset[str]] = {}
        """The categories each topic that names any (``cat:cs.CL``) names."""
        self.signature: tuple[int, int, int] | None = None
        """The store's fingerprint of the topics this holds; None before the first `refresh`."""
        self._text_of: dict[Key, str] = {}
        """Each topic's text as indexed (or found unparsable), to tell which topics changed."""
        self._refreshing = asyncio.Lock()
        """A poll refreshes while its lists are fetched, and again as each arrives: one reads the store at a time."""

    async def refresh(self, store: TopicRows) -> None:
        """Bring the index up to date with the store's active topics, if they changed since the last call."""
        async with self._refreshing:
            signature = await store.active_topics_signature()
            if signature != self.signature:
                self._apply(await store.active_topics(), signature)

    def _apply(self, rows: list[tuple[int, int, str]], signature: tuple[int, int, int]) -> None:
        with collector_paused():  # a first build makes ~10^5 objects: no full collection for each few hundred
            self._update({(channel_id, topic_id): text for channel_id, topic_id, text in rows})
            # The index lives until the topics change: keep the cyclic collector from walking its
            # hundreds of thousands of objects on every collection (frozen ones are not walked again).
            # Collected while paused, so the young objects are walked once here, not again on resuming.
            gc.collect()
            gc.freeze()
        self.signature = signature

    def _update(self, wanted: dict[Key, str]) -> None:
        gone = [key for key, text in self._text_of.items() if wanted.get(key) != text]
        for key in gone:
            self._drop(key)
        parsed: dict[str, Query | None] = {}  # many channels follow the same query: parse it once
        every = set(self.every_paper)
        for key, text in wanted.items():  # in topic order: the index keeps queries in the order first added
            if key in self._text_of:
                continue
            self._text_of[key] = text
            if text not in parsed:
                parsed[text] = parse_stored(text)
            if (query := parsed[text]) is None:
                continue
            if query.everything:
                every.add(key)
                continue
            self.index.add(key, query)
            if categories := query.categories():
                self.categories[key] = categories
        if gone or len(every) != len(self.every_paper):
            self.every_paper = sorted(every, key=lambda key: key[1])

    def _drop(self, key: Key) -> None:
        del self._text_of[key]
        self.index.remove(key)
        self.categories.pop(key, None)
        if key in self.every_paper:
            self.every_paper = [k for k in self.every_paper if k != key]


def parse_stored(text: str) -> Query | None:
    """Parse a stored topic; one that no longer parses (the language changed) is skipped, loudly."""
    try:
        return parse_query(text)
    except QueryError:
        log.warning("stored topic %r no longer parses; skipping it", text)
        return None
