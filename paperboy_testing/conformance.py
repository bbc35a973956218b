"""The conformance suite: what the core relies on from every platform adapter, as checks any adapter runs.

A platform's tests describe their adapter to the checks with a `Driver` (the adapter on a real
core, and the means to read back what the platform holds: its fake server's records, printed
text), then either run each of `CHECKS` as a test of its own, or call `check_conformance` once.
A check that does not apply (threads on a platform without them) raises `NotApplicable`.
"""

from __future__ import annotations

import traceback
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncContextManager, AsyncIterator, Awaitable, Callable

from bot.model.actions import card_actions
from bot.model.channels import ChannelRef
from bot.ports.adapter import BUTTONS, FILES, THREADS, DeliveryStatus
from bot.model.paper import Paper
from bot.model.replies import PaperCard, PaperList, Post
from paperboy_testing.seed import seed_id, seed_titles_and_abstracts

HOSTILE = "@everyone @here <!channel> <!here> <@&1> <@U1> <!subteam^S9> **bold** `code` [x](https://evil.example)"
PAPER_ID = "2403.10001"


class NotApplicable(Exception):
    """The adapter lacks what a check is about (threads, groups to mention): skipped, not failed."""


@dataclass
class Driver:
    """An adapter under test, started on a real core, and the means to read its platform."""

    name: str
    adapter: Any
    channel: ChannelRef
    command: Callable[[str], Awaitable[str]]
    """Run ``/papers <text>`` through the platform's inbound path; return what the caller is shown."""
    shown: Callable[[], list[dict[str, Any]]]
    """What the platform holds in the channel now, oldest first, each message as a dict with ``text``."""
    core: Any
    """The `bot.runtime.app.Core` the adapter runs on (registered in ``core.platforms``)."""
    click: Callable[[str, str], Awaitable[str]]
    """Click the button *action id* on the post *message ref*; return what the clicker is shown
    (a platform without buttons types the same act as a command)."""
    pings: Callable[[dict[str, Any]], set[str]] = lambda message: set()
    """Whom one held message notifies, as ``group:<id>`` or anything else it would wake."""
    buttons: Callable[[dict[str, Any]], list[str]] = lambda message: []
    """The action ids of one held message's Paperboy buttons."""
    group: str | None = None
    """A group id the platform's mentions take (None: it has no group mentions)."""
    keeps_history: bool = True
    """The platform can find its own posts again (`find_post`); the console cannot."""
    extra: dict[str, Any] = field(default_factory=dict)


def a_paper(title: str = "Merging models without data", paper_id: str = PAPER_ID) -> Paper:
    return Paper(id=paper_id, title=title, abstract="We merge models. It works.", upvotes=12,
                 authors=("Ada Lovelace",))


def card_post(paper: Paper, *, actions: bool = False, mention: str | None = None) -> Post:
    card = PaperCard(paper, why="matched merging", actions=card_actions(paper.id, 2) if actions else ())
    return Post(card, tag=f"paper:{paper.id}", paper_ids=(paper.id,), mention=mention)


def seed_paper(index: int = 0) -> Paper:
    title, abstract = seed_titles_and_abstracts()[index]
    return Paper(id=seed_id(index), title=title, abstract=abstract)


# -- the checks -------------------------------------------------------------------------------


async def help_is_answered_through_the_platforms_own_path(driver: Driver) -> None:
    answer = await driver.command("help")
    assert "subscribe" in answer and "leaderboard" in answer and "Traceback" not in answer


async def bad_input_is_one_clear_line(driver: Driver) -> None:
    answer = await driver.command("show not-a-paper")
    assert "arXiv id" in answer and "Traceback" not in answer


async def capabilities_are_what_the_core_knows(driver: Driver) -> None:
    assert driver.adapter.capabilities <= {BUTTONS, THREADS, FILES}
    assert isinstance(driver.adapter.capabilities, frozenset)


