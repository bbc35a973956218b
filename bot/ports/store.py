"""What the core needs from storage, as narrow Protocols, and how it finds the backend that provides them.

The core is written against these Protocols only. Backends live under ``storage/`` (SQLite, the
default, and Postgres) and are found by the scheme of ``PAPERBOY_DATABASE`` through the
``paperboy.storage`` entry points, so nothing in ``bot/`` imports one. Every backend raises
`bot.ports.store_errors.StorageUnavailable` (may pass) or `StorageLost` (fatal) when the database itself
is in trouble, and returns the rows of `bot.model.rows`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from bot.model.channels import ChannelRef
from bot.model.paper import Paper
from bot.model.rows import (Channel, Delivery, FeedKey, OutboxEntry, PaperSignals, PostedCard, PostedPaper, RankedPaper,
                      Reader, SavedPaper, Settlement, Topic)

OUTBOX_STATES = ("pending", "sending", "sent", "dead")
"""An outbox entry's states: waiting, claimed by a sender, then sent or given up."""

PORTABLE_TABLES = (
    "channels", "topics", "papers", "paper_lists", "deliveries", "outbox", "state", "installations",
    "oauth_states", "saves", "votes", "downvotes", "feeds",
)
"""The tables `paperboy db copy` moves between backends, parents before children.

A row travels as a dict of column name to a plain value: int, str, bool, None, an aware UTC
datetime, or a list of str (``outbox.paper_ids``, ``paper_lists.paper_ids``). Every backend
has these columns under these names; what else it keeps (indexes, leases) stays behind.
"""


class ChannelStore(Protocol):
    """Channels, their delivery settings, and the topics they follow."""

    async def ensure_channel(self, ref: ChannelRef) -> Channel: ...
    async def get_channel(self, ref: ChannelRef) -> Channel | None: ...
    async def get_channel_by_id(self, channel_id: int) -> Channel | None: ...
    async def get_channels(self, channel_ids: Sequence[int]) -> dict[int, Channel]: ...
    async def update_channel(self, channel_id: int, **changes: Any) -> Channel: ...
    async def list_channels(self) -> list[Channel]: ...
    async def paused_channels(self) -> list[Channel]: ...
    async def scheduled_channels(self) -> list[Channel]: ...
    async def add_topic(self, channel_id: int, query: str, added_by: str, *, at: datetime,
                        added_by_id: str | None = None, notify: str | None = None,
                        notify_name: str | None = None) -> Topic: ...
    async def list_topics(self, channel_id: int) -> list[Topic]: ...
    async def remove_topic(self, topic_id: int) -> None: ...
    async def mark_baseline_taken(self, topic_ids: Sequence[int]) -> None: ...
    async def active_topics_signature(self) -> tuple[int, int, int]: ...
    async def active_topics(self) -> list[tuple[int, int, str]]: ...
    async def topics_awaiting_baseline(self) -> dict[int, list[int]]: ...


class PaperStore(Protocol):
    """The paper cache, its local search, and named lists (``trending``, ``daily``)."""

    async def save_papers(self, papers: Sequence[Paper]) -> None: ...
    async def get_paper(self, paper_id: str) -> Paper | None: ...
    async def get_papers(self, paper_ids: Sequence[str]) -> dict[str, Paper]: ...
    async def search_papers(self, terms: Sequence[str], *, limit: int = 200) -> list[Paper]: ...
    async def papers_since(self, day: date) -> list[Paper]: ...
    async def recent_papers(self, since: datetime, *, limit: int = 2000) -> list[Paper]:
        """Cached papers published (submitted to arXiv) at or after *since*, newest first, at most *limit*."""
        ...
    async def save_list(self, name: str, paper_ids: Sequence[str], *, at: datetime) -> None: ...
    async def get_list(self, name: str) -> tuple[list[Paper], datetime | None]: ...


