"""Render the core's replies and posts as Matrix message content: sanitised HTML with a plain-text body.

Only the tags the Matrix spec recommends to clients (b, i, a, br, p, ul, ol, li, blockquote, code)
and links that are http(s). Every "@" from papers or people is followed by a word joiner, so no
old client highlights ``@room`` or a user id copied from a title; ``m.mentions`` is ``{}`` unless
a topic notifies someone (a post's one `Post.mention`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from bot.model.paper import Paper
from bot.model.replies import VOTE, Content, Error, File, PaperCard, PaperList, Post, Text

MARKER = "org.paperboy.post"
"""The content key that tags Paperboy's posts (``{"tag", "paper_ids", "kind"}``): the history check reads it."""
ROOM = "@room"
"""The group id of a whole room: ``notify @room`` pings everyone in it."""
_JOINER = "\u2060"
SUMMARY_CHARS = 400
ABSTRACT_CHARS = 6000
MAX_LISTED = 30
MAX_INLINE_FILE = 20_000


@dataclass(frozen=True, slots=True)
class Message:
    """One message's plain body and HTML body."""

    body: str
    html: str

    def content(self, *, msgtype: str = "m.notice", mention: str | None = None) -> dict[str, Any]:
        """The ``m.room.message`` content: ``m.mentions`` names nobody unless *mention* (a user id or @room)."""
        body, formatted, mentions = self.body, self.html, {}
        if mention:  # the default push rules never notify for m.notice, mention or not: a ping is m.text
            msgtype = "m.text"
        if mention == ROOM:
            body, formatted, mentions = f"@room {body}", f"@room {formatted}", {"room": True}
        elif mention:
            pill = f'<a href="https://matrix.to/#/{html.escape(mention)}">{html.escape(mention)}</a>'
            body, formatted, mentions = f"{mention}: {body}", f"{pill}: {formatted}", {"user_ids": [mention]}
        return {"msgtype": msgtype, "body": body, "format": "org.matrix.custom.html", "formatted_body": formatted,
                "m.mentions": mentions}


def quiet(text: str) -> str:
    """*text* that pings nobody: a word joiner after every "@" (``@room``, ``@ada:example.org``)."""
    return text.replace("@", "@" + _JOINER)


def escape(text: str) -> str:
    """*text* for HTML, pinging nobody."""
    return html.escape(quiet(text), quote=True)


def safe_url(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("https://", "http://")) else None


def link(url: str | None, label: str) -> str:
    """An HTML link to *url* (http(s) only, else the bare label)."""
    url = safe_url(url)
    return f'<a href="{html.escape(url, quote=True)}">{escape(label)}</a>' if url else escape(label)


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def render(content: Content) -> Message:
    """Any reply as a message."""
    if isinstance(content, Error):
        return Message(quiet(f"⚠️ {content.message}"), f"⚠️ {escape(content.message)}")
    if isinstance(content, Text):
        return render_text(content)
    if isinstance(content, File):  # Matrix files need the media repository: the text goes inline
        text = content.content
        if len(text) > MAX_INLINE_FILE:  # an event holds 64 KiB, body and HTML together
            text = text[:MAX_INLINE_FILE] + f"\n… ({len(content.content) - MAX_INLINE_FILE} more characters cut)"
        return Message(quiet(f"{content.note} ({content.name}):\n\n{text}"),
                       f"{escape(content.note)} ({escape(content.name)}):<pre><code>{escape(text)}</code></pre>")
    if isinstance(content, PaperCard):
        return render_card(content)
    return render_list(content)


def render_text(text: Text) -> Message:
    lines = text.body.splitlines()
    head = [text.title] if text.title else []
    return Message(quiet("\n".join(head + lines)),
                   "<br>".join([f"<b>{escape(t)}</b>" for t in head] + [escape(line) for line in lines]))


def render_card(card: PaperCard) -> Message:
    paper = card.paper
    plain = [f"{paper.title} [{paper.id}]"]
    rich = [f"<b>{link(paper.url, paper.title)}</b> [{escape(paper.id)}]"]
    extra = _details(card)
    plain += extra
    rich += [escape(line) for line in extra]
    links = paper.links() if card.detail else paper.links()[:2]
    plain.append(" | ".join(url for _, url in links))
    rich.append(" · ".join(link(url, label) for label, url in links))
    return Message(quiet("\n".join(plain)), "<br>".join(rich))


def _details(card: PaperCard) -> list[str]:
    """The lines under a card's title: authors, counts, why it matched, note, and the summary or abstract."""
    paper = card.paper
    lines = []
    if paper.authors:
        lines.append(", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else ""))
    counts = [f"{paper.upvotes} upvotes" if paper.upvotes is not None else None,
              f"{paper.comments} comments" if paper.comments else None]
    if any(counts):
        lines.append(" · ".join(c for c in counts if c))
    if card.why:
        lines.append(f"{card.why_label}: {card.why}" if card.why_label else card.why)
    votes = next((a.label for a in card.actions if a.kind == VOTE and a.label != "👍"), None)
    if votes:  # the count the 👍 reactions made, edited in place as it changes
        lines.append(votes)
    if card.note:
        lines.append(f"({card.note})")
    if card.detail:
        lines += [f"{label}: {clip(text, ABSTRACT_CHARS)}" for label, text in
                  (("Abstract", paper.abstract), ("AI summary", paper.ai_summary)) if text]
    elif paper.summary:
        lines.append(clip(paper.summary, SUMMARY_CHARS))
    return lines


def render_list(listing: PaperList) -> Message:
    plain, rich = [listing.title], [f"<b>{escape(listing.title)}</b>"]
    if listing.note:
        plain.append(f"({listing.note})")
        rich.append(f"<i>{escape(listing.note)}</i>")
    if not listing.cards:
        plain.append(listing.empty)
        rich.append(escape(listing.empty))
    items = []
    for number, card in enumerate(listing.cards[:MAX_LISTED], listing.start):
        why = f" ({card.why})" if card.why else ""
        plain.append(f"{number}. {card.paper.title} [{card.paper.id}]{why} {_first_url(card.paper)}")
        items.append(f"<li>{link(_first_url(card.paper), card.paper.title)} [{escape(card.paper.id)}]"
                     f"{escape(why)}</li>")
    body = "<br>".join(rich) + (f'<ol start="{listing.start}">{"".join(items)}</ol>' if items else "")
    return Message(quiet("\n".join(plain)), body)


def _first_url(paper: Paper) -> str:
    links = paper.links()
    return links[0][1] if links else ""


def render_post(post: Post, *, kind: str = "post") -> dict[str, Any]:
    """A post's content, tagged with `MARKER` so the history check finds it; mentions only its topic's notify."""
    content = render(post.content).content(mention=post.mention)
    content[MARKER] = {"tag": post.tag, "paper_ids": list(post.paper_ids), "kind": kind}
    return content
