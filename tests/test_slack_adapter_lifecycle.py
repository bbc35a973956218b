"""The Slack adapter's start, settings, manifest and Socket Mode, end to end against a fake Slack."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest

from adapters.slack import SlackAdapter, SlackSetupError, manifest
from bot.runtime.app import open_core
from bot.runtime.settings import Settings
from paperboy_testing.hf_server import FakeHuggingFace
from tests.fakes.slack_server import FakeSlack, slash_command_body
from tests.test_slack_adapter import SHOW_ID, all_text, core, hf, make_settings, slack  # noqa: F401  (fixtures)


# -- lifecycle and settings ---------------------------------------------------------------


async def test_start_refuses_a_token_slack_rejects(tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace) -> None:
    settings = make_settings(tmp_path, slack, hf, slack_bot_token="xoxb-wrong")
    async with open_core(settings) as core:
        bot = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0)
        with pytest.raises(SlackSetupError, match="invalid_auth"):
            await bot.start()
        await bot.stop()


async def test_start_behind_a_failing_proxy_says_so_in_one_line(
    tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace,
) -> None:
    slack.answer_raw("auth.test", "502 Bad Gateway", status=502, content_type="text/plain")
    settings = make_settings(tmp_path, slack, hf)
    async with open_core(settings) as core:
        bot = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0)
        with pytest.raises(SlackSetupError) as failed:
            await bot.start()
        await bot.stop()

    assert str(failed.value) == (
        "cannot check SLACK_BOT_TOKEN: Slack answered HTTP 502 with a non-JSON body (text/plain)"
    )


def test_http_mode_needs_a_signing_secret(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database=tmp_path / "x.db", slack_bot_token="xoxb-test")  # type: ignore[call-arg]
    with pytest.raises(SlackSetupError, match="SLACK_SIGNING_SECRET"):
        SlackAdapter(settings, engine=None)  # type: ignore[arg-type]


def test_manifest_declares_the_command_scopes_and_events() -> None:
    data = manifest(base_url="https://papers.example.org/")
    [command] = data["features"]["slash_commands"]
    assert command["command"] == "/papers"
    assert command["url"] == "https://papers.example.org/slack/events"
    assert {"commands", "chat:write", "app_mentions:read", "users:read"} <= set(data["oauth_config"]["scopes"]["bot"])
    assert "app_mention" in data["settings"]["event_subscriptions"]["bot_events"]
    assert data["oauth_config"]["redirect_urls"] == ["https://papers.example.org/slack/oauth_redirect"]
    assert manifest(socket_mode=True)["settings"]["socket_mode_enabled"] is True


# -- Socket Mode --------------------------------------------------------------------------


async def test_socket_mode_acks_the_envelope_and_answers(tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace) -> None:
    settings = make_settings(tmp_path, slack, hf, slack_app_token="xapp-test", slack_signing_secret=None)
    async with open_core(settings) as core:
        bot = SlackAdapter(settings, core.engine)
        await bot.start()
        try:
            await slack.wait_for_socket()
            payload = parse_qs(slash_command_body(f"show {SHOW_ID}", response_url=slack.response_url("sock")))
            envelope_id = await slack.push_envelope("slash_commands", {k: v[0] for k, v in payload.items()})
            ack = await slack.wait_for_ack(envelope_id)
            response = await slack.wait_for_response(timeout=20)
        finally:
            await bot.stop()

    assert ack.envelope_id == envelope_id
    assert response["name"] == "sock"
    assert f"https://huggingface.co/papers/{SHOW_ID}" in all_text(response)
    # One check of the app token at start-up (a refused token is one clear line), then the connection.
    assert [c.token for c in slack.calls_to("apps.connections.open")] == ["xapp-test", "xapp-test"]
