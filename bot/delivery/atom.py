"""Atom documents of papers, written by feedgen: a channel's posts, or a person's reading list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING, Sequence

from bot.model.paper import Paper

if TYPE_CHECKING:
    from feedgen.feed import FeedGenerator

EMPTY_UPDATED = datetime(2026, 1, 1, tzinfo=timezone.utc)
"""An empty feed's ``updated``: fixed, so that its ETag stays the same until a paper arrives."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One paper of a feed: when it came (posted, saved), the topic it matched and its 👍 (None: not shown)."""

    paper: Paper
    at: datetime
    topic: str | None = None
    why: str | None = None
    votes: int | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """A feed's own fields: its stable id, its title and subtitle, and the URL it is read at."""

    id: str
    title: str
    subtitle: str
    url: str


def atom(document: Document, entries: Sequence[Entry]) -> bytes:
    """Return the Atom XML of *entries*, in their order (newest first); the same input gives the same bytes."""
    from feedgen.feed import FeedGenerator  # here: feedgen and lxml cost a process 6 MB that only feeds need

    feed = FeedGenerator()
    feed.id(document.id)
    feed.title(document.title)
    feed.subtitle(document.subtitle)
    feed.link(href=document.url, rel="self", type="application/atom+xml")
    feed.author({"name": "Paperboy"})  # Atom wants an author for entries without one (a paper without names)
    feed.generator("Paperboy")
    # Not the time of the request: the same papers must give the same bytes, and so the same ETag.
    feed.updated(max((entry.at for entry in entries), default=EMPTY_UPDATED))
    for entry in entries:
        _add(feed, entry)
    return feed.atom_str(pretty=True)


def _add(feed: FeedGenerator, entry: Entry) -> None:
    paper = entry.paper
    item = feed.add_entry(order="append")
    item.id(paper.arxiv_url)
    item.title(paper.title)
    for name in paper.authors:
        if name.strip():
            item.author({"name": name})
    item.register_extension(_Links.NAME, _Links, atom=True, rss=False)
    getattr(item, _Links.NAME).links = [
        dict(href=url, rel="alternate" if url == paper.url else "related", title=label,
             type="application/pdf" if label == "PDF" else "text/html") for label, url in paper.links()]
    if entry.topic:
        item.category(term=entry.topic, label=f"Topic: {entry.topic}")
    if paper.abstract:
        item.summary(paper.abstract)
    item.content(_html(entry), type="html")
    item.published(entry.at)
    item.updated(entry.at)


class _Links:
    """An entry's links with their rel, type and title, through feedgen's own element helper.

    feedgen 1.0.0 writes an entry's links with their href alone (lkiesow/python-feedgen#135): every
    link would be an "alternate", and the PDF not marked as one. Its entry extensions write whole ones.
    """

    NAME = "paperboy_links"

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_atom(self, entry: object) -> object:
        from feedgen.util import xml_elem  # loaded by now, with FeedGenerator

        for link in self.links:
            xml_elem("link", entry, **link)
        return entry


def _html(entry: Entry) -> str:
    """The entry's body for readers that show one: the abstract, why it is here, its 👍, its links."""
    paper = entry.paper
    parts = [f"<p>{escape(paper.abstract or paper.summary)}</p>"] if (paper.abstract or paper.summary) else []
    if entry.topic:
        parts.append(f"<p>Topic: {escape(entry.topic)}" + (f" ({escape(entry.why)})" if entry.why else "") + "</p>")
    if entry.votes is not None:
        parts.append(f"<p>👍 {entry.votes}</p>")
    links = " · ".join(f'<a href="{escape(url)}">{escape(label)}</a>' for label, url in paper.links())
    parts.append(f"<p>{links}</p>")
    return "".join(parts)
