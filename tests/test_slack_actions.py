"""Save and 👍 on Slack: buttons on posts, signed clicks through Bolt, group mentions, escaped commands.

The real Bolt app on loopback, signed requests, the fake Slack, and the real core (with a
small recording engine in front of it for clicks, until the core's ``act`` is wired).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack import SlackAdapter
from adapters.slack.clicks import INCOMPLETE_CLICK, UNKNOWN_BUTTON
from adapters.slack.render import render, render_cached, render_post
from bot.model.actions import Action, card_actions
from bot.runtime.app import Core, open_core
from bot.model.channels import ChannelRef, Command
from bot.ports.adapter import BUTTONS, FILES, THREADS, DeliveryStatus
from bot.model.paper import Paper
from bot.model.replies import CardAction, PaperCard, PaperList, Post, Reply, Text
from paperboy_testing.hf_server import FakeHuggingFace
from tests.fakes.slack_server import FakeSlack, block_actions_body, slash_command_body
from tests.test_slack_adapter import (  # the same fake Hugging Face, settings, core and signed requests
    all_text, core, hf, is_warning, make_settings, post_signed, run_command,
)

C1 = ChannelRef("slack", "T1", "C1")
GROUP = "S0123ABC"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    # No rate limits here: these tests are about what is sent, not how fast.
    async with FakeSlack(users={"U1": {"is_admin": False}, "UADMIN": {"is_admin": True}},
                         channel_limit=None, workspace_limit=None) as fake:
        yield fake


class RecordingEngine:
    """The real engine for commands; clicks are recorded and acknowledged with one private line."""

    def __init__(self, core: Core, *, fail: bool = False) -> None:
        self.real = core.engine
        self.fail = fail
        self.actions: list[Action] = []
        self.commands: list[Command] = []

    async def handle(self, command: Command) -> Reply:
        self.commands.append(command)
        return await self.real.handle(command)

    async def act(self, action: Action) -> Reply:
        self.actions.append(action)
        if self.fail:
            raise RuntimeError("boom: a bug in the engine")
        return Reply(Text(f"Saved {action.paper_id} to your reading list."), private=True)

    async def topic_labels(self, channel: ChannelRef) -> list[str]:
        return await self.real.topic_labels(channel)


@pytest.fixture
def engine(core: Core) -> RecordingEngine:
    return RecordingEngine(core)


@pytest.fixture
async def adapter(core: Core, engine: RecordingEngine) -> AsyncIterator[SlackAdapter]:
    bot = SlackAdapter(core.settings, engine, host="127.0.0.1", port=0)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


def paper(paper_id: str = "2403.10001", title: str = "A paper") -> Paper:
    return Paper(id=paper_id, title=title, github_repo="https://github.com/example/repo")


def card_post(paper_id: str = "2403.10001", *, title: str = "A paper", votes: int = 0,
              mention: str | None = None) -> Post:
    card = PaperCard(paper(paper_id, title), actions=card_actions(paper_id, votes))
    return Post(card, tag=f"paper:{paper_id}", paper_ids=(paper_id,), mention=mention)


def action_elements(blocks: list[dict]) -> list[list[dict]]:
    return [block["elements"] for block in blocks if block["type"] == "actions"]


def pings(text: str) -> list[str]:
    """Every piece of Slack markup in *text* that notifies someone."""
    return re.findall(r"<(?:!|@)[^>]*>", text)


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.exc_text] == []


async def click(adapter: SlackAdapter, slack: FakeSlack, action_id: str, **fields: str) -> tuple[int, dict]:
    """Click *action_id* (signed); return the HTTP status and what reached the click's response_url."""
    count = len(slack.responses) + 1
    body = block_actions_body(action_id, response_url=slack.response_url(f"click{count}"), **fields)
    started = time.monotonic()
    status, _ = await post_signed(adapter, body)
    assert time.monotonic() - started < 3.0  # acknowledged before the engine's work
    return status, await slack.wait_for_response(count=count)


# -- buttons ------------------------------------------------------------------------------


