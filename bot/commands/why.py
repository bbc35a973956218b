"""Why a paper was, or was not, posted in a channel; and a channel's delivery log: pure functions of the state.

`bot.commands.history` reads the state (the ledger row, the outbox entries, the topics, the lists and
categories with when each was last read) into a `WhyFacts`; `explain` turns it into lines, in
the order the pipeline meets a paper: a source lists it, a topic matches it, the baseline, the
channel's threshold, realtime or digest, the hourly cap, the outbox, and the post.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.ranking.channel_interest import _in_category  # the candidates' test: one meaning of cs.*
from bot.model.paper import Paper
from bot.model.rows import Channel, Delivery, OutboxEntry, Topic
from bot.delivery.schedule import next_digest_at
from bot.topics import QueryError, parse_query
from bot.topics.misses import explain_miss
from bot.model.wording import plural

LIST_NAMES = {"trending": "Hugging Face's trending list", "daily": "Hugging Face's Daily Papers"}
"""The lists the poller reads for every topic, by their stored name."""
POSTS = ("paper", "digest", "rollup")
"""The outbox kinds that carry a paper's one delivery to a channel (its ledger row's)."""
TITLE_CHARS = 60


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a paper ranks among a channel's candidates now (picks, `rank interest`)."""

    rank: int
    of: int
    score: float | None
    """The channel's model's score; None while candidates are ranked by upvotes (`cold`)."""
    cold: str | None = None


@dataclass(frozen=True, slots=True)
class WhyFacts:
    """Everything `explain` needs, read from the store (nothing here is worked out from guesses)."""

    paper_id: str
    now: datetime
    channel: Channel | None
    paper: Paper | None
    """The paper as the cache knows it (after a look-up when it knew nothing); None: nobody has it."""
    topics: tuple[Topic, ...] = ()
    ledger: Delivery | None = None
    entries: tuple[OutboxEntry, ...] = ()
    """The channel's outbox entries that show the paper, oldest first."""
    recent: tuple[OutboxEntry, ...] = ()
    """The channel's latest outbox entries, newest first (to find the digest that left a paper out)."""
    lists: Mapping[str, datetime | None] = field(default_factory=dict)
    """Each list (`LIST_NAMES`) and when Paperboy last saved it."""
    listed_in: tuple[str, ...] = ()
    """The lists that hold the paper now."""
    categories: Mapping[str, datetime | None] = field(default_factory=dict)
    """The arXiv categories the channel's topics name, and when each was last read (None: not yet)."""
    last_poll: datetime | None = None
    standing: Standing | None = None
    links: Mapping[str, str] = field(default_factory=dict)
    """Message ref -> a link to that message, where the platform gives one."""
    note: str | None = None
    """What went wrong looking the paper up, if anything."""


def when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "an unknown time"


def short(title: str, limit: int = TITLE_CHARS) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def explain(facts: WhyFacts) -> list[str]:
    """The answer to ``why <paper>``: one line per step the paper took (or did not take) here."""
    name = f"{facts.paper_id} “{short(facts.paper.title)}”" if facts.paper else facts.paper_id
    lines = [f"Why {name} in this channel:"]
    row = facts.ledger
    if row is None:
        lines += _unhandled(facts)
    elif row.state == "baseline":
        lines.append(f"Baseline: it was already listed on {row.created_at:%Y-%m-%d} when this channel's topic was "
                     "added, so the subscribe reply showed it and it is never posted here (by design).")
    elif row.state == "sent":
        lines += _posted(facts, row)
    elif row.state == "skipped":
        lines += [_matched(facts, row), _skipped(facts, row)]
    elif row.state == "queued":
        lines += [_matched(facts, row), _waiting_for_digest(facts, row)]
    else:
        lines += [_matched(facts, row), *_in_outbox(facts, row)]
    lines += _leaderboards(facts)
    channel = facts.channel
    if channel is not None and channel.paused_reason and (row is None or row.state != "sent"):
        lines.append(f"Paused: this channel is paused ({channel.paused_reason}); nothing is sent here until a "
                     "manager types 'resume'.")
    if facts.standing is not None:
        lines.append(_standing(facts.standing))
    return lines


def _matched(facts: WhyFacts, row: Delivery) -> str:
    """Say what put the paper in the ledger: a topic (and why, as the post says it), or the picks."""
    if row.topic_id is None and any(e.tag.startswith("picks:") for e in facts.entries):
        return f"Picked for this channel by its interest{f': {row.why}' if row.why else ''}."
    # A removed topic leaves its ledger rows without one (the store's remove_topic clears it).
    topic = next((t for t in facts.topics if t.id == row.topic_id), None)
    name = f"topic {topic.number} “{topic.query}”" if topic else "a topic since removed"
    return f"Matched {name} on {row.created_at:%Y-%m-%d}{f': {row.why}' if row.why else ''}."


