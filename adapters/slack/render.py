"""Render Paperboy's reply vocabulary as Slack Block Kit, inside Slack's limits.

Every string from a paper or a user goes through `escape` and into text objects with
``verbatim=True``, so it can never become a link, a channel ping or a user mention.
Blocks are slack_sdk block objects, so slack_sdk validates their limits on ``to_dict()``; a section
or context of one text is put into the shape slack_sdk made of it once (`converted.section`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    HeaderBlock,
    ImageElement,
    PlainTextObject,
    SectionBlock,
)

from adapters.slack.converted import Converted, context, encoded, section
from adapters.slack.detail import full_text
from adapters.slack.mrkdwn import (
    MAX_SECTION_CHARS, at_most, clip, clip_escaped, entity_safe_cut, escape, fallback_text, is_web_url,
    link, mrkdwn, non_blank, plain, split_chunks,
)
from bot.model.actions import action_id, parse_action_id
from bot.model.paper import FULL_CARD_AUTHORS, Paper
from bot.model.replies import CardAction, Content, Error, File, PaperCard, PaperList, Post, Text

log = logging.getLogger(__name__)

MAX_BLOCKS = 50
MAX_HEADER_CHARS = 150
MAX_BUTTON_CHARS = 75
MAX_ACTION_ELEMENTS = 25
"""Slack's limit of elements in one actions block."""
MAX_ACTION_ID_CHARS = 255
MENTION_ROOM = 32
"""Characters every first section leaves free, so a group mention (`with_mention`) still fits in it."""
_FIRST_SECTION_CHARS = MAX_SECTION_CHARS - MENTION_ROOM
_PAPER_ID = re.compile(r"^[A-Za-z0-9._/-]{1,100}$")
"""What a paper id a button carries may hold (``2403.12345``, ``hep-th/9901001``): nothing Slack reads as markup."""
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,19}$")
"""A Slack user group id (``S0123ABC``): short enough that its mention fits in `MENTION_ROOM`."""
MAX_LIST_CARDS = 15
"""A list shows at most this many papers: 1 header + 1 note + 15 × (section + divider) + 1 "more" ≤ 50 blocks."""
CARD_SUMMARY_CHARS = 1200
LIST_SUMMARY_CHARS = 280
LIST_AUTHORS = 3
CARD_AUTHORS = 8
LINK_ACTION_PREFIX = "paperboy_link"
"""Buttons that open a URL still send an action to the app; the adapter acknowledges these."""
RENDER_CACHE_SIZE = 512
"""How many posts' renderings `render_cached` keeps: a burst sends one card to every channel."""


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """A rendered message: notification ``text`` (already escaped) and its ``blocks``."""

    text: str
    blocks: tuple[Block, ...]

    def block_dicts(self) -> list[dict]:
        """Return the blocks as validated JSON-ready dicts."""
        return [block.to_dict() for block in self.blocks]


def render(content: Content) -> SlackMessage:
    """Render any reply or post content as a Slack message."""
    if isinstance(content, PaperCard):
        return render_card(content)
    if isinstance(content, PaperList):
        return render_list(content)
    if isinstance(content, Text):
        return render_text(content)
    if isinstance(content, Error):
        return render_error(content)
    if isinstance(content, File):
        return render_file(content)
    raise TypeError(f"Slack cannot render {type(content).__name__}")


class EncodedBlocks(list):
    """Block dicts that carry their JSON text (`json`), encoded once for every message that sends them.

    The text is true of the list as `render_cached` made it: whoever changes blocks makes a plain
    list of their own (as `with_mention` does), which is encoded when sent.
    """

    __slots__ = ("json",)

    def __init__(self, blocks: tuple[dict, ...], encoded: str) -> None:
        super().__init__(blocks)
        self.json = encoded


def render_cached(content: Content) -> tuple[str, list[dict]]:
    """Return ``(text, block dicts)`` of *content*, rendered, validated and JSON-encoded once per distinct content.

    Contents are frozen and compared by value, so a post sent to a thousand channels is
    rendered once. The list is new on every call, but the dicts in it are shared with the
    cache: JSON-encode them (as slack_sdk does), never change them. The list is an
    `EncodedBlocks`: `adapters.slack.web` sends its JSON text as is.
    """
    text, blocks, encoded = _render_cached(content)
    return text, EncodedBlocks(blocks, encoded)


