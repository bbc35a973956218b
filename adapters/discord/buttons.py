"""A card's buttons: its actions (save, 👍) as persistent buttons beside its link buttons.

Persistence uses discord.py's `DynamicItem` (2.4+): a click is matched by its custom_id
alone (``paperboy:vote:2403.12345``, all the state there is), so it works after a
restart with no View kept in memory. discord.py keeps no per-message View for a view
whose only dispatchable items are DynamicItems, so sending thousands of posts holds
nothing either. The item does not answer the click itself: it hands it to the
client's ``on_paperboy_click`` event, which the adapter sets with its engine.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import discord

from bot.model.actions import ACTION_PREFIX, action_id
from bot.model.paper import Paper
from bot.model.replies import CardAction, PaperCard, PaperList

MAX_ROWS = 5
PER_ROW = 5
LABEL_LIMIT = 80
URL_LIMIT = 512
SPECS_CACHE_SIZE = 1024
"""How many papers' (and cards' actions') button labels and URLs the caches below keep."""
CLICK_EVENT = "paperboy_click"
"""The client event a click on one of our buttons becomes (``on_paperboy_click(interaction, custom_id)``)."""

_WEB_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"{ACTION_PREFIX}:.+"):
    """A secondary button whose custom_id is `bot.model.actions.action_id` of a card's action.

    The template is broad on purpose: a ``paperboy:`` id this version no longer knows still
    reaches the adapter, which answers it in one line instead of leaving "interaction failed".
    """

    def __init__(self, button: discord.ui.Button) -> None:
        super().__init__(button)

    @classmethod
    def of(cls, action: CardAction) -> ActionButton:
        """Return the button for *action*, labelled as the core said."""
        label, custom_id = _action_spec(action)
        return cls(discord.ui.Button(style=discord.ButtonStyle.secondary, label=label, custom_id=custom_id))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ActionButton:
        # discord.py rebuilt *item* from the clicked message; nothing else is needed.
        return cls(item)  # type: ignore[arg-type]

    async def callback(self, interaction: discord.Interaction) -> None:
        interaction.client.dispatch(CLICK_EVENT, interaction, self.custom_id)


def card_view(card: PaperCard) -> discord.ui.View | None:
    """The rows under one card: its actions, then its links (None when it has neither)."""
    rows: list[list[discord.ui.Item[Any]]] = []
    actions = [ActionButton.of(a) for a in card.actions[:PER_ROW]]
    if actions:
        rows.append(actions)
    links = link_buttons(card.paper)
    if links:
        rows.append(links)
    return _view(rows)


def list_view(plist: PaperList) -> discord.ui.View | None:
    """One row per card with actions (its numbered title link, then its actions), within 5 rows.

    Cards past the fifth row keep their embed but lose their buttons: Discord allows no more.
    """
    rows: list[list[discord.ui.Item[Any]]] = []
    seen: set[str] = set()  # Discord refuses a message with the same custom_id twice
    for number, card in enumerate(plist.cards, start=plist.start):
        if len(rows) == MAX_ROWS:
            break
        actions = [a for a in card.actions if _action_spec(a)[1] not in seen]
        if not actions:
            continue
        seen.update(_action_spec(a)[1] for a in actions)
        title, url = _title_link(card.paper)
        # The number is the list's own; the title and whether its link may be a button, the paper's.
        row: list[discord.ui.Item[Any]] = [_link_button(_label(f"{number}. {title}"), url)] if url else []
        rows.append(row + [ActionButton.of(a) for a in actions[:PER_ROW - len(row)]])
    return _view(rows)


def link_buttons(paper: Paper) -> list[discord.ui.Item[Any]]:
    """The paper's links (Hugging Face, arXiv, PDF, code, project page) as link buttons, one row at most."""
    return [_link_button(label, url) for label, url in _link_specs(paper)]


@lru_cache(maxsize=SPECS_CACHE_SIZE)
def _link_specs(paper: Paper) -> tuple[tuple[str, str], ...]:
    """``(label, url)`` of *paper*'s link buttons: the same for every card of it, so worked out once."""
    links = [(_label(label), url) for label, url in paper.links() if _is_button_url(url)]
    return tuple(links[:PER_ROW])


@lru_cache(maxsize=SPECS_CACHE_SIZE)
def _title_link(paper: Paper) -> tuple[str, str | None]:
    """*paper*'s title on one line, and its URL where a link button may carry it (else None)."""
    return " ".join(paper.title.split()), paper.url if _is_button_url(paper.url) else None


@lru_cache(maxsize=SPECS_CACHE_SIZE)
def _action_spec(action: CardAction) -> tuple[str, str]:
    """The label and custom_id of *action*'s button: every channel's card of a paper has equal actions."""
    return _label(action.label), action_id(action)


def _link_button(label: str, url: str) -> discord.ui.Button:
    # A new Button for every message: the View it joins sets its row and keeps it.
    return discord.ui.Button(style=discord.ButtonStyle.link, label=label, url=url)


def _is_button_url(url: str | None) -> bool:
    # Discord refuses a link button whose URL is not http(s); such a link is left out, like in the embed.
    return url is not None and len(url) <= URL_LIMIT and _WEB_URL.fullmatch(url) is not None


def _label(text: str) -> str:
    # Labels are plain text (no markdown, no mentions): only their length needs care.
    flat = " ".join(text.split()) or "…"
    return flat if len(flat) <= LABEL_LIMIT else flat[:LABEL_LIMIT - 1].rstrip() + "…"


def _view(rows: list[list[discord.ui.Item[Any]]]) -> discord.ui.View | None:
    if not rows:
        return None
    # No timeout: a post's buttons must work for as long as the post is there.
    view = discord.ui.View(timeout=None)
    for index, row in enumerate(rows[:MAX_ROWS]):
        for item in row[:PER_ROW]:
            item.row = index
            view.add_item(item)
    return view