def _posted(facts: WhyFacts, row: Delivery) -> list[str]:
    entry = next((e for e in facts.entries if e.kind in POSTS and e.state == "sent"), None)
    how = _how(entry) if entry else "a post"
    link = facts.links.get(entry.message_ref or row.message_ref or "") if entry else None
    posted = f"Posted here {when(row.sent_at)} as {how}" + (f": {link}" if link else ".")
    return [_matched(facts, row), posted]


def _how(entry: OutboxEntry) -> str:
    if entry.kind == "paper":
        return "a realtime post of its own"
    if entry.kind == "rollup":
        return "part of a roll-up (the hourly cap on single posts had been reached)"
    if entry.tag.startswith("picks:"):
        return "one of the day's picks"
    return f"part of the digest “{entry.title}”" if entry.title else "part of a digest"


def _skipped(facts: WhyFacts, row: Delivery) -> str:
    digest = min((e for e in facts.recent if e.kind == "digest" and not e.tag.startswith("picks:")
                  and e.created_at and row.created_at and e.created_at >= row.created_at),
                 key=lambda e: e.id, default=None)
    top = f"top {facts.channel.top_n}" if facts.channel else "top papers"
    at = f" of {digest.created_at:%Y-%m-%d}" if digest else ""
    return (f"Held: left out of the digest{at}, which takes only the {top} of what waited for it; "
            "a paper left out is not posted later.")


def _waiting_for_digest(facts: WhyFacts, row: Delivery) -> str:
    channel = facts.channel
    if channel is None or not channel.digest_time:
        return ("Held: it waits for a digest, but this channel has none: 'digest 09:00' sets one "
                "(or 'realtime on' posts new matches as they come).")
    at = next_digest_at(channel, facts.now)
    return (f"Held: waiting for the digest at {at:%Y-%m-%d %H:%M %Z} (since {when(row.created_at)}); the digest "
            f"posts its top {channel.top_n} by {'interest' if channel.digest_rank == 'interest' else 'upvotes'}.")


def _in_outbox(facts: WhyFacts, row: Delivery) -> list[str]:
    """A ledger row owed a post: where its outbox entry is (pending, being sent, given up)."""
    entry = next((e for e in reversed(facts.entries) if e.kind in POSTS), None)
    if entry is None:
        return [f"Queued {when(row.created_at)}; its post is not in the outbox yet."]
    lines = []
    if entry.kind == "rollup":
        lines.append(f"Held: folded into a roll-up by the hourly cap on single posts ({when(entry.created_at)}).")
    tried = plural(entry.attempts, "failed attempt")
    error = f"; last error: {entry.last_error}" if entry.last_error else ""
    if entry.state == "dead":
        lines.append(f"Given up (dead) after {tried}: {entry.last_error or 'no reason kept'}.")
    elif entry.state == "sending":
        lines.append(f"Queued: being sent since {when(entry.claimed_at)} ({tried}{error}); after a crash Paperboy "
                     "checks the channel before sending it again.")
    else:
        retry = f"; next try {when(entry.next_attempt_at)}" if entry.next_attempt_at else ""
        lines.append(f"Queued: pending since {when(entry.created_at)} ({tried}{error}{retry}).")
    return lines


def _leaderboards(facts: WhyFacts) -> list[str]:
    return [f"Also in the weekly leaderboard posted {when(e.sent_at)}." for e in facts.entries
            if e.kind == "leaderboard" and e.state == "sent"]


def _standing(standing: Standing) -> str:
    if standing.score is None:
        place = f"Rank: {standing.rank} of {standing.of} among this channel's candidates now."
        return f"{place} {standing.cold}" if standing.cold else place
    return (f"Rank: {standing.rank} of {standing.of} among this channel's candidates now, score "
            f"{standing.score:.3f} by its interest model.")


# -- not in the ledger: not seen, not matched, or not handled yet ----------------------------------


def _unhandled(facts: WhyFacts) -> list[str]:
    if not facts.topics:
        return ["This channel follows no topics, so Paperboy posts nothing here from the lists; "
                "'subscribe <query>' follows one."]
    paper = facts.paper
    seen = _seen(facts)
    if paper is None or not seen:
        return _not_seen(facts)
    lines = [f"Seen: {'; '.join(seen)}."]
    matched, misses = _match_topics(facts.topics, paper)
    if matched is None:
        return lines + ["No topic matches:", *misses]
    topic, why = matched
    lines.append(f"Matches topic {topic.number} “{topic.query}”: {why}.")
    lines.append(_why_not_queued(facts, paper, topic))
    return lines


