"""Slack delivery for the outbox: find a post again, edit it, notify, and live within the rate limits.

The real Bolt app and slack_sdk talk to the fake Slack on 127.0.0.1; the fake keeps its own
log of accepted messages, which is what these tests (and the crash test) count.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import SlackAdapter, SlackHistoryError, manifest
from bot.runtime.app import Core, open_core
from bot.model.channels import ChannelRef
from bot.ports.adapter import DeliveryStatus, RateLimit
from bot.model.paper import Paper
from bot.model.replies import PaperCard, PaperList, Post
from bot.runtime.settings import Settings
from paperboy_testing.hf_server import FakeHuggingFace
from tests.fakes.slack_server import FakeSlack

SECRET = "signing-secret-for-tests"
C1 = ChannelRef("slack", "T1", "C1")
C2 = ChannelRef("slack", "T1", "C2")


def card_post(paper_id: str, title: str = "A paper") -> Post:
    return Post(PaperCard(Paper(id=paper_id, title=title)), tag=f"paper:{paper_id}", paper_ids=(paper_id,))


def digest_post(day: str, paper_ids: tuple[str, ...]) -> Post:
    cards = tuple(PaperCard(Paper(id=pid, title=f"Paper {pid}")) for pid in paper_ids)
    return Post(PaperList("Paperboy digest", cards), tag=f"digest:{day}", paper_ids=paper_ids)


@pytest.fixture
async def hf() -> AsyncIterator[FakeHuggingFace]:
    async with FakeHuggingFace([]) as fake:
        yield fake


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    # Functional tests run without the fake's rate limits; the limit tests below set their own.
    async with FakeSlack(channel_limit=None, workspace_limit=None) as fake:
        yield fake


def make_settings(tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database=tmp_path / "paperboy.db", hf_api_url=hf.base_url, arxiv_api_url=hf.base_url,
        slack_bot_token="xoxb-test", slack_signing_secret=SECRET, slack_api_url=slack.api_url, http_timeout=3.0,
    )


@pytest.fixture
async def core(tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace) -> AsyncIterator[Core]:
    async with open_core(make_settings(tmp_path, slack, hf)) as opened:
        yield opened


async def started(core: Core) -> SlackAdapter:
    bot = SlackAdapter(core.settings, core.engine, host="127.0.0.1", port=0)
    await bot.start()
    return bot


@pytest.fixture
async def adapter(core: Core) -> AsyncIterator[SlackAdapter]:
    bot = await started(core)
    try:
        yield bot
    finally:
        await bot.stop()


# -- find_post ----------------------------------------------------------------------------


async def test_find_post_finds_a_sent_card_and_a_digest_by_tag(adapter: SlackAdapter, slack: FakeSlack) -> None:
    card = card_post("2403.10001")
    digest = digest_post("2026-11-27", ("2403.10002", "2403.10003"))
    sent_card = await adapter.send(C1, card)
    sent_digest = await adapter.send(C1, digest)
    await adapter.send(C2, card_post("2403.10009"))
    # A reply to a mention is Paperboy's too, but carries no metadata: it must not confuse the search.
    await adapter.client.chat_postMessage(channel="C1", text="an answer to a mention")

    assert sent_card.status is sent_digest.status is DeliveryStatus.SENT
    assert await adapter.find_post(C1, card) == sent_card.message_ref
    assert await adapter.find_post(C1, digest) == sent_digest.message_ref
    assert await adapter.find_post(C1, card_post("2403.10009")) is None  # posted, but in another channel
    assert await adapter.find_post(C1, digest_post("2026-11-28", ("2403.10002",))) is None
    [history, *_] = slack.calls_to("conversations.history")
    assert history.params["channel"] == "C1" and int(history.params["limit"]) <= 15  # Slack's most for most apps


async def test_a_restarted_bot_finds_what_the_previous_one_posted(
    core: Core, slack: FakeSlack,
) -> None:
    first = await started(core)
    sent = await first.send(C1, card_post("2403.10001"))
    await first.stop()

    second = await started(core)  # a new process would build a new AsyncApp and call auth.test again
    try:
        found = await second.find_post(C1, card_post("2403.10001"))
        unsent = await second.find_post(C1, card_post("2403.10002"))
        resent = await second.send(C1, card_post("2403.10002"))
    finally:
        await second.stop()

    assert len(slack.calls_to("auth.test")) == 2
    assert found == sent.message_ref and unsent is None
    assert resent.status is DeliveryStatus.SENT
    assert slack.posted_paper_ids("C1") == ["2403.10001", "2403.10002"]


async def test_find_post_raises_when_the_history_cannot_be_read(adapter: SlackAdapter, slack: FakeSlack) -> None:
    await adapter.send(C1, card_post("2403.10001"))
    slack.fail("conversations.history", "channel_not_found")
    with pytest.raises(SlackHistoryError) as gone:
        await adapter.find_post(C1, card_post("2403.10001"))
    slack.fail("conversations.history", "internal_error", status=500)
    with pytest.raises(SlackHistoryError) as broken:
        await adapter.find_post(C1, card_post("2403.10001"))

    assert gone.value.result.status is DeliveryStatus.PERMANENT
    assert "channel_not_found" in str(gone.value)
    assert broken.value.result.status is DeliveryStatus.TRANSIENT
    # Once the history is readable again, the post is found: the errors were never read as "absent".
    assert await adapter.find_post(C1, card_post("2403.10001")) is not None


async def test_history_shows_metadata_only_when_asked(adapter: SlackAdapter) -> None:
    await adapter.send(C1, card_post("2403.10001"))

    plain = await adapter.client.conversations_history(channel="C1")
    full = await adapter.client.conversations_history(channel="C1", include_all_metadata=True)

    assert "metadata" not in plain["messages"][0]
    assert full["messages"][0]["metadata"]["event_payload"]["tag"] == "paper:2403.10001"


# -- edit ---------------------------------------------------------------------------------


async def test_edit_replaces_the_message_and_keeps_its_tag(adapter: SlackAdapter, slack: FakeSlack) -> None:
    sent = await adapter.send(C1, digest_post("2026-11-27", ("2403.10001",)))
    assert sent.message_ref is not None
    changed = digest_post("2026-11-27", ("2403.10001", "2403.10002"))

    edited = await adapter.edit(C1, sent.message_ref, changed)

    assert edited.status is DeliveryStatus.SENT and edited.message_ref == sent.message_ref
    [message] = slack.messages_in("C1")
    assert "2403.10002" in json.dumps(message["blocks"]) and "edited" in message
    assert message["metadata"]["event_payload"]["tag"] == "digest:2026-11-27"
    assert slack.posted_paper_ids("C1") == ["2403.10001", "2403.10002"]
    assert await adapter.find_post(C1, changed) == sent.message_ref


async def test_edit_of_a_deleted_message_is_permanent_with_a_reason(adapter: SlackAdapter) -> None:
    result = await adapter.edit(C1, "C1/1700000000.000001", card_post("2403.10001"))

    assert result.status is DeliveryStatus.PERMANENT
    assert result.reason is not None and "message_not_found" in result.reason


async def test_edit_escapes_paper_text(adapter: SlackAdapter, slack: FakeSlack) -> None:
    sent = await adapter.send(C1, card_post("2403.10001"))
    assert sent.message_ref is not None
    await adapter.edit(C1, sent.message_ref, card_post("2403.10001", title="Now <!here> & <@U1>"))

    [message] = slack.messages_in("C1")
    dumped = json.dumps([message["blocks"], message["text"]])
    assert "Now &lt;!here&gt; &amp; &lt;@U1&gt;" in dumped
    assert "<!here>" not in dumped and "<@U1>" not in dumped


# -- notify -------------------------------------------------------------------------------


async def test_notify_posts_escaped_text_in_the_channel(adapter: SlackAdapter, slack: FakeSlack) -> None:
    result = await adapter.notify(C1, "U7", "Topic <!channel> & <@U2> paused")

    assert result.status is DeliveryStatus.SENT and result.message_ref is not None
    assert result.message_ref.startswith("C1/")
    [message] = slack.messages_in("C1")
    assert message["text"] == "Topic &lt;!channel&gt; &amp; &lt;@U2&gt; paused"
    assert slack.messages_in(slack.dm_channel("U7")) == []


async def test_notify_falls_back_to_a_dm_when_the_channel_is_archived(
    adapter: SlackAdapter, slack: FakeSlack,
) -> None:
    slack.archive("C1")
    result = await adapter.notify(C1, "U7", "Paperboy paused <this> channel")

    assert result.status is DeliveryStatus.SENT
    dm = slack.dm_channel("U7")
    assert result.message_ref is not None and result.message_ref.startswith(f"{dm}/")
    assert slack.messages_in("C1") == []
    [message] = slack.messages_in(dm)
    assert message["text"] == "In <#C1>: Paperboy paused &lt;this&gt; channel"
    assert [c.params["channel"] for c in slack.calls_to("chat.postMessage")] == ["C1", "U7"]


async def test_notify_without_a_user_reports_the_channels_failure(adapter: SlackAdapter, slack: FakeSlack) -> None:
    slack.archive("C1")
    result = await adapter.notify(C1, None, "Paperboy paused this channel")

    assert result.status is DeliveryStatus.PERMANENT
    assert result.reason is not None and "is_archived" in result.reason
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_notify_does_not_dm_on_a_passing_failure(adapter: SlackAdapter, slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", "internal_error", status=500)
    result = await adapter.notify(C1, "U7", "hello")

    assert result.status is DeliveryStatus.TRANSIENT
    assert slack.messages_in(slack.dm_channel("U7")) == []


# -- rate limits --------------------------------------------------------------------------


def test_adapter_limits_and_manifest_scopes() -> None:
    assert SlackAdapter.limits == (RateLimit("channel", 1, 1.0), RateLimit("workspace", 300, 60.0))
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert {"channels:history", "groups:history", "im:write", "chat:write"} <= scopes


async def test_the_fake_answers_429_with_retry_after_past_the_channel_window() -> None:
    async with FakeSlack(channel_limit=(2, 30.0), workspace_limit=None) as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)  # no retry handler: see the 429
        await client.chat_postMessage(channel="C1", text="one")
        await client.chat_postMessage(channel="C1", text="two")
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel="C1", text="three")
        other_channel = await client.chat_postMessage(channel="C2", text="elsewhere")

    assert refused.value.response.status_code == 429
    assert refused.value.response["error"] == "ratelimited"
    assert 1 <= int(refused.value.response.headers["Retry-After"]) <= 30
    assert slack.count_429 == 1
    assert [m["text"] for m in slack.messages_in("C1")] == ["one", "two"]
    assert other_channel["ok"] is True


async def test_the_fake_limits_each_workspace_separately() -> None:
    async with FakeSlack(tokens={"xoxb-a": "TA", "xoxb-b": "TB"}, channel_limit=None,
                         workspace_limit=(2, 30.0)) as slack:
        team_a = AsyncWebClient(token="xoxb-a", base_url=slack.api_url)
        team_b = AsyncWebClient(token="xoxb-b", base_url=slack.api_url)
        for channel in ("CA1", "CA2"):
            await team_a.chat_postMessage(channel=channel, text="x")
        with pytest.raises(SlackApiError):
            await team_a.chat_postMessage(channel="CA3", text="x")
        await team_b.chat_postMessage(channel="CB1", text="x")

    assert slack.count_429 == 1
    assert slack.messages_in("CA3") == [] and len(slack.messages_in("CB1")) == 1


async def test_a_channel_limit_429_is_waited_out_by_the_retry_handler(tmp_path: Path, hf: FakeHuggingFace) -> None:
    # A 2-second window: the second send surely arrives inside it, and the retry waits it out.
    async with FakeSlack(channel_limit=(1, 2.0), workspace_limit=None) as slack:
        async with open_core(make_settings(tmp_path, slack, hf)) as core:
            bot = await started(core)
            try:
                first = await bot.send(C1, card_post("2403.10001"))
                second = await bot.send(C1, card_post("2403.10002"))
                elsewhere = await bot.send(C2, card_post("2403.10003"))
            finally:
                await bot.stop()

    assert first.status is second.status is elsewhere.status is DeliveryStatus.SENT
    assert slack.count_429 == 1
    assert len(slack.calls_to("chat.postMessage")) == 4  # three posts and one retry
    assert slack.posted_paper_ids("C1") == ["2403.10001", "2403.10002"]
    assert slack.posted_paper_ids("C2") == ["2403.10003"]


async def test_a_workspace_limit_429_is_waited_out_by_the_retry_handler(tmp_path: Path, hf: FakeHuggingFace) -> None:
    async with FakeSlack(channel_limit=None, workspace_limit=(2, 2.0)) as slack:
        async with open_core(make_settings(tmp_path, slack, hf)) as core:
            bot = await started(core)
            try:
                results = [await bot.send(ChannelRef("slack", "T1", f"C{i}"), card_post(f"2403.1000{i}"))
                           for i in range(3)]
            finally:
                await bot.stop()

    assert all(r.status is DeliveryStatus.SENT for r in results)
    assert slack.count_429 == 1
    assert [slack.posted_paper_ids(f"C{i}") for i in range(3)] == [[f"2403.1000{i}"] for i in range(3)]


# -- answers that are not JSON (a proxy in front of Slack) --------------------------------

PROXY_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
NOT_JSON = [
    pytest.param(502, "text/html", PROXY_502, id="html-502"),
    pytest.param(405, "text/plain", "405 Method Not Allowed", id="plain-405"),
    pytest.param(200, "text/plain", "OK", id="plain-200"),
    pytest.param(200, "text/html", "<html><body>Sign in to the Wi-Fi</body></html>", id="html-200"),
    pytest.param(503, "application/json", "<html>Service Unavailable</html>", id="json-that-is-not-503"),
]


def assert_readable(reason: str | None, status: int) -> None:
    """One line that names the HTTP status, not a Python error or the proxy's page."""
    assert reason is not None and f"HTTP {status}" in reason and "non-JSON" in reason, reason
    assert "\n" not in reason and "<" not in reason and "object has no attribute" not in reason, reason