@lru_cache(maxsize=RENDER_CACHE_SIZE)
def _render_cached(content: Content) -> tuple[str, tuple[dict, ...], str]:
    # Cards compare by value, their `actions` (the 👍 count in a label) included: a new count is a new key.
    message = render(content)
    # A content is each channel's own (why its papers matched there): its blocks shared with other
    # channels' were encoded once (`Converted`); only its own text is encoded here.
    dicts = tuple(message.block_dicts())
    return message.text, dicts, encoded(message.blocks, dicts)


def render_post(post: Post) -> tuple[str, list[dict]]:
    """Return ``(text, block dicts)`` of a post: its content (cached), led by its group mention, if any."""
    text, blocks = render_cached(post.content)
    return with_mention(text, blocks, post.mention)


def render_thread(post: Post) -> tuple[str, list[dict]]:
    """Return ``(text, block dicts)`` of the first reply in a post's thread: its paper in full.

    The abstract and links in detail, without the buttons (a click in the thread would name
    the reply, not the post whose 👍 count it changes) and without the mention (one ping is enough).
    """
    content = post.content
    if isinstance(content, PaperList) and len(content.cards) == 1:
        content = content.cards[0]
    if isinstance(content, PaperCard):
        content = replace(content, detail=True, actions=(), why=None, note=None)
    return render_cached(content)


def with_mention(text: str, blocks: list[dict], group_id: str | None) -> tuple[str, list[dict]]:
    """Start *text* and the first section of *blocks* with ``<!subteam^ID>``: the one ping Paperboy sends.

    Only a well-formed user group id is mentioned; anything else is left out with a warning,
    so no value from the store can turn into ``<!channel>``. *blocks* may be shared with the
    render cache: the first section is copied, never changed.
    """
    if group_id is None:
        return text, blocks
    if not _GROUP_ID.match(group_id):
        log.warning("Slack: not mentioning %r: not a user group id", group_id[:40])
        return text, blocks
    ping = f"<!subteam^{group_id}> "
    first = next((n for n, block in enumerate(blocks) if block.get("type") == "section" and "text" in block), None)
    if first is not None:
        section = dict(blocks[first])
        section["text"] = {**section["text"], "text": ping + section["text"]["text"]}
        blocks = [*blocks[:first], section, *blocks[first + 1:]]
    return ping + text, blocks


def render_card(card: PaperCard) -> SlackMessage:
    """Render one paper: why it matched, linked title, authors, summary, numbers, link buttons.

    A `detail` card (the `show` answer) has all authors, the whole abstract, the AI summary
    apart, the published date and the linked Hub repos instead of the one summary.
    """
    paper = card.paper
    blocks: list[Block] = []
    if card.why:  # each channel's own reason: the rest of a card is the same in every channel
        blocks.append(context(f":dart: {clip_escaped(card.why, 500)}"))
    blocks += _paper_blocks(paper) if card.detail else _summary_blocks(paper)
    buttons = _card_buttons(paper, card.actions)
    if buttons is not None:
        blocks.append(buttons)
    if card.note:  # where the answer came from (the cache, arXiv): not part of the paper
        blocks.append(context(f":information_source: {clip_escaped(card.note, 300)}"))
    return SlackMessage(text=fallback_text(paper.title), blocks=tuple(blocks))


def _paper_blocks(paper: Paper, *, detail: bool = True) -> list[Block]:
    """A card's paper: linked title, authors, the summary (or, in `detail`, the whole text), the numbers."""
    head = f"*{_title_link(paper)}*"
    authors = _authors(paper, FULL_CARD_AUTHORS if detail else CARD_AUTHORS)
    if authors:
        head += f"\n_{authors}_"
    summary = "" if detail else clip_escaped(paper.summary, CARD_SUMMARY_CHARS)
    text = f"{head}\n{summary}" if summary else head
    blocks: list[Block] = [SectionBlock(text=mrkdwn(clip(text, _FIRST_SECTION_CHARS)), accessory=_thumbnail(paper))]
    if detail:
        blocks += full_text(paper)
    stats = _stats(paper, published=detail)
    if stats:
        blocks.append(context(stats))
    return blocks


@lru_cache(maxsize=RENDER_CACHE_SIZE)
def _summary_blocks(paper: Paper) -> tuple[Converted, ...]:
    """A posted card's paper, converted once for every channel it goes to (a `detail` card is not kept: long)."""
    return tuple(Converted(block) for block in _paper_blocks(paper, detail=False))


