"""One conformance suite for every adapter: console, memory, Discord and Slack against their fakes, Matrix on Synapse.

Each driver starts its adapter on the real core and reads back what its platform holds (the fake
servers' own records, the console's printed text). The same tests then ask every adapter what the
core relies on: commands answered through the platform's own path, posts that arrive and are found
again, edits, text that pings nobody, and buttons, threads and the one mention only where declared.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import discord
import pytest
from pydantic import SecretStr

from adapters.console import ConsoleAdapter
from adapters.discord import DiscordAdapter
from adapters.memory import MemoryAdapter
from adapters.slack import SlackAdapter
from bot.actions import card_actions
from bot.app import open_core
from bot.channels import ChannelRef
from bot.commands import COMMANDS
from bot.delivery import BUTTONS, FILES, THREADS, DeliveryStatus
from bot.paper import Paper
from bot.replies import PaperCard, PaperList, Post
from tests.fakes.discord_server import FakeDiscord, pings as discord_pings
from tests.fakes.seed import seed_id, seed_titles_and_abstracts
from tests.fakes.slack_server import FakeSlack, block_actions_body
from tests.test_slack_adapter import SECRET, all_text, post_signed, run_command

HOSTILE = "@everyone @here <!channel> <!here> <@&1> <@U1> <!subteam^S9> **bold** `code` [x](https://evil.example)"
PAPER_ID = "2403.10001"


@dataclass
class Driver:
    """An adapter under test and the means to read its platform."""

    name: str
    adapter: Any
    channel: ChannelRef
    command: Callable[[str], Awaitable[str]]
    """Run ``/papers <text>`` through the platform's inbound path; return what the caller is shown."""
    shown: Callable[[], list[dict[str, Any]]]
    """What the platform holds in the channel now, oldest first, each message as a dict with ``text``."""
    pings: Callable[[dict[str, Any]], set[str]] = lambda message: set()
    """Whom one held message notifies, as ``group:<id>`` or anything else it would wake."""
    buttons: Callable[[dict[str, Any]], list[str]] = lambda message: []
    """The action ids of one held message's Paperboy buttons."""
    click: Callable[[str, str], Awaitable[str]] | None = None
    """Click the button *action id* on the post *message ref*; return what the clicker is shown."""
    group: str | None = None
    """A group id the platform's mentions take (None: it has no group mentions)."""
    keeps_history: bool = True
    core: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def a_paper(title: str = "Merging models without data", paper_id: str = PAPER_ID) -> Paper:
    return Paper(id=paper_id, title=title, abstract="We merge models. It works.", upvotes=12,
                 authors=("Ada Lovelace",))


def card_post(paper: Paper, *, actions: bool = False, mention: str | None = None) -> Post:
    card = PaperCard(paper, why="matched merging", actions=card_actions(paper.id, 2) if actions else ())
    return Post(card, tag=f"paper:{paper.id}", paper_ids=(paper.id,), mention=mention)


# -- drivers ------------------------------------------------------------------------------


async def memory_driver(core) -> AsyncIterator[Driver]:
    adapter = MemoryAdapter(core.engine)
    core.poller.adapters[adapter.platform] = adapter

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

    yield Driver("memory", adapter, adapter.channel(), command, shown, buttons=buttons, click=click,
                 pings=lambda m: {f"group:{m['post'].mention}"} if m["post"].mention else set(), group="G1")


async def console_driver(core) -> AsyncIterator[Driver]:
    out = io.StringIO()
    adapter = ConsoleAdapter(core.engine, stdin=io.StringIO(), stdout=out, user="ada", prompt=False)
    core.poller.adapters[adapter.platform] = adapter

    async def command(text: str) -> str:
        return await adapter.handle_line(text) or ""

    def shown() -> list[dict[str, Any]]:
        return [{"text": out.getvalue()}] if out.getvalue() else []

    from adapters.console import CONSOLE_CHANNEL
    async def click(ref: str, action: str) -> str:  # no buttons: the same act is typed
        _, kind, paper_id = action.split(":")
        return await command(f"{kind} {paper_id}")

    yield Driver("console", adapter, CONSOLE_CHANNEL, command, shown, keeps_history=False, click=click)