def test_slack_has_buttons_threads_and_files() -> None:
    assert SlackAdapter.capabilities == frozenset({BUTTONS, THREADS, FILES})


async def test_a_sent_post_shows_save_and_vote_beside_the_link_buttons(adapter: SlackAdapter, slack: FakeSlack) -> None:
    sent = await adapter.send(C1, card_post(votes=3))

    assert sent.status is DeliveryStatus.SENT
    [message] = slack.messages_in("C1")
    [elements] = action_elements(message["blocks"])
    links = [e["url"] for e in elements if "url" in e]
    assert "https://huggingface.co/papers/2403.10001" in links and "https://github.com/example/repo" in links
    clicks = [e for e in elements if "url" not in e]
    assert [(e["text"]["text"], e["action_id"], e["value"]) for e in clicks] == [
        ("🔖 Save", "paperboy:save:2403.10001", "2403.10001"),
        ("👍 3", "paperboy:vote:2403.10001", "2403.10001"),
        ("👎", "paperboy:downvote:2403.10001", "2403.10001"),
    ]


def test_a_card_without_actions_has_only_its_link_buttons() -> None:
    blocks = render(PaperCard(paper())).block_dicts()
    [elements] = action_elements(blocks)
    assert all("url" in e for e in elements)


def test_each_card_of_a_list_gets_its_own_actions_block() -> None:
    cards = tuple(PaperCard(paper(f"2403.1000{n}"), actions=card_actions(f"2403.1000{n}", n)) for n in range(3))
    blocks = render(PaperList("Digest", cards + (PaperCard(paper("2403.20000")),))).block_dicts()

    groups = action_elements(blocks)
    assert [[e["action_id"] for e in group] for group in groups] == [
        [f"paperboy:save:2403.1000{n}", f"paperboy:vote:2403.1000{n}", f"paperboy:downvote:2403.1000{n}"]
        for n in range(3)
    ]
    kinds = [b["type"] for b in blocks]
    assert kinds[:4] == ["header", "section", "actions", "divider"]  # the buttons right under their paper


def test_a_full_list_with_actions_stays_inside_slacks_limits() -> None:
    many = tuple(CardAction("vote", f"2403.{n:05d}", f"👍 {n}") for n in range(40))
    cards = tuple(PaperCard(paper(f"2403.{n:05d}"), actions=card_actions(f"2403.{n:05d}", n) + many)
                  for n in range(60))
    listing = render(PaperList("Digest", cards, note="note")).block_dicts()
    card = render(PaperCard(paper(), actions=many)).block_dicts()

    assert len(listing) <= 50
    assert all(len(elements) <= 25 for elements in action_elements(listing) + action_elements(card))
    assert len(action_elements(listing)) == 15  # every shown paper still has its buttons


def test_an_unusable_action_is_left_out_not_sent() -> None:
    bad = (CardAction("save", "x" * 300, "🔖 Save"), CardAction("frobnicate", "2403.10001", "?"),
           CardAction("vote", "2403.10001", "👍"), CardAction("vote", "2403.10001", "👍 again"))
    [elements] = action_elements(render(PaperCard(paper(), actions=bad)).block_dicts())
    assert [e["action_id"] for e in elements if "url" not in e] == ["paperboy:vote:2403.10001"]


hostile = st.lists(st.sampled_from(list("ab <>&|:!@^*\n👍🔖") + ["<!channel>", "&amp;"]), max_size=60).map("".join)
actions = st.lists(st.builds(CardAction, st.sampled_from(["save", "vote", "frobnicate"]),
                             st.one_of(st.just("2403.10001"), hostile), hostile), max_size=30).map(tuple)
cards = st.builds(PaperCard, st.builds(Paper, id=st.just("2403.10001"), title=hostile, abstract=hostile),
                  why=st.none() | hostile, detail=st.booleans(), actions=actions)


@settings(max_examples=60, deadline=None)
@given(st.one_of(cards, st.builds(PaperList, hostile, st.lists(cards, max_size=40).map(tuple))),
       st.none() | st.sampled_from([GROUP, "<!channel>", "S1"]))
