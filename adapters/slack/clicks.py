"""Read a click on one of Paperboy's buttons (a ``block_actions`` payload) into plain fields.

The adapter builds the core's `bot.model.actions.Action` from a `Click`; everything a person
could get wrong (or a payload could lack) comes back as one line to show them instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.model.actions import ACTION_PREFIX, parse_action_id

ACTION_PATTERN = rf"^{ACTION_PREFIX}:"
"""The action ids of Paperboy's own buttons (link buttons are ``paperboy_link_…``, not these)."""

UNKNOWN_BUTTON = "Paperboy does not know that button (it may come from an older version): nothing was done."
INCOMPLETE_CLICK = "Slack did not say who clicked where, so Paperboy did nothing. Please try again."


@dataclass(frozen=True, slots=True)
class Click:
    """One click: *kind* (save, vote) on *paper_id*, by *user_id* in *channel_id*, on the message *message_ts*."""

    kind: str
    paper_id: str
    user_id: str
    user_name: str
    team_id: str
    channel_id: str
    message_ts: str | None


def read_click(body: dict[str, Any]) -> Click | str:
    """Return the first Paperboy button clicked in *body*, or the one line saying why there is none."""
    parsed = _first_paperboy_action(body.get("actions"))
    if parsed is None:
        return UNKNOWN_BUTTON
    user = _dict(body.get("user"))
    container = _dict(body.get("container"))
    user_id = _text(user.get("id"))
    team_id = _text(_dict(body.get("team")).get("id")) or _text(user.get("team_id"))
    channel_id = _text(_dict(body.get("channel")).get("id")) or _text(container.get("channel_id"))
    if not (user_id and team_id and channel_id):
        return INCOMPLETE_CLICK
    kind, paper_id = parsed
    return Click(
        kind=kind, paper_id=paper_id, user_id=user_id,
        user_name=_text(user.get("username")) or _text(user.get("name")) or user_id,
        team_id=team_id, channel_id=channel_id,
        message_ts=_text(container.get("message_ts")) or _text(_dict(body.get("message")).get("ts")) or None,
    )


def _first_paperboy_action(actions: Any) -> tuple[str, str] | None:
    if not isinstance(actions, list):
        return None
    for action in actions:
        parsed = parse_action_id(_text(_dict(action).get("action_id")))
        if parsed is not None:
            return parsed
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def read_click_target(body: dict[str, Any]) -> tuple[str, str]:
    """Return (user id, channel id) of a click, however incomplete, to answer it with ``chat.postEphemeral``."""
    user_id = _text(_dict(body.get("user")).get("id"))
    channel_id = _text(_dict(body.get("channel")).get("id")) or _text(_dict(body.get("container")).get("channel_id"))
    return user_id, channel_id