async def a_post_arrives_is_found_again_and_edited_in_place(driver: Driver) -> None:
    post = card_post(a_paper())
    sent = await driver.adapter.send(driver.channel, post)
    assert sent.status is DeliveryStatus.SENT and sent.message_ref
    assert "Merging models without data" in driver.shown()[-1]["text"]
    other = card_post(a_paper(paper_id="2403.99999"))
    if driver.keeps_history:
        assert await driver.adapter.find_post(driver.channel, post) == sent.message_ref
        assert await driver.adapter.find_post(driver.channel, other) is None
    else:
        assert await driver.adapter.find_post(driver.channel, post) is None  # it cannot tell: it says so

    edited = await driver.adapter.edit(driver.channel, sent.message_ref, card_post(a_paper("Merging, revised")))
    assert edited.status is DeliveryStatus.SENT
    assert "Merging, revised" in driver.shown()[-1]["text"]
    if driver.keeps_history:
        assert len(driver.shown()) == 1, "an edit replaces the post, it does not add one"


async def text_from_papers_pings_nobody(driver: Driver) -> None:
    hostile = a_paper(title=HOSTILE)
    for post in (card_post(hostile, actions=True),
                 Post(PaperList(HOSTILE, (PaperCard(hostile, why=HOSTILE),)), tag="digest:x", paper_ids=(PAPER_ID,))):
        assert (await driver.adapter.send(driver.channel, post)).status is DeliveryStatus.SENT
        assert driver.pings(driver.shown()[-1]) == set()


async def buttons_appear_only_where_declared_and_carry_the_paper(driver: Driver) -> None:
    await driver.adapter.send(driver.channel, card_post(a_paper(), actions=True))
    shown = driver.buttons(driver.shown()[-1])
    if BUTTONS in driver.adapter.capabilities:
        assert shown == [f"paperboy:save:{PAPER_ID}", f"paperboy:vote:{PAPER_ID}", f"paperboy:downvote:{PAPER_ID}"]
    else:
        assert shown == []


async def the_one_mention_wakes_only_its_group(driver: Driver) -> None:
    if driver.group is None:
        raise NotApplicable(f"{driver.name} has no groups to mention")
    await driver.adapter.send(driver.channel, card_post(a_paper(HOSTILE), mention=driver.group))
    assert driver.pings(driver.shown()[-1]) == {f"group:{driver.group}"}


async def a_thread_opens_on_its_post_and_is_found_again(driver: Driver) -> None:
    if THREADS not in driver.adapter.capabilities:
        raise NotApplicable(f"{driver.name} has no threads")
    post = card_post(a_paper("A" * 150 + " and more words"))
    sent = await driver.adapter.send(driver.channel, post)
    thread = Post(PaperCard(post.content.paper, detail=True), tag=f"thread:{PAPER_ID}", paper_ids=(PAPER_ID,))
    assert await driver.adapter.find_thread(driver.channel, sent.message_ref, thread) is None
    opened = await driver.adapter.open_thread(driver.channel, sent.message_ref, thread)
    assert opened.status is DeliveryStatus.SENT and opened.message_ref
    assert await driver.adapter.find_thread(driver.channel, sent.message_ref, thread) == opened.message_ref
    # The thread is not a second post of the paper.
    assert await driver.adapter.find_post(driver.channel, post) == sent.message_ref


async def a_save_click_lands_on_the_clickers_reading_list_and_a_vote_is_counted(driver: Driver) -> None:
    paper = seed_paper()
    sent = await driver.adapter.send(driver.channel, card_post(paper, actions=True))
    saved = await driver.click(sent.message_ref, f"paperboy:save:{paper.id}")
    assert "Saved" in saved and paper.id in saved and "Traceback" not in saved
    assert paper.id in await driver.command("saved")
    voted = await driver.click(sent.message_ref, f"paperboy:vote:{paper.id}")
    assert "(1 in this channel)" in voted


async def a_downvote_click_is_noted_privately_and_a_second_takes_it_back(driver: Driver) -> None:
    paper = seed_paper()
    await driver.core.store.save_papers([paper])
    sent = await driver.adapter.send(driver.channel, card_post(paper, actions=True))
    noted = " ".join((await driver.click(sent.message_ref, f"paperboy:downvote:{paper.id}")).split())  # wrapped
    assert "Noted: fewer papers like this here" in noted and "to take it back" in noted
    channel = await driver.core.store.get_channel(driver.channel)
    signals = await driver.core.store.channel_signals(channel.id)
    assert [(s.paper_id, s.positive, s.negative) for s in signals] == [(paper.id, 0, 1)]
    taken_back = await driver.click(sent.message_ref, f"paperboy:downvote:{paper.id}")
    assert f"Took back your 👎 on {paper.id}" in taken_back
    assert await driver.core.store.channel_signals(channel.id) == []


