"""What a channel receives, decided once: which messages a poll owes it, and what each one says.

Pure functions, no I/O. Storage calls `plan_posts` inside the transaction that counted the
channel's recent posts (so two processes count the flood limit in turn) and stores exactly the
entries it returns; the poller plans digests (`plan_digest`), leaderboards, picks and edits
here; the worker builds each entry's `Post` with `compose` and only sends it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from bot.model.actions import card_actions
from bot.model.paper import Paper
from bot.model.replies import PaperCard, PaperList, Post
from bot.model.rows import Channel, OutboxEntry, PostedCard
from bot.model.wording import lowered, plural

FLOOD_WINDOW = timedelta(hours=1)
"""The flood limit counts the single posts queued for a channel within this window."""
REFRESHED_KINDS = ("paper", "digest", "rollup", "leaderboard")
"""The kinds of sent post a refresh may edit: the ones that show papers with their 👍."""
UPVOTE_MILESTONES = (10, 25, 50, 100, 250, 500, 1000)
"""Upvote counts whose crossing is worth editing into a paper's post."""
UNTITLED_LIST = "New papers"


class Planned(NamedTuple):
    """One outbox entry to store, as its row. Stored in order, so a post's thread entry comes right after it.

    A tuple in the columns' order: a poll plans tens of thousands at once, and stores them as they are.
    """

    channel_id: int
    kind: str
    tag: str
    paper_ids: tuple[str, ...]
    title: str | None = None
    target_ref: str | None = None
    mention: str | None = None


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """A channel's digest: its tag, its title, the papers it shows and the ones it leaves out."""

    tag: str
    title: str
    top: tuple[str, ...]
    skipped: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Known:
    """What a delivery round read for its entries: the papers, why each matched its channel, its 👍 there."""

    papers: Mapping[str, Paper]
    whys: Mapping[tuple[int, str], str | None]
    votes: Mapping[tuple[int, str], int]


def thread_tag(paper_id: str) -> str:
    """The tag of the thread entry that follows the single post of *paper_id*."""
    return f"thread:{paper_id}"


def refresh_tag(target_ref: str, n: int) -> str:
    """The tag of the *n*-th refresh queued of the post *target_ref*."""
    return f"refresh:{target_ref}:{n}"


def flood_since(at: datetime) -> datetime:
    """The oldest creation time of a single post that still counts against the flood limit at *at*."""
    return at - FLOOD_WINDOW


def flood_room(max_per_hour: int, recent: int) -> int:
    """How many single posts a channel that had *recent* within the window may get now."""
    return max(0, max_per_hour - recent)


def rollup_title(count: int) -> str:
    """The title of the post that folds *count* papers past a channel's hourly cap into one."""
    return f"…and {plural(count, 'more new paper', 'more new papers')} matching this channel's topics"


def plan_posts(channel_id: int, new: Mapping[str, int | None], *, room: int, threads: bool,
               mentions: Mapping[int, str]) -> list[Planned]:
    """The entries of the channel *channel_id*'s *new* papers (paper id -> topic id, in order).

    Up to *room* papers get a post each, which mentions its topic's ``notify`` group (*mentions*,
    topic id -> group), followed at once by its thread entry when the channel has *threads*;
    the rest go out together as one roll-up, which mentions nobody.
    """
    papers = list(new)
    singles, rest = papers[:room], papers[room:]
    planned: list[Planned] = []
    for p in singles:
        topic = new[p]
        mention = mentions.get(topic) if topic is not None else None
        planned.append(Planned(channel_id, "paper", f"paper:{p}", (p,), None, None, mention))
        if threads:
            planned.append(Planned(channel_id, "thread", thread_tag(p), (p,)))
    if rest:
        planned.append(Planned(channel_id, "rollup", f"rollup:{rest[0]}", tuple(rest), rollup_title(len(rest))))
    return planned


def single_topics(new: Mapping[str, int | None], room: int) -> list[int]:
    """The topics of the papers of *new* that get a post of their own: the ones whose mention is wanted."""
    return [t for t in list(new.values())[:room] if t is not None]


def refresh_plan(target_ref: str, *, queued: int, pending: int) -> str | None:
    """The tag of a new refresh of *target_ref*, or None while one is pending (it shows the counts as sent)."""
    return None if pending else refresh_tag(target_ref, queued + 1)


