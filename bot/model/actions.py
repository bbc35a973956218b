"""The inbound vocabulary beside commands: a click on a posted paper (save it, 👍 or 👎 it).

Adapters turn a button click into an `Action` and hand it to the engine's ``act``; they
decide nothing. The engine answers with a private `Reply` (the click's acknowledgement).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.model.channels import Caller, ChannelRef
from bot.model.replies import ACTION_KINDS, DOWNVOTE, SAVE, VOTE, CardAction, PaperCard, PaperList

ACTION_PREFIX = "paperboy"
"""How a button's id starts, so an adapter knows a click is Paperboy's: ``paperboy:vote:2403.12345``."""


@dataclass(frozen=True, slots=True)
class Action:
    """*caller* clicked *kind* on *paper_id* in *channel*, on the message *message_ref* (None: unknown)."""

    kind: str
    paper_id: str
    caller: Caller
    channel: ChannelRef
    message_ref: str | None = None


@lru_cache(maxsize=4096)
def card_actions(paper_id: str, votes: int = 0) -> tuple[CardAction, ...]:
    """The buttons of a card: save, 👍 with the channel's count (plain 👍 while nobody voted), 👎 (never counted).

    Made once per paper and count: every channel's card of a paper shares them (and its rendered buttons).
    """
    return (CardAction(SAVE, paper_id, "🔖 Save"), CardAction(VOTE, paper_id, f"👍 {votes}" if votes else "👍"),
            CardAction(DOWNVOTE, paper_id, "👎"))


def with_actions(content: PaperCard | PaperList, votes: Mapping[str, int]) -> PaperCard | PaperList:
    """*content* with every card's buttons, 👍 showing *votes* (paper id → the channel's count)."""
    if isinstance(content, PaperCard):
        return replace(content, actions=card_actions(content.paper.id, votes.get(content.paper.id, 0)))
    return replace(content, cards=tuple(replace(c, actions=card_actions(c.paper.id, votes.get(c.paper.id, 0)))
                                        for c in content.cards))


def action_id(action: CardAction) -> str:
    """The id a button carries (Slack ``action_id`` + ``value``, Discord ``custom_id``): ≤ 100 characters."""
    return f"{ACTION_PREFIX}:{action.kind}:{action.paper_id}"


def parse_action_id(text: str) -> tuple[str, str] | None:
    """Return (kind, paper id) of a button id made by `action_id`, or None when it is not one of ours."""
    prefix, _, rest = text.partition(":")
    kind, _, paper_id = rest.partition(":")
    if prefix != ACTION_PREFIX or kind not in ACTION_KINDS or not paper_id or len(text) > 100:
        return None
    return kind, paper_id


__all__ = ["Action", "SAVE", "VOTE", "DOWNVOTE", "card_actions", "with_actions", "action_id", "parse_action_id",
           "ACTION_PREFIX"]
