"""The platform-neutral vocabulary the engine and poller speak; adapters render it natively.

Every string here is plain text from papers or users: adapters must escape it for
their markup and must never let it mention anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.model.paper import Paper


SAVE = "save"
VOTE = "vote"
DOWNVOTE = "downvote"
"""👎, "not for us": a signal for the channel's interest model, never shown as a count."""
ACTION_KINDS = (SAVE, VOTE, DOWNVOTE)
"""What a person can do to a posted paper with one click (a button where the platform has them)."""


@dataclass(frozen=True, slots=True)
class CardAction:
    """One click on a card: ``kind`` (`SAVE`, `VOTE` or `DOWNVOTE`) on ``paper_id``, shown as ``label`` (``👍 3``).

    Adapters render it as a button and turn a click on it back into a `bot.model.actions.Action`
    of the same kind and paper; they never compute the label.
    """

    kind: str
    paper_id: str
    label: str


@dataclass(frozen=True, slots=True)
class PaperCard:
    """One paper, optionally with the reason it matched a channel's topic.

    ``note`` is a one-line remark about the answer itself (for example, that it
    comes from the cache or from arXiv), never about the paper.

    ``detail`` asks for the paper in full, as `show` answers: all authors (within
    reason), the whole abstract, the AI summary apart, both dates, every count and
    the linked Hub repositories. Without it (lists, realtime posts) a card is short.
    """

    paper: Paper
    why: str | None = None
    note: str | None = None
    why_label: str | None = "matched"
    """The word a text rendering puts before ``why``; None where ``why`` says what it is itself
    (a leaderboard's ``👍 3 · 🔖 1``, similar's ``shares: merging, expert``)."""
    detail: bool = False
    actions: tuple[CardAction, ...] = ()
    """The buttons under the card (save, 👍 with its count, 👎); empty where the platform has no buttons."""


@dataclass(frozen=True, slots=True)
class PaperList:
    """A titled list of papers: command results or a digest.

    ``note`` is a one-line remark shown with the list (for example, that the
    results come from the cache because the source is down). ``empty`` is what
    to say when ``cards`` is empty.
    """

    title: str
    cards: tuple[PaperCard, ...] = ()
    note: str | None = None
    empty: str = "No papers."
    start: int = 1
    """The number of the first card, when this list is a later page of a longer one."""


@dataclass(frozen=True, slots=True)
class Text:
    """Plain text: help, settings, status, confirmations. Lines separated by newlines."""

    body: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Error:
    """Something the user should fix or know failed, said in one or two plain sentences."""

    message: str


@dataclass(frozen=True, slots=True)
class File:
    """A text file for the caller to keep (a reading list as BibTeX), with a one-line note about it.

    ``content`` is the file's text, verbatim: adapters show or attach it as is (it is not markup),
    and escape only the ``note`` and whatever they wrap around the text.
    """

    name: str
    content: str
    note: str


Content = PaperCard | PaperList | Text | Error | File


@dataclass(frozen=True, slots=True)
class Reply:
    """The engine's answer to a command: content, and whether only the caller sees it."""

    content: Content
    private: bool = False


@dataclass(frozen=True, slots=True)
class Post:
    """What the poller delivers to a channel: one paper or a digest, with a unique tag.

    ``tag`` identifies the delivery (for example ``paper:2403.12345`` or
    ``digest:2026-11-27``) so an adapter can find its own post again.
    """

    content: PaperCard | PaperList
    tag: str
    paper_ids: tuple[str, ...] = field(default=())
    mention: str | None = None
    """The one mention Paperboy ever sends: the platform id of the group (a Slack user group, a
    Discord role) a channel manager asked a topic to notify. Adapters ping that group and nobody else."""
    sent_after: datetime | None = None
    """Set only when a crash left it unsure whether the post went out: the post cannot be older
    than this (its outbox claim time), so `Adapter.find_post` need not read further back."""