def plan_digest(channel: Channel, scheduled: datetime, ranked: Sequence[str], *, weekly: bool,
                cold: str | None) -> DigestPlan | None:
    """The digest of *ranked* (best first) due at *scheduled*: its top N and title; None when it has no paper."""
    top, rest = tuple(ranked[: channel.top_n]), tuple(ranked[channel.top_n:])
    if not top:
        return None
    # A weekly digest gathers what was queued since the last one: the same queue, fired less often.
    count = plural(len(top), "new paper")
    title = (f"Paperboy weekly digest for the week to {scheduled:%a %d %b}: {count}"
             if weekly else f"Paperboy digest for {scheduled:%a %d %b}: {count}")
    if rest:
        title += f" (the top {len(top)} of {len(ranked)})"
    if cold:
        title += f" ({lowered(cold)})"
    return DigestPlan(f"digest:{scheduled:%Y-%m-%d}", title, top, rest)


def leaderboard_post(slot: datetime) -> tuple[str, str]:
    """The (tag, title) of the weekly leaderboard of the week to *slot*."""
    return f"leaderboard:{slot:%Y-%m-%d}", f"This week's top papers in this channel (to {slot:%a %d %b})"


PICKS_TITLE = "Today's picks for this channel"


def picks_post(slot: datetime, cold: str | None) -> tuple[str, str]:
    """The (tag, title) of the daily picks of *slot*'s day; *cold* says why they are not ranked by interest yet."""
    return f"picks:{slot:%Y-%m-%d}", f"{PICKS_TITLE} ({lowered(cold)})" if cold else PICKS_TITLE


def posted_state(paper: Paper) -> str:
    """Summarise what a paper's post shows that is worth an edit when it changes."""
    milestone = max((m for m in UPVOTE_MILESTONES if (paper.upvotes or 0) >= m), default=0)
    return f"code={int(bool(paper.github_repo))};upvotes={milestone}"


def edit_tag(card: PostedCard, paper: Paper) -> str | None:
    """The tag of the edit *card*'s post needs now that its paper is *paper*; None when it shows it still."""
    state = posted_state(paper)
    return None if state == card.posted_state else f"update:{card.paper_id}:{state}"


def posted_states(entry: OutboxEntry, papers: Mapping[str, Paper]) -> dict[str, str] | None:
    """What a single-paper post (or its edit) showed, kept to tell when it needs an edit; None for lists."""
    if entry.kind not in ("paper", "update") or entry.title:
        return None
    return {pid: posted_state(papers[pid]) for pid in entry.paper_ids if pid in papers}


def compose(entry: OutboxEntry, known: Known, *, buttons: bool) -> Post | None:
    """The post *entry* sends (None when one of its papers is gone from the cache).

    A thread opens with the whole abstract and links; a paper post (or an untitled edit) is
    one card with its mention; anything else is a titled list. Leaderboards show each
    paper's 👍 where other posts show why it matched.
    """
    papers = {pid: known.papers[pid] for pid in entry.paper_ids if pid in known.papers}
    if len(papers) < len(set(entry.paper_ids)):
        return None
    if entry.kind == "thread":
        return Post(PaperCard(papers[entry.paper_ids[0]], detail=True), tag=entry.tag, paper_ids=entry.paper_ids)
    leaderboard = entry.kind == "leaderboard"
    cards = tuple(_card(papers[pid], entry.channel_id, known, leaderboard=leaderboard, buttons=buttons)
                  for pid in entry.paper_ids)
    if entry.kind == "paper" or (entry.kind == "update" and not entry.title):
        return Post(cards[0], tag=entry.tag, paper_ids=entry.paper_ids, mention=entry.mention)
    return Post(PaperList(entry.title or UNTITLED_LIST, cards), tag=entry.tag, paper_ids=entry.paper_ids)


def _card(paper: Paper, channel_id: int, known: Known, *, leaderboard: bool, buttons: bool) -> PaperCard:
    votes = known.votes.get((channel_id, paper.id), 0)
    why = f"👍 {votes}" if leaderboard else known.whys.get((channel_id, paper.id))
    return PaperCard(paper, why, actions=card_actions(paper.id, votes) if buttons else (),
                     why_label=None if leaderboard else "matched")


def pause_notice(channel: Channel, reason: str) -> str:
    """What Paperboy tells a channel's subscriber when it pauses its posts there."""
    return (f"Paperboy paused its posts to this channel ({channel.ref.channel}): {reason}. "
            "Nothing is lost: once Paperboy can post there again, run '/papers resume' in that channel.")
