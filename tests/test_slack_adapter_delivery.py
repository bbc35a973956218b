"""The Slack adapter's delivery end to end: posts, digests, 429s, permanent and transient errors."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from adapters.slack import SlackAdapter
from bot.runtime.app import Core
from bot.model.channels import Caller, ChannelRef, Command
from bot.ports.adapter import DeliveryStatus
from bot.model.paper import Paper
from bot.model.replies import PaperCard, PaperList, Post
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import make_item
from tests.fakes.slack_server import FakeSlack
from tests.test_slack_adapter import a_post, adapter, all_text, core, hf, run_command, slack  # noqa: F401  (fixtures)


# -- delivery -----------------------------------------------------------------------------


async def test_send_posts_blocks_tagged_with_metadata(adapter: SlackAdapter, slack: FakeSlack) -> None:
    result = await adapter.send(ChannelRef("slack", "T1", "C42"), a_post())

    assert result.status is DeliveryStatus.SENT
    [call] = slack.calls_to("chat.postMessage")
    assert result.message_ref is not None and result.message_ref.startswith("C42/")
    assert call.token == "xoxb-test"
    assert call.params["metadata"] == {
        "event_type": "paperboy_post", "event_payload": {"tag": "paper:2403.10001", "paper_ids": ["2403.10001"]},
    }
    assert call.params["unfurl_links"] is False and call.params["unfurl_media"] is False
    assert "Hello &lt;@U999&gt; &amp; friends" in json.dumps(call.params["blocks"])
    assert "<@U999>" not in json.dumps(call.params)


async def test_send_digest_list(adapter: SlackAdapter, slack: FakeSlack) -> None:
    cards = tuple(PaperCard(Paper(id=f"2403.{10001 + i}", title=f"Paper {i}")) for i in range(30))
    post = Post(PaperList("Paperboy digest", cards), tag="digest:2026-11-27", paper_ids=("2403.10001",))
    result = await adapter.send(ChannelRef("slack", "T1", "C1"), post)

    assert result.status is DeliveryStatus.SENT
    [call] = slack.calls_to("chat.postMessage")
    assert len(call.params["blocks"]) <= 50
    assert call.params["metadata"]["event_payload"]["tag"] == "digest:2026-11-27"


async def test_a_429_is_waited_out_and_retried(adapter: SlackAdapter, slack: FakeSlack) -> None:
    slack.rate_limit("chat.postMessage", retry_after=1)
    result = await adapter.send(ChannelRef("slack", "T1", "C1"), a_post())

    assert result.status is DeliveryStatus.SENT
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_a_429_that_persists_is_rate_limited_with_retry_after(adapter: SlackAdapter, slack: FakeSlack) -> None:
    slack.rate_limit("chat.postMessage", retry_after=1, times=10)
    result = await adapter.send(ChannelRef("slack", "T1", "C1"), a_post())

    assert result.status is DeliveryStatus.RATE_LIMITED
    assert result.retry_after == 1.0
    assert len(slack.calls_to("chat.postMessage")) == 3  # the first try and two retries


@pytest.mark.parametrize("error", [
    "channel_not_found", "not_in_channel", "is_archived", "account_inactive", "token_revoked", "invalid_auth",
])
async def test_permanent_errors_are_permanent_with_a_reason(
    adapter: SlackAdapter, slack: FakeSlack, error: str,
) -> None:
    slack.fail("chat.postMessage", error)
    result = await adapter.send(ChannelRef("slack", "T1", "C1"), a_post())

    assert result.status is DeliveryStatus.PERMANENT
    assert result.reason is not None and error in result.reason
    assert result.reason.startswith("Paperboy lost access to this channel")
    assert len(slack.calls_to("chat.postMessage")) == 1  # not retried


async def test_server_errors_and_unreachable_slack_are_transient(adapter: SlackAdapter, slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", "internal_error", status=500)
    server_error = await adapter.send(ChannelRef("slack", "T1", "C1"), a_post())
    assert server_error.status is DeliveryStatus.TRANSIENT

    adapter.client.base_url = "http://127.0.0.1:9/api/"  # nothing listens on the discard port
    unreachable = await adapter.send(ChannelRef("slack", "T1", "C1"), a_post())
    assert unreachable.status is DeliveryStatus.TRANSIENT


async def test_a_permanent_error_pauses_the_channel_and_status_says_why(
    adapter: SlackAdapter, slack: FakeSlack, core: Core, hf: FakeHuggingFace,
) -> None:
    core.poller.adapters["slack"] = adapter
    channel = ChannelRef("slack", "T1", "C1")
    caller = Caller("U1", "ada")
    subscribed = await core.engine.handle(Command("subscribe", "tokamak", caller, channel))
    assert "tokamak" in str(subscribed.content)
    await core.poller.poll_once()
    today = datetime.now(timezone.utc).date()
    hf.add(make_item(7, "A tokamak plasma model", "Tokamak plasma control.", daily=today, paper_id="2403.77777"))
    slack.fail("chat.postMessage", "not_in_channel", times=5)

    report = await core.poller.poll_once()

    assert [reason for _, reason in report.paused] == [
        "Paperboy lost access to this channel (not_in_channel): invite it with /invite @Paperboy"
    ]
    status = await run_command(adapter, slack, "status")
    assert "not_in_channel" in all_text(status)
