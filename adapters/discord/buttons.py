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
from typing import Any

import discord

from bot.model.actions import ACTION_PREFIX, action_id
from bot.model.paper import Paper
from bot.model.replies import CardAction, PaperCard, PaperList

MAX_ROWS = 5
PER_ROW = 5
LABEL_LIMIT = 80
URL_LIMIT = 512
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
        return cls(discord.ui.Button(style=discord.ButtonStyle.secondary, label=_label(action.label),
                                     custom_id=action_id(action)))

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
        actions = [a for a in card.actions if action_id(a) not in seen]
        if not actions:
            continue
        seen.update(action_id(a) for a in actions)
        link = _link(f"{number}. {' '.join(card.paper.title.split())}", card.paper.url)
        row: list[discord.ui.Item[Any]] = [link] if link else []
        rows.append(row + [ActionButton.of(a) for a in actions[:PER_ROW - len(row)]])
    return _view(rows)


def link_buttons(paper: Paper) -> list[discord.ui.Item[Any]]:
    """The paper's links (Hugging Face, arXiv, PDF, code, project page) as link buttons, one row at most."""
    links = [_link(label, url) for label, url in paper.links()]
    return [link for link in links if link][:PER_ROW]


def _link(label: str, url: str | None) -> discord.ui.Button | None:
    # Discord refuses a link button whose URL is not http(s); such a link is left out, like in the embed.
    if not url or len(url) > URL_LIMIT or not _WEB_URL.fullmatch(url):
        return None
    return discord.ui.Button(style=discord.ButtonStyle.link, label=_label(label), url=url)


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
