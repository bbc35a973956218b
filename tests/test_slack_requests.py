"""Requests from Slack that must not run twice, or at all: replays, Events API retries, malformed bodies.

The real Bolt app on loopback, requests signed with Slack's scheme (slack_sdk's
`SignatureVerifier`), a fake Slack and the real core.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import parse_qs, urlencode

import aiohttp
import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack import SlackAdapter
from adapters.slack.inbound import SIGNATURE_WINDOW, Repeats, Seen
from bot.runtime.app import Core, open_core
from bot.model.channels import Command
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import make_item, seed_items
from tests.fakes.slack_server import FakeSlack, mention_event_body, signed_headers, slash_command_body
from tests.test_slack_adapter import (  # the same core and adapter, on this module's fakes
    SECRET, SHOW_ID, adapter, all_text, core, make_settings, run_command,
)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def hf() -> AsyncIterator[FakeHuggingFace]:
    today = datetime.now(timezone.utc).date()
    items = seed_items(today=today) + [make_item(3, "Merging models", "We merge.", daily=today, paper_id=SHOW_ID)]
    async with FakeHuggingFace(items) as fake:
        yield fake


@pytest.fixture
def engine_calls(adapter: SlackAdapter, core: Core) -> list[Command]:
    """Every command that reaches the engine from now on."""
    calls: list[Command] = []

    async def recording_handle(command: Command):
        calls.append(command)
        return await core.engine.handle(command)

    adapter.engine = type("Recording", (), {"handle": staticmethod(recording_handle)})()
    return calls


async def post_raw(adapter: SlackAdapter, body: bytes | str, headers: dict[str, str]) -> tuple[int, str]:
    """POST *body* with exactly *headers*, as a replaying attacker or a retrying Slack would."""
    data = body.encode() if isinstance(body, str) else body
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{adapter.port}/slack/events", data=data,
                                headers=headers) as response:
            return response.status, await response.text()


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.exc_text] == []


# -- replays ------------------------------------------------------------------------------


async def test_a_replayed_signed_unsubscribe_runs_once(
    adapter: SlackAdapter, slack: FakeSlack, engine_calls: list[Command],
) -> None:
    for topic in ("alpha", "beta", "gamma"):
        await run_command(adapter, slack, f"subscribe {topic}")
    before = len(slack.responses)
    body = slash_command_body("unsubscribe 1", response_url=slack.response_url("unsubscribe"))
    headers = signed_headers(SECRET, body)

    answers = [await post_raw(adapter, body, headers) for _ in range(3)]

    assert answers == [(200, ""), (200, ""), (200, "")]
    await slack.wait_for_response(count=before + 1)
    await asyncio.sleep(0.5)  # a replay that ran would have reached the engine and answered by now
    assert [r["name"] for r in slack.responses[before:]] == ["unsubscribe"]
    assert [c.args for c in engine_calls if c.name == "unsubscribe"] == ["1"]
    topics = all_text(await run_command(adapter, slack, "topics"))
    assert "alpha" not in topics and "beta" in topics and "gamma" in topics


async def test_the_same_body_signed_anew_is_a_new_request(
    adapter: SlackAdapter, slack: FakeSlack, engine_calls: list[Command],
) -> None:
    body = slash_command_body("trending 2", response_url=slack.response_url())
    now = int(time.time())
    for timestamp in (now, now, now - 1):  # the third has its own timestamp, so its own signature
        status, _ = await post_raw(adapter, body, signed_headers(SECRET, body, timestamp=timestamp))
        assert status == 200
    await slack.wait_for_response(count=2, timeout=20)
    assert [c.name for c in engine_calls] == ["trending", "trending"]


async def test_signatures_are_forgotten_once_their_timestamp_is_stale() -> None:
    now = [1_000_000.0]
    repeats = Repeats(clock=lambda: now[0])
    request = AsyncBoltRequest(body="command=%2Fpapers", headers={
        "X-Slack-Signature": "v0=abc", "X-Slack-Request-Timestamp": str(int(now[0])),
    })

    async def seen_as_new() -> bool:
        ran: list[bool] = []

        async def next_() -> None:
            ran.append(True)

        await repeats.async_process(req=request, resp=None, next=next_)  # type: ignore[arg-type]
        return bool(ran)

    assert await seen_as_new() is True
    assert await seen_as_new() is False
    now[0] += SIGNATURE_WINDOW + 2  # Bolt now refuses this timestamp: nothing to remember it for
    assert await seen_as_new() is True
    assert len(repeats.signatures) == 1


def test_memory_is_bounded_and_forgets_the_soonest_to_expire_first() -> None:
    seen = Seen(3, name="keys")
    for i, expires in enumerate((50.0, 10.0, 40.0, 30.0)):
        assert seen.add(f"k{i}", expires=expires, now=0.0)
    assert len(seen) == 3
    assert seen.add("k1", expires=99.0, now=0.0) is True  # k1 (expiring at 10) went first
    assert seen.add("k0", expires=99.0, now=0.0) is False
    assert seen.add("k2", expires=99.0, now=45.0) is True  # expired at 40
    seen.discard("k0")
    assert seen.add("k0", expires=99.0, now=45.0) is True


# -- Events API retries ---------------------------------------------------------------------


async def test_one_mention_delivered_three_times_posts_once(adapter: SlackAdapter, slack: FakeSlack) -> None:
    body = mention_event_body(f"show {SHOW_ID}", event_id="EvMention1")
    headers = signed_headers(SECRET, body, content_type=JSON)
    retry = signed_headers(SECRET, body, timestamp=int(time.time()) - 1, content_type=JSON) | {
        "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout",
    }
    assert retry["X-Slack-Signature"] != headers["X-Slack-Signature"]  # re-signed: only the event_id repeats

    answers = [await post_raw(adapter, body, h) for h in (headers, headers, retry)]

    assert [status for status, _ in answers] == [200, 200, 200]
    await slack.wait_for_call("chat.postMessage")
    await asyncio.sleep(1.0)  # a second post would have gone out by now
    assert len(slack.calls_to("chat.postMessage")) == 1
    other = mention_event_body(f"show {SHOW_ID}", event_id="EvMention2", channel_id="C2")
    assert (await post_raw(adapter, other, signed_headers(SECRET, other, content_type=JSON)))[0] == 200
    posts = await slack.wait_for_call("chat.postMessage", count=2)
    assert [call.params["channel"] for call in posts] == ["C1", "C2"]


async def test_socket_mode_retries_of_an_event_post_once(tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace) -> None:
    settings = make_settings(tmp_path, slack, hf, slack_app_token="xapp-test", slack_signing_secret=None)
    payload = json.loads(mention_event_body(f"show {SHOW_ID}", event_id="EvSocket1"))
    async with open_core(settings) as core:
        bot = SlackAdapter(settings, core.engine)
        await bot.start()
        try:
            await slack.wait_for_socket()
            envelopes = [await slack.push_envelope("events_api", payload) for _ in range(2)]
            for envelope_id in envelopes:
                await slack.wait_for_ack(envelope_id)
            await slack.wait_for_call("chat.postMessage")
            await asyncio.sleep(1.0)
        finally:
            await bot.stop()
    assert len(slack.calls_to("chat.postMessage")) == 1


# -- malformed bodies -----------------------------------------------------------------------

_MENTION = json.loads(mention_event_body("trending"))
MALFORMED: list[tuple[str, str, bytes]] = [
    ("invalid JSON", JSON, b'{"type": "event_callback", "event_id": '),
    ("a JSON array", JSON, b"[1, 2, 3]"),
    ("an event that is a string", JSON, json.dumps(_MENTION | {"event": "app_mention"}).encode()),
    ("an event without its id", JSON, json.dumps({k: v for k, v in _MENTION.items() if k != "event_id"}).encode()),
    ("a mention whose text is a number", JSON,
     json.dumps(_MENTION | {"event": _MENTION["event"] | {"text": 5}}).encode()),
    ("authorizations that are not objects", JSON, json.dumps(_MENTION | {"authorizations": [1]}).encode()),
    ("a command without its fields", FORM, b"command=%2Fpapers&text=unsubscribe+1"),
    ("a command without its response_url", FORM, urlencode(
        {k: v[0] for k, v in parse_qs(slash_command_body("trending", response_url="x")).items()
         if k != "response_url"}).encode()),
    ("a form of no known kind", FORM, b"hello=world"),
    ("a payload that is not JSON", FORM, b"payload=%7Bnot-json"),
    ("block actions without actions", FORM, urlencode({"payload": json.dumps({"type": "block_actions"})}).encode()),
    ("garbage text", FORM, "\x00\x01\x02 %%% &&== \u2603 \x7f".encode()),
    ("an empty body", FORM, b""),
]


@pytest.mark.parametrize("content_type, body", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
async def test_a_signed_malformed_body_is_400_and_runs_nothing(
    adapter: SlackAdapter, slack: FakeSlack, engine_calls: list[Command], caplog: pytest.LogCaptureFixture,
    content_type: str, body: bytes,
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = signed_headers(SECRET, body.decode(), content_type=content_type)

    status, text = await post_raw(adapter, body, headers)

    assert status == 400, text
    assert json.loads(text)["error"].startswith("bad request: ")
    await asyncio.sleep(0.3)
    assert engine_calls == [] and slack.responses == []
    assert [c.method for c in slack.calls if c.method != "auth.test"] == []
    assert any(r.levelno == logging.WARNING and "refused a request" in r.getMessage() for r in caplog.records)
    no_traceback(caplog)


async def test_bytes_that_are_not_utf8_are_400_and_run_nothing(
    adapter: SlackAdapter, slack: FakeSlack, engine_calls: list[Command], caplog: pytest.LogCaptureFixture,
) -> None:
    # slack_sdk signs text, so no signature can be checked here: such a body is refused as it is.
    caplog.set_level(logging.DEBUG)
    headers = signed_headers(SECRET, "x", content_type="application/octet-stream")
    status, _ = await post_raw(adapter, b"\xff\xfe\xfa\x80garbage\xc3", headers)
    assert status == 400
    assert engine_calls == [] and slack.responses == []
    no_traceback(caplog)


async def test_unsigned_malformed_bodies_and_bad_timestamps_are_401(
    adapter: SlackAdapter, slack: FakeSlack, engine_calls: list[Command], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    body = '{"type": "event_callback", '
    wrong = signed_headers("not-the-secret", body, content_type=JSON)
    good_body = slash_command_body("trending", response_url=slack.response_url())
    not_a_number = signed_headers(SECRET, good_body) | {"X-Slack-Request-Timestamp": "soon"}

    assert (await post_raw(adapter, body, wrong))[0] == 401
    assert (await post_raw(adapter, good_body, not_a_number))[0] == 401
    assert (await post_raw(adapter, good_body, {"Content-Type": FORM}))[0] == 401
    await asyncio.sleep(0.3)
    assert engine_calls == [] and slack.responses == []
    no_traceback(caplog)
    # And the service is none the worse for it.
    response = await run_command(adapter, slack, "trending 2")
    assert "huggingface.co/papers/" in all_text(response)
