"""Group mentions and escaped slash commands on Slack: a post pings its group and nobody else, typed markup stays
text. The real Bolt app, signed requests, the fake Slack and the real core, as in tests/test_slack_actions.py."""

from __future__ import annotations

import json
import logging

import pytest

from adapters.slack import SlackAdapter, manifest
from adapters.slack.render import render_cached, render_post, with_mention
from bot.model.channels import Group
from bot.ports.adapter import DeliveryStatus
from bot.model.paper import Paper
from bot.model.replies import PaperCard, PaperList
from tests.fakes.slack_server import FakeSlack
from tests.test_slack_actions import (  # noqa: F401  (fixtures)
    C1, GROUP, RecordingEngine, adapter, card_post, engine, hostile, pings, slack,
)
from tests.test_slack_adapter import SHOW_ID, all_text, core, hf, is_warning, run_command  # noqa: F401  (fixtures)


# -- the one mention ----------------------------------------------------------------------


async def test_a_mention_post_pings_its_group_and_nobody_else(adapter: SlackAdapter, slack: FakeSlack) -> None:
    hostile = "Merging <!channel> models for @everyone <!here> <@U1>"
    sent = await adapter.send(C1, card_post(title=hostile, mention=GROUP))

    assert sent.status is DeliveryStatus.SENT
    [call] = slack.calls_to("chat.postMessage")
    text, blocks = call.params["text"], call.params["blocks"]
    first_section = next(b for b in blocks if b["type"] == "section")["text"]["text"]
    assert text.startswith(f"<!subteam^{GROUP}> ") and first_section.startswith(f"<!subteam^{GROUP}> ")
    everything = text + json.dumps(blocks, ensure_ascii=False)
    assert pings(everything) == [f"<!subteam^{GROUP}>"] * 2
    assert "&lt;!channel&gt;" in first_section and "<!channel>" not in everything


async def test_a_post_without_a_mention_pings_nobody(adapter: SlackAdapter, slack: FakeSlack) -> None:
    await adapter.send(C1, card_post(title="<!channel> @everyone"))
    [call] = slack.calls_to("chat.postMessage")
    assert pings(call.params["text"] + json.dumps(call.params["blocks"])) == []


@pytest.mark.parametrize("bad", ["<!channel>", "U0123ABC", "s0123abc", "S", "S0123ABC> <!here", "S" + "A" * 40])
def test_a_malformed_mention_is_ignored_with_a_warning(bad: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    text, blocks = render_post(card_post(mention=bad))
    assert pings(text + json.dumps(blocks)) == []
    assert "not mentioning" in caplog.text


def test_a_mention_leaves_the_cached_rendering_alone() -> None:
    text, blocks = render_cached(card_post().content)
    with_mention(text, blocks, GROUP)
    again_text, again = render_cached(card_post().content)
    assert pings(again_text + json.dumps(again)) == []


def test_a_mention_fits_in_a_full_first_section() -> None:
    long_title = Paper(id="2403.10001", title="t " * 2000, abstract="a" * 5000)
    listing = PaperList("Digest", (PaperCard(long_title),), empty="x")
    for content in (PaperCard(long_title), listing, PaperList("Empty", (), empty="e " * 3000)):
        _, blocks = with_mention(*render_cached(content), "S" + "A" * 19)
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000


# -- escaped slash commands (should_escape: true) ------------------------------------------


async def test_an_escaped_group_mention_becomes_at_handle_and_a_group(
    adapter: SlackAdapter, slack: FakeSlack, engine: RecordingEngine,
) -> None:
    await run_command(adapter, slack, "subscribe diffusion notify <!subteam^S123ABC|@ml-team>")

    [command] = engine.commands
    assert command.name == "subscribe"
    assert command.args == "diffusion notify @ml-team"
    assert command.groups == (Group("S123ABC", "ml-team"),)


async def test_people_channels_and_links_become_plain_text(
    adapter: SlackAdapter, slack: FakeSlack, engine: RecordingEngine,
) -> None:
    await run_command(adapter, slack,
                      "search <@U42|bob> in <#C9|papers> &amp; <!subteam^S9> <https://x.example/a?b=1&amp;c=2|x>")
    [command] = engine.commands
    assert command.args == "@bob in #papers & @S9 https://x.example/a?b=1&c=2"
    assert command.groups == (Group("S9", "S9"),)


async def test_show_with_an_escaped_link_still_works(adapter: SlackAdapter, slack: FakeSlack) -> None:
    response = await run_command(adapter, slack, f"show <https://arxiv.org/abs/{SHOW_ID}>")
    assert not is_warning(response) and f"https://huggingface.co/papers/{SHOW_ID}" in all_text(response)


async def test_typed_markup_stays_text(adapter: SlackAdapter, slack: FakeSlack, engine: RecordingEngine) -> None:
    # What a person typed as "<!channel>" arrives escaped: it is text, never a mention or a group.
    await run_command(adapter, slack, "search &lt;!subteam^S1|@x&gt; &lt;!channel&gt;")
    [command] = engine.commands
    assert command.args == "<!subteam^S1|@x> <!channel>" and command.groups == ()


def test_the_manifest_escapes_the_command_and_asks_for_user_groups() -> None:
    data = manifest()
    [command] = data["features"]["slash_commands"]
    assert command["should_escape"] is True
    assert "threads on|off" in command["usage_hint"] and "notify @group" in command["usage_hint"]
    assert len(command["usage_hint"]) <= 200
    assert {"usergroups:read", "files:write", "im:history"} <= set(data["oauth_config"]["scopes"]["bot"])
    assert data["settings"]["interactivity"]["is_enabled"] is True