class LedgerStore(Protocol):
    """The delivery ledger (one row per channel and paper), and the queueing of the messages owed.

    Each ``enqueue_*`` stores atomically what `bot.delivery.planning` planned, with its ledger rows.
    """

    async def record_baseline(self, channel_id: int, paper_ids: Iterable[str], *, at: datetime) -> int: ...
    async def ledger_paper_ids(self, channel_id: int) -> set[str]: ...
    async def channels_having(self, paper_id: str, channel_ids: Sequence[int]) -> set[int]: ...
    async def enqueue(self, channel_id: int, paper_id: str, *, state: str, why: str | None,
                      topic_id: int | None, at: datetime) -> bool: ...
    async def queued_deliveries(self, channel_id: int) -> list[Delivery]: ...
    async def delivery_counts(self, channel_id: int) -> dict[str, int]: ...
    async def enqueue_posts(self, channel_id: int, matches: Sequence[tuple[str, str | None, int | None]], *,
                            at: datetime, max_per_hour: int) -> list[str]:
        """Ledger rows and posts for new (paper id, why, topic id) matches, in one transaction.

        A single post's entry carries its topic's ``notify`` as `OutboxEntry.mention`. In a channel
        with ``threads`` on, each single post is followed by a ``thread`` entry (tag
        ``thread:<paper id>``, no ``target_ref`` until its post is settled).
        """
        ...
    async def enqueue_matches(self, posts: Mapping[int, Sequence[tuple[str, str | None, int | None]]],
                              queued: Mapping[int, Sequence[tuple[str, str | None, int | None]]], *,
                              at: datetime, max_per_hour: int) -> dict[int, list[str]]:
        """`enqueue_posts` for each channel of *posts* and `enqueue` (``queued``) for each match of *queued*,
        all in one transaction; each channel's new paper ids, in order."""
        ...
    async def enqueue_post(self, channel_id: int, *, kind: str, tag: str, paper_ids: Sequence[str],
                           title: str | None = None, at: datetime) -> bool:
        """Queue one message of *kind* (``leaderboard``); False (nothing queued) when *tag* is there already."""
        ...
    async def enqueue_refresh(self, channel_id: int, *, target_ref: str, at: datetime) -> bool:
        """Queue an edit of the sent post *target_ref* that shows its papers again (a new 👍 count).

        The edit is an ``update`` entry with the post's paper ids and title and a tag of its own.
        False when the channel has no such post (paper, digest, roll-up or leaderboard), or an
        edit of it is pending already: that one will show the counts as they are when it is sent.
        """
        ...
    async def enqueue_digest(self, channel_id: int, *, tag: str, title: str, top: Sequence[str],
                             skipped: Sequence[str], at: datetime) -> bool: ...
    async def enqueue_update(self, channel_id: int, paper_id: str, *, target_ref: str, tag: str,
                             at: datetime) -> bool: ...
    async def enqueue_picks(self, channel_id: int, *, tag: str, title: str,
                            picks: Sequence[tuple[str, str | None]], at: datetime) -> bool:
        """Queue one list post (a ``digest`` entry) of (paper id, why) *picks*, their ledger rows, and stamp
        `Channel.last_picks_at`, in one transaction; False when *tag* is there already or no pick is new."""
        ...
    async def posted_cards(self, paper_ids: Sequence[str]) -> list[PostedCard]: ...


class OutboxStore(Protocol):
    """The outbox of messages owed, as the worker sends them: due, claimed, settled.

    Several processes may share one database: `claim_outbox` is atomic, so only one of them
    sends an entry, and only a channel's oldest unsettled entry can be claimed, so a channel's
    posts never overtake each other whichever process sends them. `abandoned_outbox` returns
    the entries left in ``sending`` by a process that is gone (or by this one: the worker skips
    its own sends in flight). The ``_many`` forms do the same for a batch in one transaction.
    """

    async def due_outbox(self, *, now: datetime, channel_id: int | None = None, limit: int = 5000,
                         platforms: Sequence[str] | None = None,
                         per_channel: int | None = None) -> list[OutboxEntry]: ...
    async def outbox_in_state(self, state: str, *, channel_id: int | None = None) -> list[OutboxEntry]: ...
    async def outbox_entry(self, entry_id: int) -> OutboxEntry | None: ...
    async def abandoned_outbox(self) -> list[OutboxEntry]: ...
    async def held_for(self) -> float | None:
        """Seconds until a hold of a process that is gone runs out (its claim left in ``sending``, its lease on
        a channel): the worker looks again then. None when nothing is held (always, with one process)."""
        ...
    async def next_outbox_retry(self, *, now: datetime) -> datetime | None: ...
    async def claim_outbox(self, entry_id: int) -> bool: ...
    async def claim_outbox_many(self, entry_ids: Sequence[int]) -> set[int]: ...
    async def mark_outbox_sent(self, entry_id: int, *, message_ref: str | None, at: datetime,
                               posted_states: Mapping[str, str] | None = None) -> None:
        """Settle an entry as sent; a ``paper`` entry's ``thread:<paper id>`` entry gets *message_ref* as target."""
        ...
    async def mark_outbox_sent_many(self, settlements: Sequence[Settlement]) -> None: ...
    async def mark_outbox_retry(self, entry_id: int, *, error: str, retry_at: datetime,
                                count_attempt: bool = True) -> None: ...
    async def release_outbox(self, entry_id: int) -> None: ...
    async def mark_outbox_dead(self, entry_id: int, *, error: str) -> None: ...
    async def ledger_whys_many(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str | None]:
        """Why each (channel id, paper id) matched, from the ledger: what a round's posts show."""
        ...
    async def outbox_counts(self, channel_id: int | None = None, *,
                            states: Collection[str] = OUTBOX_STATES) -> dict[str, int]:
        """How many entries are in each of *states* that has any (of one channel, or all). Ask only for
        the states wanted: sent entries are nearly all of them, and counting those reads them all."""
        ...
    async def outbox_unconfirmed(self) -> tuple[int, datetime | None]:
        """How many entries are claimed but not settled (``sending``: in flight, or left by a crash and
        waiting until the platform can say whether they went out), and the oldest of their claim times."""
        ...