def test_any_card_with_any_actions_stays_inside_slacks_limits_and_pings_only_its_group(
    content: PaperCard | PaperList, mention: str | None,
) -> None:
    text, blocks = render_post(Post(content, tag="t", mention=mention))
    render(content).block_dicts()  # slack_sdk validates every block and element here

    assert 1 <= len(blocks) <= 50
    for block in blocks:
        if block["type"] == "actions":
            assert 1 <= len(block["elements"]) <= 25
            assert len({e["action_id"] for e in block["elements"]}) == len(block["elements"])
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
    expected = [f"<!subteam^{GROUP}>"] * 2 if mention == GROUP else []
    assert pings(text + json.dumps(blocks, ensure_ascii=False)) == expected


def test_the_render_cache_keys_on_the_vote_count() -> None:
    one = render_cached(card_post(votes=1).content)[1]
    two = render_cached(card_post(votes=2).content)[1]
    labels = [[e["text"]["text"] for e in action_elements(blocks)[0]] for blocks in (one, two)]
    assert "👍 1" in labels[0] and "👍 2" in labels[1]


# -- clicks -------------------------------------------------------------------------------


async def test_a_signed_click_reaches_the_engine_and_is_answered_privately(
    adapter: SlackAdapter, slack: FakeSlack, engine: RecordingEngine, caplog: pytest.LogCaptureFixture,
) -> None:
    sent = await adapter.send(C1, card_post())
    ts = sent.message_ref.split("/")[1]

    status, answer = await click(adapter, slack, "paperboy:save:2403.10001", value="2403.10001", message_ts=ts)

    assert status == 200
    [action] = engine.actions
    assert (action.kind, action.paper_id) == ("save", "2403.10001")
    assert action.channel == C1 and action.message_ref == f"C1/{ts}" == sent.message_ref
    assert (action.caller.id, action.caller.name, action.caller.can_manage) == ("U1", "ada", True)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "Saved 2403.10001" in all_text(answer)
    assert slack.calls_to("chat.update") == []  # the post itself is the core's to refresh, not the click's
    no_traceback(caplog)


async def test_a_vote_click_names_the_vote(adapter: SlackAdapter, slack: FakeSlack, engine: RecordingEngine) -> None:
    await click(adapter, slack, "paperboy:vote:2403.10001", user_id="U7", user_name="grace")
    [action] = engine.actions
    assert (action.kind, action.paper_id, action.caller.id, action.caller.name) == ("vote", "2403.10001", "U7", "grace")


async def test_a_click_with_a_bad_signature_is_refused_and_runs_nothing(
    adapter: SlackAdapter, slack: FakeSlack, engine: RecordingEngine,
) -> None:
    body = block_actions_body("paperboy:vote:2403.10001", response_url=slack.response_url())
    wrong = await post_signed(adapter, body, secret="not-the-secret")
    stale = await post_signed(adapter, body, timestamp=int(time.time()) - 6 * 60)

    assert wrong[0] == 401 and stale[0] == 401
    await asyncio.sleep(0.5)  # a wrongly accepted click would have reached the engine by now
    assert engine.actions == [] and slack.responses == []


async def test_an_unknown_button_gets_one_line_and_reaches_no_engine(
    adapter: SlackAdapter, slack: FakeSlack, engine: RecordingEngine, caplog: pytest.LogCaptureFixture,
) -> None:
    status, answer = await click(adapter, slack, "paperboy:frobnicate:2403.10001")

    assert status == 200 and engine.actions == []
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert is_warning(answer) and UNKNOWN_BUTTON in all_text(answer)
    assert len(answer["blocks"]) == 1
    no_traceback(caplog)


