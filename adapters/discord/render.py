"""Render Paperboy's reply vocabulary as Discord messages that fit Discord's limits by design.

Discord answers 400 to an over-long message and discord.py checks nothing, so every
builder here measures what it made and shrinks it (whole lines, sentence or word
boundaries, never half a link) until it fits.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field, replace
from datetime import datetime

import discord

from adapters.discord import buttons
from adapters.discord.markdown import cut_escaped, escape, fit, fit_joined, fit_lines, safe_url, shorten
from adapters.discord.parts import (
    FIELD_VALUE_LIMIT, TITLE_LIMIT, CardBudget, CardParts, card_parts, list_line, paper_links, stats,
)
from bot.model.paper import FULL_CARD_AUTHORS, LinkedRepos, Paper
from bot.model.replies import Content, Error, File, PaperCard, PaperList, Post, Text

CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
TOTAL_EMBED_CHARS = 6000
DESCRIPTION_LIMIT = 4096
FIELDS_PER_EMBED = 25
FIELD_NAME_LIMIT = 256
FOOTER_LIMIT = 2048

HF_YELLOW = 0xFFD21E
ERROR_RED = 0xE5484D
TEXT_GREY = 0x5865F2

_ROLE_ID = re.compile(r"[0-9]{1,20}")
_MENTION_LINE = re.compile(r"^<@&[0-9]{1,20}>$")


@dataclass(frozen=True, slots=True)
class Message:
    """What one Discord message carries: optional content, up to ten embeds, buttons and files.

    ``view`` and ``files`` are one-shot discord.py objects (a file is a stream): render anew
    for every send.
    """

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    view: discord.ui.View | None = None
    files: list[discord.File] = field(default_factory=list)


_LIST_BUDGETS = (
    CardBudget(summary=450),
    CardBudget(summary=250, why=200),
    CardBudget(summary=120, why=150, authors=120, all_links=False),
    CardBudget(summary=0, title=150, why=100, authors=80, all_links=False),
)


def card_embed(card: PaperCard, budget: CardBudget = CardBudget()) -> discord.Embed:
    """Build the embed for one paper within *budget*: the paper's parts (made once) and the channel's why."""
    parts = card_parts(card.paper, budget)
    lines: list[str] = []
    if card.why and budget.why:  # the channel's own line: why the paper matched there
        lines.append("🔎 " + fit(card.why, budget.why))
    if parts.summary is not None:
        lines.append(parts.summary)
    return _card_embed(parts, card.paper.published_at, "\n\n".join(lines) if lines else None)


def _card_embed(parts: CardParts, timestamp: datetime | None, description: str | None) -> discord.Embed:
    # A new Embed (and new field dicts) for every message: trim_embed and discord.py change or keep them.
    embed = discord.Embed(title=parts.title, url=parts.url, colour=HF_YELLOW, timestamp=timestamp,
                          description=description)
    if parts.author:
        embed.set_author(name=parts.author)
    for name, value, inline in parts.fields:
        embed.add_field(name=name, value=value, inline=inline)
    if parts.thumbnail:
        embed.set_thumbnail(url=parts.thumbnail)
    if parts.footer:
        embed.set_footer(text=parts.footer)
    return embed


def detail_embed(card: PaperCard) -> discord.Embed:
    """Build the full embed `show` answers with: whole abstract, AI summary, dates, counts, linked repos.

    The abstract takes the description (4096); everything else is a field (1024 each), and the
    abstract gives way, never the fields, should the whole pass Discord's 6000 characters.
    """
    paper = card.paper
    embed = discord.Embed(title=fit(paper.title, TITLE_LIMIT), url=safe_url(paper.url), colour=HF_YELLOW)
    embed.description = _detail_description(card, DESCRIPTION_LIMIT)
    # Half a field at most: a long author list must not crowd out the abstract.
    if byline := paper.byline(FULL_CARD_AUTHORS, chars=FIELD_VALUE_LIMIT // 2):
        embed.add_field(name="Authors", value=fit(byline, FIELD_VALUE_LIMIT), inline=False)
    if paper.ai_summary:
        embed.add_field(name="AI summary", value=fit(paper.ai_summary, FIELD_VALUE_LIMIT, sentences=True),
                        inline=False)
    for name, value in stats(paper) + _dates(paper):
        embed.add_field(name=name, value=value, inline=True)
    for group in paper.linked_repos():
        value = _repo_links(group)
        if value:
            embed.add_field(name=group.label, value=value, inline=False)
    links = paper_links(paper, all_links=True)
    if links:
        embed.add_field(name="Links", value=links, inline=False)
    thumbnail = safe_url(paper.thumbnail)
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    if paper.organization:  # the dates have their own fields
        embed.set_footer(text=shorten(paper.organization, 100))
    overshoot = len(embed) - TOTAL_EMBED_CHARS
    if overshoot > 0 and embed.description:
        embed.description = _detail_description(card, len(embed.description) - overshoot)
    return trim_embed(embed, TOTAL_EMBED_CHARS)


def _detail_description(card: PaperCard, limit: int) -> str | None:
    why = f"🔎 {fit(card.why, 300)}\n\n" if card.why else ""
    room = limit - len(why)
    abstract = fit(card.paper.abstract, room) if card.paper.abstract and room > 1 else ""
    return (why + abstract).strip() or None


def _dates(paper: Paper) -> list[tuple[str, str]]:
    dates = [("Published", paper.published_at.date() if paper.published_at else None),
             ("Daily Papers", paper.daily_date)]
    return [(name, day.isoformat()) for name, day in dates if day is not None]


def _repo_links(group: LinkedRepos) -> str:
    """Link the repos of one kind by id, and say how many more there are."""
    more = group.more_text()
    tail = f" {more}" if more else ""
    links = [f"[{escape(repo)}]({url})" for repo, url in group.links if safe_url(url)]
    return (fit_joined(links, " · ", FIELD_VALUE_LIMIT - len(tail)) + tail).strip()


def paper_list(plist: PaperList) -> Message:
    """Render a titled list or digest: the title in the content, one embed per paper."""
    header = [f"**{fit(plist.title, 300)}**"]
    if plist.note:
        header.append(fit(plist.note, 500))
    if not plist.cards:
        header.append(fit(plist.empty, 500))
        return Message(content=fit_lines(header, CONTENT_LIMIT))
    if len(plist.cards) > EMBEDS_PER_MESSAGE:
        embeds, left_out = _compact_list(plist.cards, start=plist.start)
        if left_out:
            header.append(f"Showing {len(plist.cards) - left_out} of {len(plist.cards)} papers.")
        return Message(content=fit_lines(header, CONTENT_LIMIT), embeds=embeds)
    for budget in _LIST_BUDGETS:
        embeds = [card_embed(card, budget) for card in plist.cards]
        if sum(map(len, embeds)) <= TOTAL_EMBED_CHARS:
            break
    else:
        share = TOTAL_EMBED_CHARS // len(embeds)
        embeds = [trim_embed(embed, share) for embed in embeds]
    return Message(content=fit_lines(header, CONTENT_LIMIT), embeds=embeds)


def _compact_list(cards: tuple[PaperCard, ...], *, start: int = 1) -> tuple[list[discord.Embed], int]:
    """Render many papers as numbered link lines; return the embeds and how many were left out."""
    # The number is the list's own; the rest of a line is the paper's, made once (`list_line`).
    lines = [f"{number}. {list_line(card.paper)}" for number, card in enumerate(cards, start=start)]
    embeds: list[discord.Embed] = []
    total = 0
    current: list[str] = []
    shown = 0
    for line in lines:
        size = sum(len(x) + 1 for x in current) + len(line)
        if total + len(line) + 1 > TOTAL_EMBED_CHARS:
            break
        if size > DESCRIPTION_LIMIT:
            if len(embeds) + 1 >= EMBEDS_PER_MESSAGE:
                break
            embeds.append(discord.Embed(description="\n".join(current), colour=HF_YELLOW))
            current = []
        current.append(line)
        total += len(line) + 1
        shown += 1
    if current:
        embeds.append(discord.Embed(description="\n".join(current), colour=HF_YELLOW))
    return embeds, len(lines) - shown


def trim_embed(embed: discord.Embed, budget: int) -> discord.Embed:
    """Shrink *embed* to at most *budget* characters: drop fields, then shorten the rest."""
    while len(embed) > budget and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    if len(embed) > budget and embed.description:
        room = max(0, len(embed.description) - (len(embed) - budget))
        embed.description = cut_escaped(embed.description, room) or None
    if len(embed) > budget and embed.author.name:
        room = max(1, len(embed.author.name) - (len(embed) - budget))
        embed.set_author(name=shorten(embed.author.name, room))
    if len(embed) > budget and embed.footer.text:
        embed.remove_footer()
    if len(embed) > budget and embed.title:
        room = max(1, len(embed.title) - (len(embed) - budget))
        embed.title = cut_escaped(embed.title, room)
    return embed


def text(reply: Text) -> Message:
    """Render help, settings, status and confirmations as one embed."""
    embed = discord.Embed(colour=TEXT_GREY)
    if reply.title:
        embed.title = fit(reply.title, TITLE_LIMIT)
    lines = [escape(line) for line in reply.body.splitlines()]
    embed.description = fit_lines(lines, DESCRIPTION_LIMIT) or None
    return Message(embeds=[embed])


def error(reply: Error) -> Message:
    """Render an error as one red embed."""
    lines = [escape(line) for line in reply.message.splitlines()] or [""]
    lines[0] = "⚠️ " + lines[0]
    return Message(embeds=[discord.Embed(description=fit_lines(lines, DESCRIPTION_LIMIT), colour=ERROR_RED)])


def notice(body: str) -> Message:
    """Render an important plain-text notice as message content, escaped and within the limit."""
    lines = [escape(line) for line in body.splitlines()] or [""]
    return Message(content=fit_lines(lines, CONTENT_LIMIT))


def attachment(item: File) -> Message:
    """Render a file as a real attachment, with its note as the message text."""
    return Message(content=fit(item.note, CONTENT_LIMIT),
                   files=[discord.File(io.BytesIO(item.content.encode()), filename=item.name)])


def file(item: File) -> Message:
    """Render a file as its note and its text in a code block, cut to fit one message.

    The fallback where an attachment cannot go (past the interaction's size limit); answers
    attach the file itself (`attachment`).
    """
    note = f"{escape(item.note)} ({escape(item.name)})"
    # Nothing ends a code block early but three backticks: break any run of them with a zero-width space.
    body = item.content.replace("```", "``\u200b`").rstrip()
    cut = "…cut here: the whole file does not fit in one message."
    room = CONTENT_LIMIT - len(note) - len("\n```\n\n```")
    if len(body) > room:
        room -= len(cut) + 1
        body = body[:room].rsplit("\n", 1)[0] if "\n" in body[:room] else body[:room]
        return Message(content=f"{note}\n```\n{body}\n```{cut}")
    return Message(content=f"{note}\n```\n{body}\n```")


def content(item: Content) -> Message:
    """Render any reply content natively."""
    if isinstance(item, PaperCard):
        # A note says where the answer came from (the cache, arXiv); it is not part of the card.
        note = f"*{fit(item.note, 300)}*" if item.note else None
        return Message(content=note, embeds=[detail_embed(item) if item.detail else card_embed(item)],
                       view=buttons.card_view(item))
    if isinstance(item, PaperList):
        return replace(paper_list(item), view=buttons.list_view(item))
    if isinstance(item, Text):
        return text(item)
    if isinstance(item, Error):
        return error(item)
    if isinstance(item, File):
        return file(item)
    raise TypeError(f"Discord cannot render {type(item).__name__}")


def post(item: Post) -> Message:
    """Render what the poller delivers to a channel; a valid `Post.mention` opens its text.

    The mention is a line of its own, so finding the post again can set it aside.
    """
    message = content(item.content)
    role = mention_role(item)
    if role is None:
        return message
    lines = [f"<@&{role}>"] + (message.content.split("\n") if message.content else [])
    return replace(message, content=fit_lines(lines, CONTENT_LIMIT))


def mention_role(item: Post) -> int | None:
    """The Discord role *item* must mention, or None (none asked, or not a role id: digits only)."""
    if item.mention is None or not _ROLE_ID.fullmatch(item.mention):
        return None
    return int(item.mention)


def without_mention(text: str | None) -> str:
    """*text* without the role-mention line `post` may have put first."""
    first, _, rest = (text or "").partition("\n")
    return rest if _MENTION_LINE.match(first.strip()) else (text or "")
