"""The contract between the core and a platform adapter."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol

from bot.model.actions import Action
from bot.model.channels import ChannelRef, Command
from bot.model.replies import Post, Reply

BUTTONS = "buttons"
"""The platform shows a card's `bot.model.replies.CardAction`s as buttons and reports clicks as `Action`s."""
THREADS = "threads"
"""The platform can open a discussion thread on a post (`Adapter.open_thread`)."""
FILES = "files"
"""The platform can hand the caller a `bot.model.replies.File` as a file (not only as text)."""


class DeliveryStatus(enum.Enum):
    SENT = "sent"
    RATE_LIMITED = "rate_limited"
    """Try again after ``retry_after`` seconds."""
    TRANSIENT = "transient"
    """Network or server trouble: try again later."""
    PERMANENT = "permanent"
    """The channel is gone or Paperboy lost access: pause the channel."""


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    status: DeliveryStatus
    message_ref: str | None = None
    reason: str | None = None
    retry_after: float | None = None


class HistoryUnreadable(RuntimeError):
    """A channel's history could not be read, so whether a post (or thread) went out is unknown.

    *result* is what the same failure means for a send, when the platform can say: ``PERMANENT``
    (access lost: the post is gone), ``RATE_LIMITED`` with ``retry_after`` (when to look again),
    ``TRANSIENT`` (the default: look again later).
    """

    def __init__(self, reason: str, result: DeliveryResult | None = None) -> None:
        super().__init__(reason)
        self.result = result or DeliveryResult(DeliveryStatus.TRANSIENT, reason=reason)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` messages per ``per`` seconds within one ``scope``.

    ``scope`` is ``channel`` (per channel), ``workspace`` (per guild or Slack team)
    or ``global`` (the whole bot on that platform).
    """

    scope: str
    count: int
    per: float


CommandHandler = Callable[[Command], Awaitable[Reply]]
"""What an adapter calls for every incoming command (the engine's ``handle``)."""


class Adapter(Protocol):
    """A chat platform. It translates; it decides nothing.

    The adapter is given the command handler at construction, renders replies and
    posts natively, and maps its platform's errors onto a `DeliveryResult`.
    """

    platform: str
    limits: tuple[RateLimit, ...]
    """The platform's posting limits; the core paces its sends to stay inside them."""
    capabilities: frozenset[str]
    """What the platform has of `BUTTONS`, `THREADS` and `FILES`: the core renders actions and
    opens threads only where it is there."""

    async def start(self) -> None:
        """Connect and begin listening; return once ready to send."""

    async def stop(self) -> None:
        """Disconnect and release resources."""

    async def send(self, channel: ChannelRef, post: Post) -> DeliveryResult:
        """Deliver *post* to *channel* and report what happened; never raise for platform errors."""

    async def find_post(self, channel: ChannelRef, post: Post) -> str | None:
        """Return the message ref of Paperboy's own recent post of *post* in *channel*, or None.

        Used after a crash to learn whether an ambiguous send went out; ``post.sent_after``
        then says how far back to read. Raises `HistoryUnreadable` when the channel's history cannot
        be read, so the caller never guesses; its ``result`` RATE_LIMITED says when to ask again
        (``retry_after``), and the entry waits until then without holding up others.
        """

    async def edit(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        """Replace the post *message_ref* in *channel* with *post* (the paper changed)."""

    async def notify(self, channel: ChannelRef, user_id: str | None, text: str) -> DeliveryResult:
        """Tell the channel, or else the user *user_id* directly, something important (plain text)."""

    async def open_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        """Open the discussion thread of the post *message_ref*, for *post*'s one paper (`THREADS` only).

        Slack: a first thread reply with the abstract and links; Discord: a public thread on the
        message named after the paper. ``message_ref`` of the result names the thread (or reply).
        """

    async def find_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> str | None:
        """Return the ref of the thread `open_thread` made on *message_ref* for *post*, or None.

        Used after a crash, like `find_post`: raises `HistoryUnreadable` when it cannot tell; its
        ``result`` PERMANENT says the post is gone, and the thread is given up.
        """


class CommandEngine(Protocol):
    """What an adapter is given to answer commands (implemented by `bot.commands.engine.Engine`)."""

    async def handle(self, command: Command) -> Reply:
        """Run *command* and return the reply; never raises for bad input."""

    async def act(self, action: Action) -> Reply:
        """Do what a click asks (save, 👍) and return the private acknowledgement; never raises."""

    async def topic_labels(self, channel: ChannelRef) -> list[str]:
        """Return the channel's topics as ``"1. query"`` labels, for autocomplete."""
