"""What one Slack delivery costs, continued: reading a workspace's token (once per TTL, again at a refusal or a
reinstall, forgotten at an uninstall), and a reinstall met through the outbox.
Fakes and fixtures as in tests/test_slack_send_cost.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from adapters.slack.clients import TOKEN_TTL_SECONDS
from adapters.slack.installations import PaperboyInstallationStore
from bot.runtime.app import Core
from bot.model.channels import Caller, Command
from bot.ports.adapter import DeliveryStatus
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import make_item
from tests.fakes.slack_server import mention_event_body, signed_headers
from tests.test_slack_send_cost import (  # noqa: F401  (fixtures)
    Clock, CountingSlack, SECRET, TA_C1, TA_C2, TB_C3, adapter, card_post, core, count_lookups, hf, install, slack,
)


# -- reading a workspace's token -------------------------------------------------------


async def test_a_workspace_token_is_read_once_per_ttl(adapter: SlackAdapter, slack: CountingSlack) -> None:
    adapter.clock = clock = Clock()
    lookups = count_lookups(adapter)

    for _ in range(3):
        assert (await adapter.send(TA_C1, card_post())).status is DeliveryStatus.SENT
    await adapter.find_post(TA_C1, card_post())
    await adapter.send(TB_C3, card_post())
    assert lookups == ["TA", "TB"]

    clock.now += TOKEN_TTL_SECONDS - 1
    await adapter.send(TA_C1, card_post())
    assert lookups == ["TA", "TB"]
    clock.now += 2
    await adapter.send(TA_C1, card_post())
    assert lookups == ["TA", "TB", "TA"]
    assert {c.token for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "C1"} == {"xoxb-team-a"}


async def test_a_reinstall_elsewhere_is_used_at_the_first_refusal(
    adapter: SlackAdapter, slack: CountingSlack, core: Core,
) -> None:
    assert (await adapter.send(TA_C1, card_post())).status is DeliveryStatus.SENT  # xoxb-team-a remembered
    lookups = count_lookups(adapter)
    # Another process reinstalled Paperboy in TA: a new token stored, the old one refused from now on.
    await install(core, "TA", "xoxb-team-a-new", at=datetime.now(timezone.utc).timestamp() + 60)
    del slack.tokens["xoxb-team-a"]
    slack.tokens["xoxb-team-a-new"] = "TA"

    post = card_post()
    result = await adapter.send(TA_C1, post)
    again = await adapter.send(TA_C1, card_post())

    assert result.status is DeliveryStatus.SENT and again.status is DeliveryStatus.SENT
    assert [c.token for c in slack.calls_to("chat.postMessage")] == [
        "xoxb-team-a", "xoxb-team-a", "xoxb-team-a-new", "xoxb-team-a-new",
    ]
    assert lookups == ["TA"]  # once after the refusal; the new token is remembered since
    assert slack.posted_paper_ids("C1").count(post.paper_ids[0]) == 1


async def test_a_refused_token_the_store_still_holds_is_not_tried_twice(
    adapter: SlackAdapter, slack: CountingSlack,
) -> None:
    await adapter.send(TA_C1, card_post())
    lookups = count_lookups(adapter)
    del slack.tokens["xoxb-team-a"]  # revoked at Slack; nothing new in the store

    result = await adapter.send(TA_C1, card_post())

    assert result.status is DeliveryStatus.PERMANENT
    assert result.reason is not None and "invalid_auth" in result.reason
    assert len(slack.calls_to("chat.postMessage")) == 2  # the first send, and this one once
    assert lookups == ["TA"]


async def test_a_refused_token_of_an_uninstalled_workspace_says_not_installed(
    adapter: SlackAdapter, slack: CountingSlack, core: Core,
) -> None:
    await adapter.send(TA_C1, card_post())
    slack.fail("chat.postMessage", "token_revoked")
    await PaperboyInstallationStore(core.store).async_delete_all(enterprise_id=None, team_id="TA")

    result = await adapter.send(TA_C1, card_post())

    assert result.status is DeliveryStatus.PERMANENT
    assert result.reason is not None and "not installed" in result.reason
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_a_fresh_token_refused_is_not_asked_for_again(adapter: SlackAdapter, slack: CountingSlack) -> None:
    lookups = count_lookups(adapter)
    slack.fail("chat.postMessage", "invalid_auth")

    result = await adapter.send(TA_C1, card_post())  # the token was just read: no second read, no retry

    assert result.status is DeliveryStatus.PERMANENT and "invalid_auth" in (result.reason or "")
    assert lookups == ["TA"] and len(slack.calls_to("chat.postMessage")) == 1


async def post_signed_event(adapter: SlackAdapter, event: dict[str, Any], team: str) -> int:
    body = json.loads(mention_event_body("x", team_id=team, event_id=f"Ev{uuid.uuid4().hex}"))
    body["event"] = event
    raw = json.dumps(body)
    url = f"http://127.0.0.1:{adapter.port}/slack/events"
    async with aiohttp.ClientSession() as session:
        headers = signed_headers(SECRET, raw, content_type="application/json")
        async with session.post(url, data=raw.encode(), headers=headers) as response:
            return response.status


@pytest.mark.parametrize("event", [
    {"type": "app_uninstalled", "event_ts": "1"},
    {"type": "tokens_revoked", "tokens": {"bot": ["UPAPERBOY"]}, "event_ts": "1"},
], ids=lambda event: event["type"])
async def test_an_uninstall_event_forgets_the_remembered_token(
    adapter: SlackAdapter, slack: CountingSlack, event: dict[str, Any],
) -> None:
    assert (await adapter.send(TA_C1, card_post())).status is DeliveryStatus.SENT  # remembered

    assert await post_signed_event(adapter, event, "TA") == 200
    async with asyncio.timeout(5):  # far less than the token's TTL
        while await adapter._client_for("TA") is not None:
            await asyncio.sleep(0.01)
    result = await adapter.send(TA_C1, card_post())

    assert result.status is DeliveryStatus.PERMANENT and "not installed" in (result.reason or "")
    assert len(slack.calls_to("chat.postMessage")) == 1  # the fake would still take the old token
    assert (await adapter.send(TB_C3, card_post())).status is DeliveryStatus.SENT  # other teams unaffected


# -- through the outbox ------------------------------------------------------------------


async def test_a_reinstall_elsewhere_does_not_pause_the_channel(
    adapter: SlackAdapter, slack: CountingSlack, core: Core, hf: FakeHuggingFace,
) -> None:
    core.poller.adapters["slack"] = adapter
    subscribed = await core.engine.handle(Command("subscribe", "tokamak", Caller("U1", "ada"), TA_C1))
    assert "tokamak" in str(subscribed.content)
    await core.poller.poll_once()
    assert (await adapter.send(TA_C2, card_post())).status is DeliveryStatus.SENT  # TA's token remembered
    await install(core, "TA", "xoxb-team-a-new", at=datetime.now(timezone.utc).timestamp() + 60)
    del slack.tokens["xoxb-team-a"]
    slack.tokens["xoxb-team-a-new"] = "TA"
    today = datetime.now(timezone.utc).date()
    hf.add(make_item(7, "A tokamak plasma model", "Tokamak plasma control.", daily=today, paper_id="2403.77777"))

    report = await core.poller.poll_once()

    assert report.paused == []
    assert slack.posted_paper_ids("C1") == ["2403.77777"]
    assert [c.token for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "C1"] == [
        "xoxb-team-a", "xoxb-team-a-new",
    ]