@lru_cache(maxsize=RENDER_CACHE_SIZE)
def _card_buttons(paper: Paper, actions: tuple[CardAction, ...]) -> Converted | None:
    # The link buttons stay; Save and 👍 go beside them, and are the ones dropped past Slack's limit.
    buttons = (_buttons(paper) + _action_buttons(actions))[:MAX_ACTION_ELEMENTS]
    return Converted(ActionsBlock(elements=buttons)) if buttons else None


def render_list(listing: PaperList) -> SlackMessage:
    """Render a titled list or digest, compact, showing at most `MAX_LIST_CARDS` papers."""
    blocks: list[Block] = [_header_block(listing.title)]
    if listing.note:
        blocks.append(context(clip_escaped(listing.note, 1000)))
    if not listing.cards:
        blocks.append(section(clip_escaped(listing.empty, _FIRST_SECTION_CHARS)))
    shown = listing.cards[:MAX_LIST_CARDS]
    hidden = len(listing.cards) - len(shown)
    # What is left of Slack's 50 blocks once every section, divider and the "more" line are counted
    # goes to the cards' own actions blocks, first come first served (today: always enough).
    room = MAX_BLOCKS - len(blocks) - max(0, 2 * len(shown) - 1) - (1 if hidden > 0 else 0)
    for number, card in enumerate(shown, start=listing.start):
        if number > listing.start:
            blocks.append(_DIVIDER)
        blocks.append(section(_list_item(number, card)))
        actions = _actions_block(card.actions)
        if actions is not None and room > 0:
            blocks.append(actions)
            room -= 1
    if hidden > 0:
        blocks.append(context(f"…and {hidden} more not shown."))
    count = len(listing.cards)
    fallback = f"{listing.title}: {count} paper{'s' if count != 1 else ''}" if count else listing.title
    return SlackMessage(text=fallback_text(fallback), blocks=tuple(blocks))


def render_text(text: Text) -> SlackMessage:
    """Render plain text (help, settings, status) as sections split at line breaks."""
    blocks: list[Block] = []
    if text.title:
        blocks.append(HeaderBlock(text=plain(clip_escaped(text.title, MAX_HEADER_CHARS))))
    room = MAX_BLOCKS - len(blocks)
    chunks = at_most(split_chunks(escape(text.body), MAX_SECTION_CHARS) or [""], room, MAX_SECTION_CHARS)
    blocks += [section(chunk) for chunk in chunks]
    return SlackMessage(text=fallback_text(text.title or text.body), blocks=tuple(blocks))


def render_file(item: File, *, reason: str | None = None) -> SlackMessage:
    """Render a file as its note and its text in a code block, cut to fit one section.

    The fallback for when the file itself cannot be uploaded (the adapter uploads it with
    ``files_upload_v2``); *reason*, one line saying why, then comes first as a warning.
    """
    note = clip_escaped(f"{item.note} ({item.name})", MAX_SECTION_CHARS)
    body = escape(item.content.replace("```", "``\u200b`").rstrip())
    room = MAX_SECTION_CHARS - len("```\n\n```")
    blocks: list[Block] = []
    if reason is not None:
        blocks.append(context(f":warning: {clip_escaped(' '.join(reason.split()), 500)}"))
    blocks.append(section(note))
    if len(body) > room:
        cut = entity_safe_cut(body, room)
        body = body[: body.rfind("\n", 0, cut) if "\n" in body[:cut] else cut]
        blocks.append(section(f"```\n{body}\n```"))
        blocks.append(context("…cut here: the whole file does not fit in one message."))
    else:
        blocks.append(section(f"```\n{body}\n```"))
    return SlackMessage(text=fallback_text(item.note), blocks=tuple(blocks))


def render_error(error: Error) -> SlackMessage:
    """Render an error as one short warning section."""
    body = f":warning: {clip_escaped(error.message, MAX_SECTION_CHARS - 20)}"
    return SlackMessage(text=fallback_text(error.message), blocks=(section(body),))


def _list_item(number: int, card: PaperCard) -> str:
    """A list card's text: its linked title, the paper's details, why it matched (each channel's own), summary, links."""
    title, details, after = _list_item_parts(card.paper)
    why = f"\n:dart: {clip_escaped(card.why, 300)}" if card.why else ""
    return clip(f"*{number}. {title}*{details}{why}{after}", _FIRST_SECTION_CHARS)