class InstallationStore(Protocol):
    """Platform installations (Slack's "Add to Slack") and the one-time OAuth states, as opaque JSON.

    *kind* is ``bot`` or ``installation``; a missing enterprise, team or user is ``""``. Finding
    with ``user_id=None`` returns the newest record of that team, whoever installed it.
    """

    async def save_installation(self, kind: str, *, enterprise_id: str, team_id: str, user_id: str,
                                data: str, at: datetime) -> None: ...
    async def find_installation(self, kind: str, *, enterprise_id: str, team_id: str,
                                user_id: str | None = None) -> str | None: ...
    async def find_installations(self, kind: str, *, enterprise_id: str, team_ids: Sequence[str]) -> dict[str, str]:
        """The newest *kind* record of each of *team_ids* that has one, by team (one read)."""
        ...
    async def delete_installations(self, kind: str | None, *, enterprise_id: str, team_id: str,
                                   user_id: str | None = None) -> None: ...
    async def save_oauth_state(self, state: str, *, expires_at: datetime) -> None: ...
    async def consume_oauth_state(self, state: str, *, now: datetime) -> bool: ...


class CommunityStore(Protocol):
    """What a community does with the papers: each person's reading list, 👍 and 👎 per channel.

    A reading list belongs to a `Reader` (one person in one workspace or server) and spans that
    workspace's channels. A vote belongs to (channel, paper, user): one per person per paper there.
    """

    async def save_paper(self, reader: Reader, paper_id: str, *, channel_id: int | None, at: datetime) -> bool:
        """Put *paper_id* on *reader*'s list; False when it was there already (its first save is kept)."""
        ...
    async def unsave_paper(self, reader: Reader, paper_id: str) -> bool:
        """Take *paper_id* off *reader*'s list; False when it was not on it."""
        ...
    async def saved_papers(self, reader: Reader, *, limit: int, offset: int = 0) -> list[SavedPaper]:
        """Return *reader*'s list, newest first (ties: paper id), *limit* from *offset*."""
        ...
    async def saved_count(self, reader: Reader) -> int: ...
    async def toggle_vote(self, channel_id: int, paper_id: str, user_id: str, *, at: datetime) -> tuple[bool, int]:
        """Add *user_id*'s 👍 to *paper_id* in the channel, or take it back if there; return (voted now, count)."""
        ...
    async def vote_counts(self, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        """Return the 👍 count of each of *paper_ids* in the channel (papers without votes are left out)."""
        ...
    async def vote_counts_many(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
        """`vote_counts` for many (channel id, paper id) pairs at once, in one read."""
        ...
    async def leaderboard(self, channel_id: int, *, since: datetime, limit: int) -> list[RankedPaper]:
        """The channel's papers that came there since *since*, by 👍, then saves from that channel, then id.

        A paper comes to a channel when it is first posted there (ledger ``sent``) or first 👍 or saved
        from there: a vote for a paper Paperboy never posted there counts too, so a vote's reply and the
        leaderboard agree. Papers with neither votes nor saves are left out.
        """
        ...
    async def toggle_downvote(self, channel_id: int, paper_id: str, user_id: str, *, at: datetime) -> bool:
        """Add *user_id*'s 👎 to *paper_id* in the channel, or take it back if there; return whether it is there now."""
        ...
    async def channel_signals(self, channel_id: int) -> list[PaperSignals]:
        """Every paper signalled in the channel, by id: 👍 and saves made there positive, 👎 there negative."""
        ...
    async def reader_signals(self, reader: Reader, channel_id: int | None) -> list[PaperSignals]:
        """A person's signals for their direct message *channel_id*: all their saves, their own 👍/👎 there."""
        ...
    async def forget_reader(self, reader: Reader) -> tuple[int, int, int]:
        """Remove the person's 👍, 👎 and saves in their workspace or server; return (👍, 👎, saves) removed."""
        ...


class FeedStore(Protocol):
    """Atom feeds: each feed's record (the generation its URL carries), and what a channel's feed lists."""

    async def feed_key(self, owner: str, *, at: datetime) -> FeedKey:
        """Return *owner*'s feed record, made (generation 1) if it has none yet."""
        ...
    async def reset_feed_key(self, owner: str, *, at: datetime) -> FeedKey:
        """Bump *owner*'s feed generation, so that its old URL stops working; return the record."""
        ...
    async def feed_key_by_id(self, feed_id: int) -> FeedKey | None: ...
    async def posted_papers(self, channel_id: int, *, limit: int) -> list[PostedPaper]:
        """The papers sent to the channel (ledger ``sent``), newest first, with the matching topic's query."""
        ...


class HistoryStore(Protocol):
    """What `why` and `log` read of one channel's ledger and outbox (read only)."""

    async def ledger_row(self, channel_id: int, paper_id: str) -> Delivery | None:
        """The channel's ledger row for *paper_id*, or None when it never had one."""
        ...
    async def paper_outbox(self, channel_id: int, paper_id: str) -> list[OutboxEntry]:
        """The channel's outbox entries that show *paper_id* (posts, digests, roll-ups, edits), oldest first."""
        ...
    async def recent_outbox(self, channel_id: int, *, limit: int) -> list[OutboxEntry]:
        """The channel's *limit* latest outbox entries, newest first."""
        ...


class StateStore(Protocol):
    """Small named values: the poll's last run, its last error."""

    async def get_state(self, key: str) -> str | None: ...
    async def set_state(self, key: str, value: str | None) -> None: ...


class HealthStore(Protocol):
    """The database's own health: what troubles it now (None: nothing), since when, and a live check."""

    @property
    def trouble(self) -> str | None: ...
    @property
    def trouble_since(self) -> datetime | None: ...
    async def check_alive(self) -> None: ...


@runtime_checkable
class Store(ChannelStore, PaperStore, LedgerStore, OutboxStore, InstallationStore, CommunityStore, FeedStore,
            StateStore, HistoryStore, HealthStore, Protocol):
    """Everything the core keeps, and the database's coordination: what a composition root opens and hands out.

    Each collaborator asks only for the narrow Protocols above that it uses (`tests/test_narrow_stores.py`).
    """
    async def schema_version(self) -> int: ...
    async def pending_migrations(self) -> list[str]:
        """The migrations this Paperboy has that the database lacks (open with ``apply_migrations=False``)."""
        ...
    async def try_lead(self, role: str) -> bool:
        """Say whether this process holds (or now takes) *role*, which one process holds at a time.

        The poll cycle runs under ``poll``. A holder that dies loses the role, so another
        process takes it over at its next try.
        """
        ...
    async def dump_table(self, table: str) -> list[dict[str, Any]]: ...
    async def load_table(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None: ...
    async def close(self) -> None: ...


def backend_name(database: str) -> str:
    """Return which backend serves *database*: ``postgresql`` for a ``postgresql://`` URL, else ``sqlite``."""
    scheme = database.split("://", 1)[0].lower() if "://" in database else ""
    return "postgresql" if scheme in ("postgresql", "postgres") else "sqlite"


def describe_database(database: str) -> str:
    """Return *database* fit for a log line or an error: a URL's password is replaced by ``***``."""
    if "://" not in database:
        return database
    parts = urlsplit(database)
    if not parts.password:
        return database
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def open_store(database: str, **options: Any) -> Store:
    """Open the database *database* (a file path or a ``postgresql://`` URL) with its backend.

    *options* go to the backend (``exclusive=True``: this process is the only Paperboy on it).
    """
    name = backend_name(database)
    found = entry_points(group="paperboy.storage", name=name)
    if not found:
        raise RuntimeError(f"no storage backend named {name!r} is installed (entry point group paperboy.storage)")
    opener = next(iter(found)).load()
    return await opener(database, **options)