def _slack_pings(message: dict[str, Any]) -> set[str]:
    """Slack notifies for ``<!…>`` and ``<@…>`` sequences in a message's text and blocks (escaped ones are text)."""
    raw = (message.get("text") or "") + json.dumps(message.get("blocks") or [])
    woken = set()
    for found in re.findall(r"<(!subteam\^[A-Z0-9]+|![a-z]+|@[A-Z0-9]+)[|>]", raw):
        woken.add(f"group:{found.split('^')[1]}" if found.startswith("!subteam") else found)
    return woken


async def slack_driver(core, tmp_path) -> AsyncIterator[Driver]:
    async with FakeSlack(channel_limit=None, workspace_limit=None) as fake:
        settings = core.settings.model_copy(update={
            "slack_bot_token": SecretStr("xoxb-test"), "slack_signing_secret": SecretStr(SECRET),
            "slack_api_url": fake.api_url})
        adapter = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0)
        core.poller.adapters[adapter.platform] = adapter
        await adapter.start()
        try:
            async def command(text: str) -> str:
                return all_text(await run_command(adapter, fake, text))

            def shown() -> list[dict[str, Any]]:
                return [{**m, "text": (m.get("text") or "") + json.dumps(m.get("blocks") or [])}
                        for m in fake.messages_in("C1")]

            def buttons(message: dict[str, Any]) -> list[str]:
                return [e["action_id"] for b in message.get("blocks") or [] if b["type"] == "actions"
                        for e in b["elements"] if e.get("action_id", "").startswith("paperboy:")]

            async def click(ref: str, action: str) -> str:
                count = len(fake.responses) + 1
                body = block_actions_body(action, response_url=fake.response_url(f"click{count}"),
                                          value=action.rsplit(":", 1)[1], message_ts=ref.split("/")[1])
                assert (await post_signed(adapter, body))[0] == 200
                return all_text(await fake.wait_for_response(count=count))

            yield Driver("slack", adapter, ChannelRef("slack", "T1", "C1"), command, shown, pings=_slack_pings,
                         buttons=buttons, click=click, group="S0ML1", extra={"fake": fake})
        finally:
            await adapter.stop()


async def discord_driver(core) -> AsyncIterator[Driver]:
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        settings = core.settings.model_copy(update={
            "discord_token": SecretStr(fake.token), "discord_api_url": fake.api_url,
            "discord_gateway_url": fake.gateway_url})
        adapter = DiscordAdapter(settings, core.engine)
        core.poller.adapters[adapter.platform] = adapter
        await adapter.start()
        try:
            async def command(text: str) -> str:
                name, _, rest = text.partition(" ")
                # Discord types the rest as the command's first option (the registry names it).
                options = {COMMANDS[name].args[0].name: rest} if rest else None
                interaction = await fake.run_command(name, options)
                await FakeDiscord.wait_for(lambda: interaction.done)
                return json.dumps(interaction.messages(), ensure_ascii=False)

            def shown() -> list[dict[str, Any]]:
                # The messages as Discord holds them, with the allowed mentions each was sent with.
                held, sent = fake.messages.get(fake.channel_id, []), fake.channel_messages.get(fake.channel_id, [])
                return [{**m, "allowed_mentions": body.get("allowed_mentions"), "text": json.dumps(m, ensure_ascii=False)}
                        for m, body in zip(held, sent)]

            def pings(message: dict[str, Any]) -> set[str]:
                return {f"group:{w[5:]}" if w.startswith("role:") else w for w in discord_pings(message)}

            def buttons(message: dict[str, Any]) -> list[str]:
                return [c["custom_id"] for row in message.get("components") or [] for c in row["components"]
                        if c.get("custom_id", "").startswith("paperboy:")]

            async def click(ref: str, action: str) -> str:
                interaction = await fake.click(ref, action)
                await FakeDiscord.wait_for(lambda: interaction.done)
                return json.dumps(interaction.messages(), ensure_ascii=False)

            yield Driver("discord", adapter, ChannelRef("discord", fake.guild_id, fake.channel_id), command, shown,
                         pings=pings, buttons=buttons, click=click, group=fake.roles[0].id, extra={"fake": fake})
        finally:
            await adapter.stop()
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest.fixture(params=["console", "memory", "discord", "slack", "matrix"])
async def driver(request, settings, tmp_path) -> AsyncIterator[Driver]:
    from tests.matrix_people import matrix_driver

    async with open_core(settings) as core:
        makers = {"console": lambda: console_driver(core), "memory": lambda: memory_driver(core),
                  "discord": lambda: discord_driver(core), "slack": lambda: slack_driver(core, tmp_path),
                  # a real Synapse, started (once per session) only when a Matrix test runs
                  "matrix": lambda: matrix_driver(core, request.getfixturevalue("synapse_server"))}
        async with contextlib.aclosing(makers[request.param]()) as drivers:
            made = await drivers.__anext__()
            made.core = core
            yield made