@lru_cache(maxsize=RENDER_CACHE_SIZE)
def _list_item_parts(paper: Paper) -> tuple[str, str, str]:
    """A paper's linked title, its details line, and its summary and links: the same in every digest it is in."""
    details = " · ".join(part for part in (_authors(paper, LIST_AUTHORS), _stats(paper)) if part)
    summary = clip_escaped(paper.summary, LIST_SUMMARY_CHARS)
    links = " · ".join(link(url, label) for label, url in paper.links() if is_web_url(url) and len(url) <= 500)
    return _title_link(paper), f"\n{details}" if details else "", f"\n{summary}\n{links}" if summary else f"\n{links}"


def _title_link(paper: Paper) -> str:
    # We wrap titles in *bold*: a stray asterisk inside one would end the bold early.
    return link(paper.url, clip(" ".join(paper.title.split()), 300).replace("*", "∗"))


def _authors(paper: Paper, limit: int) -> str:
    if not paper.authors:
        return ""
    return clip_escaped(paper.byline(limit, chars=500), 500)


def _stats(paper: Paper, *, published: bool = False) -> str:
    parts = []
    if paper.upvotes is not None:
        parts.append(f"▲ {paper.upvotes} upvote{'s' if paper.upvotes != 1 else ''}")
    if paper.comments is not None:
        parts.append(f"💬 {paper.comments} comment{'s' if paper.comments != 1 else ''}")
    if paper.github_stars is not None:
        parts.append(f"★ {paper.github_stars} GitHub star{'s' if paper.github_stars != 1 else ''}")
    if published and paper.published_at is not None:
        parts.append(f"Published {paper.published_at.date().isoformat()}")
    if paper.daily_date is not None:
        parts.append(f"Daily Papers {paper.daily_date.isoformat()}")
    return " · ".join(parts)


_DIVIDER = Converted(DividerBlock())


@lru_cache(maxsize=RENDER_CACHE_SIZE)
def _header_block(title: str) -> Converted:
    """A list's header (a digest's is the same in every channel that day), converted once."""
    return Converted(HeaderBlock(text=plain(clip_escaped(title, MAX_HEADER_CHARS))))


@lru_cache(maxsize=RENDER_CACHE_SIZE)
def _actions_block(actions: tuple[CardAction, ...]) -> Converted | None:
    """A list card's actions block, converted once per set of buttons: a paper's Save and 👍 are the same
    in every digest it is in, and validating a block of buttons costs more than the rest of a digest."""
    buttons = _action_buttons(actions)[:MAX_ACTION_ELEMENTS]
    return Converted(ActionsBlock(elements=buttons)) if buttons else None


def _action_buttons(actions: tuple[CardAction, ...]) -> list[ButtonElement]:
    """One button per `CardAction` whose id the adapter can read back (`parse_action_id`); others are left out."""
    buttons: list[ButtonElement] = []
    seen: set[str] = set()
    for action in actions:
        button_id = action_id(action)
        # Slack refuses a whole message over one bad button: drop it instead (and a repeated id too).
        if (parse_action_id(button_id) is None or len(button_id) > MAX_ACTION_ID_CHARS
                or not _PAPER_ID.match(action.paper_id) or button_id in seen):
            log.warning("Slack: left out a button with an unusable id %r", button_id[:120])
            continue
        seen.add(button_id)
        buttons.append(ButtonElement(
            # Escaped like headers: plain text shows the entities as the characters, and never a ping.
            text=PlainTextObject(text=non_blank(clip_escaped(action.label, MAX_BUTTON_CHARS)), emoji=False),
            action_id=button_id,
            value=action.paper_id,
        ))
    return buttons


def _buttons(paper: Paper) -> list[ButtonElement]:
    buttons = []
    for index, (label, url) in enumerate(paper.links()):
        if is_web_url(url) and len(url) <= ButtonElement.url_max_length:
            buttons.append(ButtonElement(
                text=PlainTextObject(text=clip(label, MAX_BUTTON_CHARS), emoji=False),
                url=url,
                action_id=f"{LINK_ACTION_PREFIX}_{index}",
            ))
    return buttons


def _thumbnail(paper: Paper) -> ImageElement | None:
    url = paper.thumbnail
    if not url or not is_web_url(url) or len(url) > ImageElement.image_url_max_length:
        return None
    return ImageElement(image_url=url, alt_text="Paper thumbnail")