async def votes_and_saves_on_delivered_posts_rank_the_leaderboard(driver: Driver) -> None:
    """Posts delivered by the worker through the platform, then clicked: the board ranks by 👍, then saves."""
    core = driver.core
    papers = [seed_paper(0), seed_paper(1)]
    await core.store.save_papers(papers)
    channel = await core.store.ensure_channel(driver.channel)
    await core.store.enqueue_posts(channel.id, [(p.id, "matched", None) for p in papers], at=core.engine.clock(),
                                   max_per_hour=10)
    await core.poller.worker.drain()
    refs = {e.paper_ids[0]: e.message_ref for e in await core.store.outbox_in_state("sent", channel_id=channel.id)}
    assert set(refs) == {p.id for p in papers}
    await driver.click(refs[papers[0].id], f"paperboy:save:{papers[0].id}")
    await driver.click(refs[papers[1].id], f"paperboy:vote:{papers[1].id}")
    board = await driver.command("leaderboard")
    assert papers[1].id in board and papers[0].id in board
    assert board.index(papers[1].id) < board.index(papers[0].id), "👍 first, then saves"


Check = Callable[[Driver], Awaitable[None]]
CHECKS: tuple[Check, ...] = (
    help_is_answered_through_the_platforms_own_path, bad_input_is_one_clear_line,
    capabilities_are_what_the_core_knows, a_post_arrives_is_found_again_and_edited_in_place,
    text_from_papers_pings_nobody, buttons_appear_only_where_declared_and_carry_the_paper,
    the_one_mention_wakes_only_its_group, a_thread_opens_on_its_post_and_is_found_again,
    a_save_click_lands_on_the_clickers_reading_list_and_a_vote_is_counted,
    a_downvote_click_is_noted_privately_and_a_second_takes_it_back,
    votes_and_saves_on_delivered_posts_rank_the_leaderboard,
)
"""Every check, each to run on a driver of its own (they leave posts and votes behind)."""


async def check_conformance(open_driver: Callable[[], AsyncContextManager[Driver]]) -> dict[str, str]:
    """Run every check on a fresh driver from *open_driver*; return each check's outcome by name.

    Outcomes are ``passed`` or ``skipped: <why>``; any failure raises one `AssertionError` that
    names every failed check with its traceback's last lines.
    """
    outcomes: dict[str, str] = {}
    failures: list[str] = []
    for check in CHECKS:
        try:
            async with open_driver() as driver:
                await check(driver)
            outcomes[check.__name__] = "passed"
        except NotApplicable as why:
            outcomes[check.__name__] = f"skipped: {why}"
        except Exception as error:  # noqa: BLE001 - every check runs; the report names each failure
            outcomes[check.__name__] = f"failed: {error!r}"
            failures.append(f"{check.__name__}:\n{''.join(traceback.format_exception(error)[-3:])}")
    if failures:
        raise AssertionError("conformance failed:\n" + "\n".join(failures))
    return outcomes


@asynccontextmanager
async def memory_driver(core: Any) -> AsyncIterator[Driver]:
    """The memory adapter (`adapters.memory.MemoryAdapter`) on *core*: the example of a driver."""
    from adapters.memory import MemoryAdapter

    adapter = MemoryAdapter(core.engine)
    core.platforms.add(adapter)

    async def command(text: str) -> str:
        return str((await adapter.push(text)).content)

    def shown() -> list[dict[str, Any]]:
        held = [post for _, post in adapter.history]
        for _, ref, post in adapter.edits:  # refs are m<n>: the n-th post
            held[int(ref[1:]) - 1] = post
        return [{"text": str(post.content), "post": post} for post in held]

    def buttons(message: dict[str, Any]) -> list[str]:
        content = message["post"].content
        cards = [content] if isinstance(content, PaperCard) else list(content.cards)
        return [f"paperboy:{a.kind}:{a.paper_id}" for card in cards for a in card.actions]

    async def click(ref: str, action: str) -> str:
        _, kind, paper_id = action.split(":")
        return str((await adapter.click(kind, paper_id, message_ref=ref)).content)

    yield Driver("memory", adapter, adapter.channel(), command, shown, core, click, buttons=buttons,
                 pings=lambda m: {f"group:{m['post'].mention}"} if m["post"].mention else set(), group="G1")