def _why_not_queued(facts: WhyFacts, paper: Paper, topic: Topic) -> str:
    """A paper a topic matches that has no ledger row: the threshold, a new topic, gone from the lists, or not yet."""
    channel = facts.channel
    upvotes = paper.upvotes or 0
    listed = bool(facts.listed_in) or any(_in_category(paper, c) for c in facts.categories)
    if channel is not None and upvotes < channel.min_upvotes:
        then = ("it is posted if it reaches that while it is still listed" if listed
                else "it is no longer listed, so it will not be posted")
        return (f"Held: it has {upvotes} upvotes, below this channel's threshold of {channel.min_upvotes}; "
                f"{then}.")
    if not topic.baseline_taken:
        return (f"Topic {topic.number} is new: its baseline (what the lists hold) is taken at the next complete "
                "poll, and what it holds then is shown in the subscribe reply, not posted.")
    if not listed and paper.daily_date and paper.daily_date < topic.added_at.date():
        return (f"Not posted: it was a Daily Paper of {paper.daily_date:%Y-%m-%d}, before topic {topic.number} "
                f"was added on {topic.added_at:%Y-%m-%d}, and is no longer in the lists Paperboy reads.")
    if not listed:
        read = max((at for at in facts.lists.values() if at), default=None)
        return (f"Not queued: it is not in the lists as Paperboy last read them ({when(read)}); if it joins "
                "them, the next poll queues it.")
    return f"Not handled yet: the next poll queues it (last successful poll {when(facts.last_poll)})."


def _seen(facts: WhyFacts) -> list[str]:
    """Where a source this channel follows has it: a list now, a Daily Papers day, a category followed."""
    paper = facts.paper
    if paper is None:
        return []
    seen = [f"in {LIST_NAMES.get(name, name)} now" for name in facts.listed_in]
    if paper.daily_date and "daily" not in facts.listed_in:
        seen.append(f"a Daily Paper of {paper.daily_date:%Y-%m-%d}")
    followed = [c for c in facts.categories if _in_category(paper, c)]
    if followed:
        seen.append(f"in arXiv's {', '.join(followed)}, which this channel follows")
    return seen


def _not_seen(facts: WhyFacts) -> list[str]:
    paper = facts.paper
    reads = [f"{LIST_NAMES.get(n, n)} (last read {when(at)})" for n, at in facts.lists.items()]
    reads += [f"arXiv's {c} ({f'last read {when(at)}' if at else 'not read yet'})"
              for c, at in facts.categories.items()]
    follows = f"This channel follows {_and(reads)}."
    if paper is None:
        found = facts.note or "Neither Hugging Face nor arXiv knows it."
        return [f"Not yet seen: no source Paperboy reads has listed it. {found}", follows]
    if paper.source == "arxiv":
        cats = ", ".join(paper.categories) or "no category arXiv gave"
        return [f"Not yet seen: it is only on arXiv (not on Hugging Face Papers), in {cats}, and no topic here "
                f"follows {'that category' if len(paper.categories) == 1 else 'those categories'} "
                f"(a topic with cat:{paper.categories[0] if paper.categories else 'cs.CL'} would).", follows]
    return ["Not yet seen: it is not in the lists this channel follows (not trending, not a Daily Paper) nor in "
            "an arXiv category it follows.", follows]


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _match_topics(topics: tuple[Topic, ...], paper: Paper) -> tuple[tuple[Topic, str] | None, list[str]]:
    """The channel's oldest topic that matches (as the poller picks it) and why; else each topic's failed part."""
    misses = []
    for topic in sorted(topics, key=lambda t: t.id):
        try:
            query = parse_query(topic.query)
        except QueryError:
            misses.append(f"  {topic.number}. {topic.query}: no longer parses, so it is skipped")
            continue
        match = query.match(paper)
        if match is not None:
            return (topic, match.explain() or "every paper"), []
        misses.append(f"  {topic.number}. {topic.query}: {explain_miss(query, paper)}")
    return None, misses


# -- log ---------------------------------------------------------------------------------------------

KINDS = {"paper": "post", "digest": "digest", "rollup": "roll-up", "update": "edit", "thread": "thread",
         "leaderboard": "leaderboard"}


def log_line(entry: OutboxEntry, titles: Mapping[str, str]) -> str:
    """One delivery or failure: time, kind, papers, state, and for a failure the reason."""
    kind = "picks" if entry.tag.startswith("picks:") else KINDS.get(entry.kind, entry.kind)
    at = entry.sent_at or entry.created_at
    ids = entry.paper_ids
    papers = f"{ids[0]} “{short(titles[ids[0]], 50)}”" if ids and ids[0] in titles else (ids[0] if ids else "")
    if len(ids) > 1:
        papers += f" and {len(ids) - 1} more"
    return " · ".join(part for part in (when(at), kind, papers, _state(entry)) if part)


def _state(entry: OutboxEntry) -> str:
    if entry.state == "dead":
        return f"given up after {plural(entry.attempts, 'attempt')}: {entry.last_error or 'no reason kept'}"
    if entry.state == "pending" and entry.attempts:
        retry = f", next try {when(entry.next_attempt_at)}" if entry.next_attempt_at else ""
        return f"pending, {plural(entry.attempts, 'failed attempt')}, last error: {entry.last_error}{retry}"
    return entry.state
