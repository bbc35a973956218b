"""👎, `recommend`, `forget me`, `rank` and `picks` through the engine: real storage on both backends, fake sources."""

from __future__ import annotations

from bot.model.replies import Error, PaperList, Text
from paperboy_testing.seed import seed_id
from tests.test_cli import env, paperboy  # noqa: F401  (the console fixture and runner)
from tests.test_engine import chat, core  # noqa: F401  (fixtures: both backends, a memory chat)

DIFFUSION = [0, 25, 38, 53]
"""Seed papers about diffusion models the channel likes."""
UNLEARNING = [30, 72, 68]


def body(reply) -> str:
    assert isinstance(reply.content, Text), reply.content
    return reply.content.body


def ids(reply) -> list[str]:
    assert isinstance(reply.content, PaperList), reply.content
    return [card.paper.id for card in reply.content.cards]


def about_diffusion(card) -> bool:
    """Whether a card's paper is of the kind the channel likes (its title or abstract says diffusion)."""
    return "diffusion" in f"{card.paper.title} {card.paper.abstract}".lower()


async def like_diffusion(chat) -> None:
    for i in DIFFUSION[:3]:
        await chat.push(f"vote {seed_id(i)}", channel="lab", user=f"U{i}")
    await chat.push(f"save {seed_id(DIFFUSION[3])}", channel="lab")
    for i in UNLEARNING:
        await chat.push(f"downvote {seed_id(i)}", channel="lab")


async def test_recommend_is_led_by_what_the_channel_likes_and_says_why(chat, core):
    core.poller.adapters[chat.platform] = chat  # a platform with buttons
    await core.poller.poll_once(deliver=False)  # the trending list and Daily Papers in the cache
    await like_diffusion(chat)
    reply = await chat.push("recommend 5", channel="lab")
    assert not reply.private and isinstance(reply.content, PaperList)
    listed = reply.content.cards
    assert len(listed) == 5 and reply.content.note and "more" in reply.content.note
    signalled = {seed_id(i) for i in DIFFUSION + UNLEARNING}
    assert not signalled & set(ids(reply)), "nothing the channel signalled comes back"
    assert sum(map(about_diffusion, listed)) >= 3, [c.paper.title for c in listed]  # 8 of the other 85 are
    assert listed[0].why and "close to: “" in listed[0].why and "👍 by 1" in listed[0].why, listed[0].why
    assert "weighs: " in listed[0].why
    assert [a.kind for a in listed[0].actions] == ["save", "vote", "downvote"]
    rest = await chat.push("more", channel="lab")
    assert not set(ids(rest)) & set(ids(reply))


async def test_until_three_positives_recommend_ranks_by_upvotes_and_says_so(chat, core):
    await core.poller.poll_once(deliver=False)
    await chat.push(f"vote {seed_id(0)}", channel="lab")
    await chat.push(f"downvote {seed_id(1)}", channel="lab")
    reply = await chat.push("recommend 25", channel="lab")
    assert reply.content.note.startswith("Ranked by upvotes until this channel has 3 👍 or saves; it has 1.")
    upvotes = [card.paper.upvotes or 0 for card in reply.content.cards]
    assert upvotes == sorted(upvotes, reverse=True) and all(card.why is None for card in reply.content.cards)
    assert seed_id(0) not in ids(reply) and seed_id(1) not in ids(reply)


async def test_in_a_direct_message_recommend_learns_from_the_persons_own_signals(chat, core):
    await core.poller.poll_once(deliver=False)
    for i in DIFFUSION:  # saved anywhere in the workspace: their reading list counts
        await chat.push(f"save {seed_id(i)}", channel="lab")
    other = await chat.push("recommend", channel="D-ann", direct=True, user="U2")
    assert other.content.note.startswith("Ranked by upvotes until you have 3 👍 or saves; you have 0.")
    mine = await chat.push("recommend 5", channel="D-ann", direct=True)
    assert mine.content.note is None or "upvotes" not in mine.content.note
    assert mine.content.title.startswith("Recommended for you (1–5 of")
    assert sum(map(about_diffusion, mine.content.cards)) >= 3, [c.paper.title for c in mine.content.cards]


