"""`bot.delivery.planning` on its own: what a channel receives and what each message says, with no database."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, strategies as st

from bot.model.channels import ChannelRef
from bot.model.paper import Paper
from bot.delivery.planning import (Known, Planned, compose, edit_tag, flood_room, flood_since, leaderboard_post, pause_notice,
                          picks_post, plan_digest, plan_posts, posted_state, posted_states, refresh_plan,
                          rollup_title, single_topics)
from bot.model.replies import PaperCard, PaperList
from bot.model.rows import Channel, OutboxEntry, PostedCard

AT = datetime(2026, 3, 6, 9, 0, tzinfo=timezone.utc)  # a Friday
CHANNEL = Channel(id=7, ref=ChannelRef("slack", "T1", "C1"), top_n=3)


def paper(paper_id: str, **changes) -> Paper:
    return Paper(id=paper_id, title=f"Paper {paper_id}", **changes)


def entry(kind: str, *paper_ids: str, title: str | None = None, mention: str | None = None) -> OutboxEntry:
    return OutboxEntry(id=1, channel_id=CHANNEL.id, kind=kind, tag=f"{kind}:{paper_ids[0]}", paper_ids=paper_ids,
                       state="pending", title=title, mention=mention)


def known(*paper_ids: str, votes: int = 0) -> Known:
    return Known({p: paper(p) for p in paper_ids}, {(CHANNEL.id, p): f"why {p}" for p in paper_ids},
                 {(CHANNEL.id, p): votes for p in paper_ids} if votes else {})


# The flood limit, roll-ups and threads.

def test_the_flood_limit_leaves_room_for_what_the_last_hour_did_not_use():
    assert [flood_room(10, recent) for recent in (0, 3, 10, 12)] == [10, 7, 0, 0]
    assert (AT - flood_since(AT)).total_seconds() == 3600


def test_posts_past_the_room_fold_into_one_rollup_that_mentions_nobody():
    new = {"p1": 1, "p2": 2, "p3": 1, "p4": None, "p5": 2}
    planned = plan_posts(7, new, room=2, threads=False, mentions={1: "S1", 2: "S2"})
    assert planned == [
        Planned(7, "paper", "paper:p1", ("p1",), None, None, "S1"),
        Planned(7, "paper", "paper:p2", ("p2",), None, None, "S2"),
        Planned(7, "rollup", "rollup:p3", ("p3", "p4", "p5"), "…and 3 more new papers matching this channel's topics"),
    ]
    assert single_topics(new, 2) == [1, 2]  # only the singles' mentions are wanted
    assert single_topics({"p1": None, "p2": 4}, 5) == [4]


def test_a_rollup_title_counts_in_the_singular_and_the_plural():
    assert rollup_title(1) == "…and 1 more new paper matching this channel's topics"
    assert rollup_title(2) == "…and 2 more new papers matching this channel's topics"
    (only,) = plan_posts(7, {"p1": None}, room=0, threads=True, mentions={})
    assert (only.kind, only.tag, only.title, only.mention) == ("rollup", "rollup:p1", rollup_title(1), None)


def test_with_threads_on_each_single_post_is_followed_at_once_by_its_thread():
    planned = plan_posts(7, {"p1": 1, "p2": None, "p3": 1}, room=2, threads=True, mentions={1: "S1"})
    assert [(e.kind, e.tag, e.mention) for e in planned] == [
        ("paper", "paper:p1", "S1"), ("thread", "thread:p1", None),
        ("paper", "paper:p2", None), ("thread", "thread:p2", None),
        ("rollup", "rollup:p3", None),  # a roll-up opens no thread
    ]


@given(st.lists(st.sampled_from([f"p{i}" for i in range(12)]), unique=True), st.integers(0, 15), st.booleans())
def test_every_new_paper_is_planned_once_in_order(papers, room, threads):
    planned = plan_posts(7, dict.fromkeys(papers), room=room, threads=threads, mentions={})
    shown = [p for e in planned if e.kind != "thread" for p in e.paper_ids]
    assert shown == papers
    assert sum(e.kind == "paper" for e in planned) == min(room, len(papers))
    assert sum(e.kind == "rollup" for e in planned) == (len(papers) > room)
    assert sum(e.kind == "thread" for e in planned) == (min(room, len(papers)) if threads else 0)


# Digests, leaderboards, picks.

def test_a_daily_digest_shows_the_top_n_and_says_how_many_it_left_out():
    plan = plan_digest(CHANNEL, AT, ["a", "b", "c", "d", "e"], weekly=False, cold=None)
    assert plan.tag == "digest:2026-03-06"
    assert plan.title == "Paperboy digest for Fri 06 Mar: 3 new papers (the top 3 of 5)"
    assert (plan.top, plan.skipped) == (("a", "b", "c"), ("d", "e"))


def test_a_digest_title_counts_in_the_singular_and_names_the_week():
    plan = plan_digest(CHANNEL, AT, ["a"], weekly=True, cold=None)
    assert plan.title == "Paperboy weekly digest for the week to Fri 06 Mar: 1 new paper"
    assert plan.skipped == ()


def test_a_digest_ranked_by_interest_before_it_can_be_says_why_in_lower_case():
    plan = plan_digest(CHANNEL, AT, ["a", "b"], weekly=False, cold="Ranked by upvotes until this channel has 5 👍.")
    assert plan.title == "Paperboy digest for Fri 06 Mar: 2 new papers (ranked by upvotes until this channel has 5 👍)"


def test_a_digest_with_no_paper_is_not_planned():
    assert plan_digest(CHANNEL, AT, [], weekly=False, cold=None) is None


def test_leaderboard_and_picks_are_tagged_by_their_day():
    assert leaderboard_post(AT) == ("leaderboard:2026-03-06", "This week's top papers in this channel (to Fri 06 Mar)")
    assert picks_post(AT, None) == ("picks:2026-03-06", "Today's picks for this channel")
    assert picks_post(AT, "Ranked by upvotes.")[1] == "Today's picks for this channel (ranked by upvotes)"


# Edits.

def test_a_post_is_edited_when_its_paper_gains_code_or_passes_an_upvote_milestone():
    assert posted_state(paper("p1", upvotes=9)) == "code=0;upvotes=0"
    assert posted_state(paper("p1", upvotes=30, github_repo="https://github.com/a/b")) == "code=1;upvotes=25"
    card = PostedCard(CHANNEL.id, "p1", "msg-1", "code=0;upvotes=10")
    assert edit_tag(card, paper("p1", upvotes=24)) is None
    assert edit_tag(card, paper("p1", upvotes=25)) == "update:p1:code=0;upvotes=25"


def test_a_refresh_waits_while_one_is_pending_and_else_counts_the_edits():
    assert refresh_plan("msg-1", queued=0, pending=0) == "refresh:msg-1:1"
    assert refresh_plan("msg-1", queued=2, pending=0) == "refresh:msg-1:3"
    assert refresh_plan("msg-1", queued=3, pending=1) is None


def test_what_a_post_showed_is_kept_for_single_papers_only():
    papers = {"p1": paper("p1", upvotes=10)}
    assert posted_states(entry("paper", "p1"), papers) == {"p1": "code=0;upvotes=10"}
    assert posted_states(entry("update", "p1"), papers) == {"p1": "code=0;upvotes=10"}
    assert posted_states(entry("update", "p1", title="A digest"), papers) is None
    assert posted_states(entry("rollup", "p1", title="…"), papers) is None


# What each entry sends.

def test_a_paper_post_is_one_card_with_its_mention_and_its_reason():
    post = compose(entry("paper", "p1", mention="S1"), known("p1"), buttons=False)
    assert isinstance(post.content, PaperCard) and post.mention == "S1"
    assert (post.content.why, post.content.why_label, post.content.actions) == ("why p1", "matched", ())
    assert (post.tag, post.paper_ids) == ("paper:p1", ("p1",))


def test_a_thread_opens_with_the_paper_in_full_and_mentions_nobody():
    post = compose(entry("thread", "p1", mention="S1"), known("p1"), buttons=True)
    assert post.content.detail and post.mention is None and post.content.actions == ()


def test_a_list_shows_its_title_and_a_leaderboard_shows_each_papers_votes():
    rollup = compose(entry("rollup", "p1", "p2", title=rollup_title(2)), known("p1", "p2"), buttons=False)
    assert isinstance(rollup.content, PaperList) and rollup.content.title == rollup_title(2)
    assert rollup.mention is None
    board = compose(entry("leaderboard", "p1", "p2", title="Top"), known("p1", "p2", votes=4), buttons=True)
    assert [(c.why, c.why_label) for c in board.content.cards] == [("👍 4", None), ("👍 4", None)]
    assert board.content.cards[0].actions[1].label == "👍 4"


def test_an_untitled_list_is_called_new_papers():
    assert compose(entry("digest", "p1"), known("p1"), buttons=False).content.title == "New papers"


def test_an_entry_whose_paper_left_the_cache_has_no_post():
    assert compose(entry("rollup", "p1", "p2", title="x"), known("p1"), buttons=False) is None


def test_the_pause_notice_names_the_channel_and_the_way_back():
    text = pause_notice(CHANNEL, "missing_scope")
    assert text.startswith("Paperboy paused its posts to this channel (C1): missing_scope.")
    assert "'/papers resume'" in text
