"""`why` and `log` on Slack end to end: signed slash commands to the real Bolt app, a fake Slack, the real core."""

from __future__ import annotations

from datetime import datetime, timezone

from adapters.slack import SlackAdapter
from bot.runtime.app import Core
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.seed import make_item
from tests.fakes.slack_server import FakeSlack
from tests.test_slack_adapter import adapter, all_text, core, hf, is_warning, run_command, slack  # noqa: F401

HOSTILE = "Tokamak <!channel> control & <https://evil.example|friends>"


async def test_why_and_log_answer_privately_from_what_was_posted(
    adapter: SlackAdapter, slack: FakeSlack, core: Core, hf: FakeHuggingFace,  # noqa: F811
) -> None:
    core.poller.adapters["slack"] = adapter
    await run_command(adapter, slack, "subscribe tokamak")
    await core.poller.poll_once()
    today = datetime.now(timezone.utc).date()
    hf.add(make_item(7, HOSTILE, "Tokamak plasma control.", daily=today, paper_id="2403.77777"))
    await core.poller.poll_once()

    why = await run_command(adapter, slack, "why https://arxiv.org/abs/2403.77777")
    assert why["response_type"] == "ephemeral" and not is_warning(why)
    text = all_text(why)
    assert "Matched topic 1 “tokamak”" in text and "as a realtime post of its own" in text
    assert "<!channel>" not in text and "<https://evil" not in text  # the title never pings anyone

    log = await run_command(adapter, slack, "log")
    assert log["response_type"] == "ephemeral"
    assert "post · 2403.77777" in all_text(log) and "· sent" in all_text(log)
    assert "<!channel>" not in all_text(log)


async def test_bad_input_is_one_ephemeral_warning(adapter: SlackAdapter, slack: FakeSlack) -> None:  # noqa: F811
    for text in ("why not-a-paper", "why " + "9" * 5000, "log 99"):
        response = await run_command(adapter, slack, text)
        assert response["response_type"] == "ephemeral" and is_warning(response), text