@pytest.mark.parametrize(("status", "content_type", "body"), NOT_JSON)
async def test_a_send_answered_by_a_proxy_is_transient_with_a_readable_reason(
    adapter: SlackAdapter, slack: FakeSlack, status: int, content_type: str, body: str,
) -> None:
    slack.answer_raw("chat.postMessage", body, status=status, content_type=content_type)
    failed = await adapter.send(C1, card_post("2403.10001"))
    recovered = await adapter.send(C1, card_post("2403.10001"))

    assert failed.status is DeliveryStatus.TRANSIENT
    assert_readable(failed.reason, status)
    assert content_type in (failed.reason or "")
    assert recovered.status is DeliveryStatus.SENT
    assert slack.posted_paper_ids("C1") == ["2403.10001"]


async def test_an_edit_and_a_notice_answered_by_a_proxy_are_transient(adapter: SlackAdapter, slack: FakeSlack) -> None:
    sent = await adapter.send(C1, card_post("2403.10001"))
    assert sent.message_ref is not None
    slack.answer_raw("chat.update", PROXY_502)
    edited = await adapter.edit(C1, sent.message_ref, card_post("2403.10001", title="Renamed"))
    slack.answer_raw("chat.postMessage", "405 Method Not Allowed", status=405, content_type="text/plain")
    notified = await adapter.notify(C1, "U7", "Paperboy paused this channel")

    assert edited.status is notified.status is DeliveryStatus.TRANSIENT
    assert_readable(edited.reason, 502)
    assert_readable(notified.reason, 405)
    assert slack.messages_in(slack.dm_channel("U7")) == [], "a passing failure is no reason to DM anyone"


