"""The Slack adapter end to end: signed requests to the real Bolt app, a fake Slack, the real core."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from bot.runtime.app import Core, open_core
from bot.model.channels import ChannelRef, Command
from bot.ports.adapter import DeliveryStatus
from bot.model.paper import Paper
from bot.model.replies import PaperCard, Post
from bot.runtime.settings import Settings
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import make_item, seed_items
from tests.fakes.slack_server import FakeSlack, mention_event_body, signed_headers, slash_command_body

SECRET = "signing-secret-for-tests"
SHOW_ID = "2403.12345"
SHOW_TITLE = "Merging <!channel> models & <https://evil.example|friends>"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(users={"U1": {"is_admin": False}, "UADMIN": {"is_admin": True}}) as fake:
        yield fake


@pytest.fixture
async def hf() -> AsyncIterator[FakeHuggingFace]:
    today = datetime.now(timezone.utc).date()
    items = seed_items(today=today) + [
        make_item(3, SHOW_TITLE, "We merge models. It works.", daily=today, paper_id=SHOW_ID)
    ]
    async with FakeHuggingFace(items) as fake:
        yield fake


def make_settings(tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        database=tmp_path / "paperboy.db", hf_api_url=hf.base_url, arxiv_api_url=hf.base_url,
        slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=slack.api_url,
        http_timeout=3.0, answer_timeout=8.0,  # longer than Slack's 3 s, so only an early ack can pass
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def core(tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace) -> AsyncIterator[Core]:
    async with open_core(make_settings(tmp_path, slack, hf)) as opened:
        yield opened


@pytest.fixture
async def adapter(core: Core) -> AsyncIterator[SlackAdapter]:
    bot = SlackAdapter(core.settings, core.engine, host="127.0.0.1", port=0)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


async def post_signed(adapter: SlackAdapter, body: str, *, secret: str = SECRET, timestamp: int | None = None,
                      content_type: str = "application/x-www-form-urlencoded") -> tuple[int, str]:
    url = f"http://127.0.0.1:{adapter.port}/slack/events"
    headers = signed_headers(secret, body, timestamp=timestamp, content_type=content_type)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body.encode(), headers=headers) as response:
            return response.status, await response.text()


async def run_command(adapter: SlackAdapter, slack: FakeSlack, text: str, **fields: str) -> dict:
    """Send ``/papers <text>`` signed, check the quick ack, and return what arrived at response_url."""
    count = len(slack.responses) + 1
    body = slash_command_body(text, response_url=slack.response_url(f"r{count}"), **fields)
    started = time.monotonic()
    status, _ = await post_signed(adapter, body)
    assert status == 200
    assert time.monotonic() - started < 3.0
    return await slack.wait_for_response(count=count, timeout=20)


def all_text(response: dict) -> str:
    return json.dumps(response.get("blocks", []), ensure_ascii=False)


def is_warning(response: dict) -> bool:
    return response["blocks"][0]["text"]["text"].startswith(":warning:")


def a_post(paper_id: str = "2403.10001") -> Post:
    paper = Paper(id=paper_id, title="Hello <@U999> & friends", authors=("Ada",), upvotes=5)
    return Post(PaperCard(paper, why='topic "hello"'), tag=f"paper:{paper_id}", paper_ids=(paper_id,))


# -- the "done when" ---------------------------------------------------------------------


async def test_signed_show_answers_with_that_papers_blocks(adapter: SlackAdapter, slack: FakeSlack) -> None:
    response = await run_command(adapter, slack, f"show https://arxiv.org/abs/{SHOW_ID}")

    assert response["response_type"] in ("in_channel", "ephemeral")
    assert response["replace_original"] is False
    text = all_text(response)
    assert f"https://huggingface.co/papers/{SHOW_ID}" in text
    assert "Merging &lt;!channel&gt; models &amp; &lt;https://evil.example|friends&gt;" in text
    assert "<!channel>" not in text and "<https://evil" not in text
    buttons = [e.get("url") for b in response["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert f"https://arxiv.org/pdf/{SHOW_ID}" in buttons
    assert response["unfurl_links"] is False


# -- every subcommand ---------------------------------------------------------------------

SUBCOMMANDS = [
    # (text, expected response_type, check on the rendered blocks)
    ("", "ephemeral", "trending"),  # empty text is help
    ("help", "ephemeral", "subscribe"),
    ("trending 3", "in_channel", "huggingface.co/papers/"),
    ("today", "in_channel", "huggingface.co/papers/"),
    ('search "merging"', "in_channel", SHOW_ID),
    (f"show {SHOW_ID}", "in_channel", SHOW_ID),
    (f"similar {SHOW_ID}", "in_channel", "shares: "),
    ("subscribe merging", None, "merging"),
    ("topics", None, "merging"),
    ("preview merging", "ephemeral", SHOW_ID),
    ("realtime on", None, None),
    ("threshold 10", None, "10"),
    ("digest 09:00 Europe/Paris 5", None, "09:00"),
    ("settings", "ephemeral", "Europe/Paris"),
    ("digest off", None, None),
    ("unsubscribe 1", None, "merging"),
    ("status", "ephemeral", None),
]


async def test_every_subcommand_is_answered_through_bolt(adapter: SlackAdapter, slack: FakeSlack) -> None:
    for text, response_type, expected in SUBCOMMANDS:
        response = await run_command(adapter, slack, text)
        assert not is_warning(response), (text, response["blocks"])
        if response_type:
            assert response["response_type"] == response_type, text
        if expected:
            assert expected in all_text(response), (text, response["blocks"])
    topics = await run_command(adapter, slack, "topics")
    assert "merging" not in all_text(topics)  # unsubscribe 1 really removed it


async def test_bad_input_is_an_ephemeral_error(adapter: SlackAdapter, slack: FakeSlack) -> None:
    unknown = await run_command(adapter, slack, "frobnicate <!here>")
    bad_id = await run_command(adapter, slack, "show not-a-paper")

    for response in (unknown, bad_id):
        assert response["response_type"] == "ephemeral"
        assert is_warning(response)
    assert "<!here>" not in all_text(unknown)


# -- signatures ---------------------------------------------------------------------------


async def test_bad_signature_and_stale_timestamp_get_401_and_run_nothing(
    adapter: SlackAdapter, slack: FakeSlack, core: Core,
) -> None:
    calls: list[Command] = []
    real_handle = core.engine.handle

    async def recording_handle(command: Command):
        calls.append(command)
        return await real_handle(command)

    adapter.engine = type("Recording", (), {"handle": staticmethod(recording_handle)})()
    body = slash_command_body("trending", response_url=slack.response_url())

    wrong_secret = await post_signed(adapter, body, secret="not-the-secret")
    stale = await post_signed(adapter, body, timestamp=int(time.time()) - 6 * 60)

    assert wrong_secret[0] == 401 and stale[0] == 401
    await asyncio.sleep(0.5)  # a wrongly accepted command would have reached the engine by now
    assert calls == [] and slack.responses == []
    # The same body, correctly signed, does run: the 401s were about the signature alone.
    await run_command(adapter, slack, "trending")
    assert [c.name for c in calls] == ["trending"]


async def test_url_verification_echoes_the_challenge(adapter: SlackAdapter) -> None:
    body = json.dumps({"token": "t", "challenge": "abc123", "type": "url_verification"})
    status, text = await post_signed(adapter, body, content_type="application/json")
    assert status == 200 and "abc123" in text


# -- the 3-second deadline ----------------------------------------------------------------


async def test_ack_arrives_within_3_seconds_while_the_source_is_slow(
    adapter: SlackAdapter, slack: FakeSlack, hf: FakeHuggingFace,
) -> None:
    hf.delay = 1.5  # slower than an ack may wait, within the answer's patience
    body = slash_command_body("search diffusion", response_url=slack.response_url())
    started = time.monotonic()
    status, _ = await post_signed(adapter, body)
    ack_seconds = time.monotonic() - started

    assert status == 200
    assert ack_seconds < 3.0
    assert slack.responses == []  # the answer itself is still being worked on
    response = await slack.wait_for_response(timeout=30)
    assert not is_warning(response)  # the slow source did answer, after the ack
    assert response["response_type"] == "in_channel"


# -- mentions -----------------------------------------------------------------------------


async def test_mention_answers_in_the_channel(adapter: SlackAdapter, slack: FakeSlack) -> None:
    body = mention_event_body(f"show <https://arxiv.org/abs/{SHOW_ID}>")
    status, _ = await post_signed(adapter, body, content_type="application/json")
    assert status == 200

    [call] = await slack.wait_for_call("chat.postMessage")
    assert call.token == "xoxb-test"
    assert call.params["channel"] == "C1"
    assert f"https://huggingface.co/papers/{SHOW_ID}" in json.dumps(call.params["blocks"])
    assert call.params["unfurl_links"] is False


async def test_uninstall_events_are_acknowledged(adapter: SlackAdapter) -> None:
    body = json.loads(mention_event_body("x"))
    body["event"] = {"type": "tokens_revoked", "tokens": {"bot": ["UPAPERBOY"]}, "event_ts": "1"}
    status, _ = await post_signed(adapter, json.dumps(body), content_type="application/json")
    assert status == 200


async def test_mention_help_is_ephemeral(adapter: SlackAdapter, slack: FakeSlack) -> None:
    status, _ = await post_signed(adapter, mention_event_body("help"), content_type="application/json")
    assert status == 200
    [call] = await slack.wait_for_call("chat.postEphemeral")
    assert call.params["user"] == "U1" and call.params["channel"] == "C1"
    assert slack.calls_to("chat.postMessage") == []


# -- who may manage -----------------------------------------------------------------------


async def test_any_member_may_subscribe_by_default(adapter: SlackAdapter, slack: FakeSlack) -> None:
    response = await run_command(adapter, slack, "subscribe diffusion", user_id="U1")
    assert not is_warning(response)
    assert slack.calls_to("users.info") == []


async def test_admins_only_refuses_members_and_accepts_admins(
    tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace,
) -> None:
    settings = make_settings(tmp_path, slack, hf, slack_admins_only=True)
    async with open_core(settings) as core:
        bot = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0)
        await bot.start()
        try:
            member = await run_command(bot, slack, "subscribe diffusion", user_id="U1")
            admin = await run_command(bot, slack, "subscribe diffusion", user_id="UADMIN")
            looker = await run_command(bot, slack, "trending 2", user_id="U1")
        finally:
            await bot.stop()

    assert member["response_type"] == "ephemeral" and is_warning(member)
    assert not is_warning(admin)
    assert not is_warning(looker)  # look-ups stay open to everyone
    assert [c.params["user"] for c in slack.calls_to("users.info")] == ["U1", "UADMIN"]


# -- multi-workspace install --------------------------------------------------------------


async def install(session: aiohttp.ClientSession, base: str, code: str) -> int:
    """Walk the "Add to Slack" flow as a browser would: install page, then Slack's redirect back."""
    async with session.get(f"{base}/slack/install") as page:
        assert page.status == 200
        html = await page.text()
        cookie = page.cookies["slack-app-oauth-state"]
    authorize_url = re.search(r'href="([^"]+oauth/v2/authorize[^"]+)"', html)
    assert authorize_url is not None
    state = parse_qs(urlsplit(authorize_url.group(1).replace("&amp;", "&")).query)["state"][0]
    # The state cookie is Secure: a browser sends it back over HTTPS, so the test sends it by hand.
    headers = {"Cookie": f"{cookie.key}={cookie.value}"}
    params = {"code": code, "state": state}
    async with session.get(f"{base}/slack/oauth_redirect", params=params, headers=headers) as done:
        return done.status