async def test_downvote_typed_and_clicked_toggles_privately_without_a_count(chat, core):
    typed = await chat.push(f"downvote {seed_id(3)}")
    assert typed.private
    assert body(typed) == f"Noted: fewer papers like this here; type 'downvote {seed_id(3)}' again to take it back."
    clicked = await chat.click("downvote", seed_id(3), message_ref=None)
    assert clicked.private
    assert body(clicked) == (f"Took back your 👎 on {seed_id(3)}: it no longer counts against papers like it "
                             "here.")
    again = await chat.click("downvote", seed_id(3), message_ref=None)
    assert body(again) == "Noted: fewer papers like this here; click again to take it back."
    channel = await core.store.get_channel(chat.channel())
    assert [(s.paper_id, s.positive, s.negative) for s in await core.store.channel_signals(channel.id)] == [
        (seed_id(3), 0, 1)]
    assert "👎" not in str(chat.edits), "a 👎 edits no post: it has no count"
    unknown = await chat.push("downvote 2499.99999")
    assert isinstance(unknown.content, Error) and "2499.99999" in unknown.content.message


async def test_forget_me_asks_for_confirmation_then_removes_and_counts(chat, core):
    await chat.push(f"vote {seed_id(0)}", channel="lab")
    await chat.push(f"vote {seed_id(1)}", channel="hall")
    await chat.push(f"downvote {seed_id(2)}", channel="lab")
    await chat.push(f"save {seed_id(3)}", channel="lab")
    await chat.push(f"vote {seed_id(0)}", channel="lab", user="U2")
    ask = await chat.push("forget me")
    assert ask.private and "forget me confirm" in body(ask)
    lab = await core.store.get_channel(chat.channel("lab"))
    assert len(await core.store.channel_signals(lab.id)) == 3, "nothing removed before the confirmation"
    done = await chat.push("forget me confirm")
    assert done.private
    assert body(done).startswith("Removed 4 signals: 2 👍, 1 👎 and 1 save.")
    assert [(s.paper_id, s.positive) for s in await core.store.channel_signals(lab.id)] == [(seed_id(0), 1)]
    assert "Nothing to remove" in body(await chat.push("forget me confirm"))
    wrong = await chat.push("forget everyone")
    assert isinstance(wrong.content, Error) and "forget me confirm" in wrong.content.message


async def test_on_the_console_signals_recommend_and_forget_me_are_typed(env):  # noqa: F811
    lines = [f"save {seed_id(i)}" for i in DIFFUSION] + [
        "trending", f"downvote {seed_id(30)}", "recommend 3", "forget me", "forget me confirm", "recommend 1"]
    code, out, err = await paperboy("console", env=env, stdin="\n".join(lines) + "\n")
    assert code == 0, err
    out = " ".join(out.split())  # the console wraps to its width; compare the words
    assert f"Noted: fewer papers like this here; type 'downvote {seed_id(30)}' again to take it back." in out
    assert "Recommended for you" in out and "close to: “" in out and "weighs: " in out, "the console is your own"
    assert "Removed 5 signals: 0 👍, 1 👎 and 4 saves." in out
    assert "Ranked by upvotes until you have 3 👍 or saves; you have 0." in out
    assert "Traceback" not in err and "Traceback" not in out


async def test_recommend_with_an_empty_cache_or_a_bad_count_says_so_in_one_line(chat):
    empty = await chat.push("recommend")
    assert isinstance(empty.content, PaperList) and not empty.content.cards
    assert empty.content.empty.startswith("Nothing new to recommend")
    for bad in ("recommend 0", "recommend 26", "recommend lots"):
        reply = await chat.push(bad)
        assert reply.private and isinstance(reply.content, Error) and "from 1 to 25" in reply.content.message, bad