# -- the contract ---------------------------------------------------------------------------


async def test_help_is_answered_through_the_platforms_own_path(driver):
    answer = await driver.command("help")
    assert "subscribe" in answer and "leaderboard" in answer and "Traceback" not in answer


async def test_bad_input_is_one_clear_line(driver):
    answer = await driver.command("show not-a-paper")
    assert "arXiv id" in answer and "Traceback" not in answer


async def test_capabilities_are_what_the_core_knows(driver):
    assert driver.adapter.capabilities <= {BUTTONS, THREADS, FILES}
    assert isinstance(driver.adapter.capabilities, frozenset)


async def test_a_post_arrives_is_found_again_and_edited_in_place(driver):
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


async def test_text_from_papers_pings_nobody(driver):
    hostile = a_paper(title=HOSTILE)
    for post in (card_post(hostile, actions=True),
                 Post(PaperList(HOSTILE, (PaperCard(hostile, why=HOSTILE),)), tag="digest:x", paper_ids=(PAPER_ID,))):
        assert (await driver.adapter.send(driver.channel, post)).status is DeliveryStatus.SENT
        assert driver.pings(driver.shown()[-1]) == set()


async def test_buttons_appear_only_where_declared_and_carry_the_paper(driver):
    await driver.adapter.send(driver.channel, card_post(a_paper(), actions=True))
    shown = driver.buttons(driver.shown()[-1])
    if BUTTONS in driver.adapter.capabilities:
        assert shown == [f"paperboy:save:{PAPER_ID}", f"paperboy:vote:{PAPER_ID}", f"paperboy:downvote:{PAPER_ID}"]
    else:
        assert shown == []


async def test_the_one_mention_wakes_only_its_group(driver):
    if driver.group is None:
        pytest.skip(f"{driver.name} has no groups to mention")
    await driver.adapter.send(driver.channel, card_post(a_paper(HOSTILE), mention=driver.group))
    assert driver.pings(driver.shown()[-1]) == {f"group:{driver.group}"}


async def test_a_thread_opens_on_its_post_and_is_found_again(driver):
    if THREADS not in driver.adapter.capabilities:
        pytest.skip(f"{driver.name} has no threads")
    post = card_post(a_paper("A" * 150 + " and more words"))
    sent = await driver.adapter.send(driver.channel, post)
    thread = Post(PaperCard(post.content.paper, detail=True), tag=f"thread:{PAPER_ID}", paper_ids=(PAPER_ID,))
    assert await driver.adapter.find_thread(driver.channel, sent.message_ref, thread) is None
    opened = await driver.adapter.open_thread(driver.channel, sent.message_ref, thread)
    assert opened.status is DeliveryStatus.SENT and opened.message_ref
    assert await driver.adapter.find_thread(driver.channel, sent.message_ref, thread) == opened.message_ref
    # The thread is not a second post of the paper.
    assert await driver.adapter.find_post(driver.channel, post) == sent.message_ref


async def test_a_save_click_lands_on_the_clickers_reading_list_and_a_vote_is_counted(driver):
    title, abstract = seed_titles_and_abstracts()[0]
    paper = Paper(id=seed_id(0), title=title, abstract=abstract)
    sent = await driver.adapter.send(driver.channel, card_post(paper, actions=True))
    saved = await driver.click(sent.message_ref, f"paperboy:save:{paper.id}")
    assert "Saved" in saved and paper.id in saved and "Traceback" not in saved
    assert paper.id in await driver.command("saved")
    voted = await driver.click(sent.message_ref, f"paperboy:vote:{paper.id}")
    assert "(1 in this channel)" in voted


async def test_a_downvote_click_is_noted_privately_and_a_second_takes_it_back(driver):
    title, abstract = seed_titles_and_abstracts()[0]
    paper = Paper(id=seed_id(0), title=title, abstract=abstract)
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


async def test_votes_and_saves_on_delivered_posts_rank_the_leaderboard(driver):
    """Posts delivered by the worker through the platform, then clicked: the board ranks by 👍, then saves."""
    core = driver.core
    papers = [Paper(id=seed_id(n), title=seed_titles_and_abstracts()[n][0]) for n in (0, 1)]
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