async def test_oauth_installs_two_workspaces_and_answers_each_with_its_own_token(
    tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace,
) -> None:
    slack.oauth_codes = {"code-a": ("TA", "xoxb-team-a"), "code-b": ("TB", "xoxb-team-b")}
    settings = make_settings(tmp_path, slack, hf, slack_bot_token=None, slack_client_id="111.222",
                             slack_client_secret="client-secret")
    async with open_core(settings) as core:
        bot = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0, store=core.store)
        await bot.start()
        try:
            base = f"http://127.0.0.1:{bot.port}"
            async with aiohttp.ClientSession() as browser:
                assert await install(browser, base, "code-a") == 200
                assert await install(browser, base, "code-b") == 200

            for team in ("TA", "TB"):
                body = mention_event_body(f"show {SHOW_ID}", team_id=team, event_id=f"Ev{team}")
                status, _ = await post_signed(bot, body, content_type="application/json")
                assert status == 200
            mentions = await slack.wait_for_call("chat.postMessage", count=2)
            sent = await bot.send(ChannelRef("slack", "TB", "C9"), a_post())
            unknown = await bot.send(ChannelRef("slack", "TNOPE", "C9"), a_post())
        finally:
            await bot.stop()

    assert sorted(call.token for call in mentions) == ["xoxb-team-a", "xoxb-team-b"]
    assert sent.status is DeliveryStatus.SENT
    assert slack.calls_to("chat.postMessage")[-1].token == "xoxb-team-b"
    assert unknown.status is DeliveryStatus.PERMANENT
    assert [c.params["code"] for c in slack.calls_to("oauth.v2.access")] == ["code-a", "code-b"]