async def test_a_click_without_its_channel_gets_one_line(
    adapter: SlackAdapter, slack: FakeSlack, engine: RecordingEngine, caplog: pytest.LogCaptureFixture,
) -> None:
    payload = json.loads(_payload(block_actions_body("paperboy:save:2403.10001",
                                                     response_url=slack.response_url("nochannel"))))
    del payload["channel"], payload["container"]["channel_id"]
    status, _ = await post_signed(adapter, urlencode({"payload": json.dumps(payload)}))
    answer = await slack.wait_for_response()

    assert status == 200 and engine.actions == []
    assert is_warning(answer) and INCOMPLETE_CLICK in all_text(answer)
    no_traceback(caplog)


def _payload(body: str) -> str:
    return parse_qs(body)["payload"][0]


async def test_a_signed_click_without_a_user_is_400(adapter: SlackAdapter, slack: FakeSlack,
                                                     engine: RecordingEngine) -> None:
    payload = json.loads(_payload(block_actions_body("paperboy:save:2403.10001", response_url=None)))
    del payload["user"]
    status, _ = await post_signed(adapter, urlencode({"payload": json.dumps(payload)}))
    assert status == 400 and engine.actions == []


async def test_an_engine_that_raises_gives_one_line_and_no_traceback_to_the_user(
    core: Core, slack: FakeSlack, caplog: pytest.LogCaptureFixture,
) -> None:
    bot = SlackAdapter(core.settings, RecordingEngine(core, fail=True), host="127.0.0.1", port=0)
    await bot.start()
    try:
        status, answer = await click(bot, slack, "paperboy:vote:2403.10001")
    finally:
        await bot.stop()

    assert status == 200 and is_warning(answer)
    assert "Something went wrong" in all_text(answer) and "boom" not in all_text(answer)


async def test_a_click_without_a_response_url_is_answered_with_an_ephemeral_message(
    adapter: SlackAdapter, slack: FakeSlack, engine: RecordingEngine,
) -> None:
    status, _ = await post_signed(adapter, block_actions_body("paperboy:save:2403.10001", response_url=None))
    [call] = await slack.wait_for_call("chat.postEphemeral")

    assert status == 200 and len(engine.actions) == 1
    assert (call.params["channel"], call.params["user"]) == ("C1", "U1")
    assert "Saved 2403.10001" in json.dumps(call.params["blocks"], ensure_ascii=False)


async def test_link_buttons_are_still_only_acknowledged(adapter: SlackAdapter, slack: FakeSlack,
                                                        engine: RecordingEngine) -> None:
    status, _ = await post_signed(adapter, block_actions_body("paperboy_link_0", response_url=slack.response_url()))
    await asyncio.sleep(0.3)
    assert status == 200 and engine.actions == [] and slack.responses == []


def pings(text: str) -> list[str]:
    """Every piece of Slack markup in *text* that notifies someone."""
    return re.findall(r"<(?:!|@)[^>]*>", text)

# -- direct messages ----------------------------------------------------------------------


async def test_subscribe_in_a_direct_message_is_the_callers_own_place(
    tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace,
) -> None:
    settings = make_settings(tmp_path, slack, hf, slack_admins_only=True)
    async with open_core(settings) as opened:
        bot = SlackAdapter(settings, opened.engine, host="127.0.0.1", port=0)
        await bot.start()
        try:
            in_dm = await run_command(bot, slack, "subscribe diffusion", user_id="U1", channel_id="DU1")
            in_channel = await run_command(bot, slack, "subscribe diffusion", user_id="U1", channel_id="C1")
            posted = await bot.send(ChannelRef("slack", "T1", "DU1"), card_post())
        finally:
            await bot.stop()

    assert not is_warning(in_dm) and "diffusion" in all_text(in_dm)
    assert is_warning(in_channel) and "Only people who can manage" in all_text(in_channel)
    assert [c.params["user"] for c in slack.calls_to("users.info")] == ["U1"]  # not asked in the DM
    assert posted.status is DeliveryStatus.SENT and posted.message_ref.startswith("DU1/")
    assert slack.posted_paper_ids("DU1") == ["2403.10001"]


def test_a_direct_message_is_known_by_its_channel_name_too() -> None:
    body = slash_command_body("x", response_url="u", channel_id="DU1")
    assert "channel_name=directmessage" in body
