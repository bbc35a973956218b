"""Rows the core and its storage pass to each other, as frozen dataclasses (every backend returns these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.model.channels import ChannelRef


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel Paperboy serves, with its delivery settings.

    ``digest_time`` is ``HH:MM`` in ``timezone`` when the channel wants a daily
    digest; ``realtime`` says whether each match is posted as it appears.
    """

    id: int
    ref: ChannelRef
    realtime: bool = True
    digest_time: str | None = None
    timezone: str = "UTC"
    top_n: int = 5
    min_upvotes: int = 0
    paused_reason: str | None = None
    last_digest_at: datetime | None = None
    created_at: datetime | None = None
    threads: bool = False
    """Each single-paper post opens a discussion thread (where the platform has threads)."""
    leaderboard_schedule: str | None = None
    """When the weekly leaderboard is posted: ``<day> <HH:MM> <time zone>`` (``mon 09:00 Europe/Paris``)."""
    digest_days: str | None = None
    """The days the digest goes out: None every day, ``mon-fri`` the weekdays, one day (``mon``) weekly."""
    digest_rank: str = "upvotes"
    """How a digest chooses and orders its top N: ``upvotes`` (Hugging Face's) or ``interest`` (the channel's model)."""
    picks: int | None = None
    """How many papers the daily picks post holds (None: no picks)."""
    last_picks_at: datetime | None = None
    """The picks time last served (the picks of that day are queued)."""


@dataclass(frozen=True, slots=True)
class Topic:
    """A channel's subscription: a topic query, who added it and when."""

    id: int
    channel_id: int
    query: str
    added_by: str
    added_at: datetime
    baseline_taken: bool = False
    """False until the papers in the lists at subscription time are recorded as already seen."""
    added_by_id: str | None = None
    """The platform's id of the person who subscribed, to reach them if the channel breaks."""
    number: int = 0
    """The number the channel's topic list shows; it never changes while the topic lives."""
    notify: str | None = None
    """The platform id of the group (Slack user group, Discord role) this topic's posts mention."""
    notify_name: str | None = None
    """That group's name as the manager picked it, for showing (never rendered as a mention)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the delivery ledger: a (channel, paper) pair and its state.

    States: ``baseline`` (was in the lists when the channel subscribed: never
    posted), ``pending`` (to post at once), ``queued`` (waiting for the digest),
    ``sent``, ``skipped`` (left out of a digest's top N).
    """

    id: int
    channel_id: int
    paper_id: str
    state: str
    why: str | None = None
    topic_id: int | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    message_ref: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    """An outbox entry the platform has: its message ref, when, and what a single post showed per paper."""

    entry_id: int
    message_ref: str | None
    at: datetime
    posted_states: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One message Paperboy owes a channel: a paper post, a digest, a roll-up or an edit.

    States: ``pending`` (due at ``next_attempt_at`` or now), ``sending`` (handed to the
    platform; after a crash nobody knows whether it arrived), ``sent``, ``dead`` (gave up).
    """

    id: int
    channel_id: int
    kind: str
    tag: str
    paper_ids: tuple[str, ...]
    state: str
    title: str | None = None
    target_ref: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    message_ref: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    mention: str | None = None
    """The group a ``paper`` post mentions (its topic's `Topic.notify` when it was queued)."""
    claimed_at: datetime | None = None
    """When it was last claimed (pending -> sending): an ambiguous post went out no earlier."""


@dataclass(frozen=True, slots=True)
class PostedCard:
    """A single-paper post that went out, and what it showed then."""

    channel_id: int
    paper_id: str
    message_ref: str
    posted_state: str | None


@dataclass(frozen=True, slots=True)
class Reader:
    """Whose reading list: one person in one workspace or server (a list spans its channels)."""

    platform: str
    workspace: str
    user_id: str


@dataclass(frozen=True, slots=True)
class SavedPaper:
    """One paper on a reading list: when it was saved, and from which channel (None: a direct message or console)."""

    paper_id: str
    saved_at: datetime
    channel_id: int | None = None


@dataclass(frozen=True, slots=True)
class RankedPaper:
    """One paper of a channel's leaderboard: its 👍 in that channel and the saves made from it."""

    paper_id: str
    votes: int
    saves: int


@dataclass(frozen=True, slots=True)
class PaperSignals:
    """What people said of one paper where a model learns: positives (👍, saves) and negatives (👎)."""

    paper_id: str
    positive: int
    negative: int


@dataclass(frozen=True, slots=True)
class FeedKey:
    """One Atom feed's record: its id, whose it is (the core's opaque *owner*), and its URL's generation."""

    id: int
    owner: str
    generation: int


@dataclass(frozen=True, slots=True)
class PostedPaper:
    """A paper a channel was sent (its ledger row ``sent``): when, why, and the topic that matched."""

    paper_id: str
    sent_at: datetime
    why: str | None = None
    topic: str | None = None
    """The query of the topic that matched (None: the topic was removed since, or none matched)."""