@pytest.mark.parametrize(("status", "content_type", "body"), NOT_JSON)
async def test_find_post_answered_by_a_proxy_raises_a_readable_error(
    adapter: SlackAdapter, slack: FakeSlack, status: int, content_type: str, body: str,
) -> None:
    sent = await adapter.send(C1, card_post("2403.10001"))
    slack.answer_raw("conversations.history", body, status=status, content_type=content_type)
    with pytest.raises(SlackHistoryError) as unreadable:
        await adapter.find_post(C1, card_post("2403.10001"))

    assert unreadable.value.result.status is DeliveryStatus.TRANSIENT
    assert_readable(str(unreadable.value), status)
    # Never read as "absent": once the proxy recovers, the post is there.
    assert await adapter.find_post(C1, card_post("2403.10001")) == sent.message_ref


async def test_a_post_that_met_a_proxy_502_is_retried_and_delivered_once(
    adapter: SlackAdapter, slack: FakeSlack, core: Core, clock,
) -> None:
    from bot.delivery.worker import DeliveryWorker

    store = core.store
    channel = await store.ensure_channel(C1)
    await store.save_papers([Paper(id="2403.10001", title="A paper")])
    await store.enqueue_posts(channel.id, [("2403.10001", None, None)], at=clock(), max_per_hour=10)
    worker = DeliveryWorker(store=store, adapters={"slack": adapter}, clock=clock)
    slack.answer_raw("chat.postMessage", PROXY_502, status=502)

    first = await worker.drain()
    (waiting,) = await store.outbox_in_state("pending", channel_id=channel.id)
    clock.advance(hours=1)
    second = await worker.drain()
    third = await worker.drain()

    assert (first.sent, first.failed, first.paused) == (0, 1, [])
    assert_readable(waiting.last_error, 502)
    assert (second.sent, third.sent) == (1, 0)
    assert await store.outbox_counts(channel.id) == {"sent": 1}
    assert slack.posted_paper_ids("C1") == ["2403.10001"]
    assert len(slack.calls_to("chat.postMessage")) == 2
