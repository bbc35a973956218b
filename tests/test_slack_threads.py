"""Discussion threads on Slack: `open_thread` replies under a post, `find_thread` finds that reply again.

The real slack_sdk against the fake Slack, which keeps threads as Slack does: replies are
read with ``conversations.replies`` and are not part of the channel's history.
"""

from __future__ import annotations

import json
import time

import pytest

from adapters.slack import SlackAdapter, SlackHistoryError
from bot.model.actions import card_actions
from bot.runtime.app import Core
from bot.model.channels import ChannelRef
from bot.ports.adapter import DeliveryStatus
from bot.model.paper import Paper
from bot.model.replies import PaperCard, Post
from tests.fakes.slack_server import FakeSlack
from tests.test_slack_delivery import adapter, core, hf, slack, started  # noqa: F401  (fixtures)

C1 = ChannelRef("slack", "T1", "C1")
PAPER_ID = "2403.10001"
ABSTRACT = "We merge <!channel> models & keep @everyone's weights. It works."


# The fake Slack (no rate limits), the fake Hugging Face, the core and a started adapter are test_slack_delivery's.


def the_paper(paper_id: str = PAPER_ID) -> Paper:
    return Paper(id=paper_id, title="Model merging", abstract=ABSTRACT, authors=("Ada", "Grace"),
                 github_repo="https://github.com/example/merge")


def paper_post(paper_id: str = PAPER_ID) -> Post:
    card = PaperCard(the_paper(paper_id), why="matched “merging”", actions=card_actions(paper_id, 2))
    return Post(card, tag=f"paper:{paper_id}", paper_ids=(paper_id,), mention="S0123ABC")


def thread_post(paper_id: str = PAPER_ID) -> Post:
    card = PaperCard(the_paper(paper_id), actions=card_actions(paper_id, 2))
    return Post(card, tag=f"thread:{paper_id}", paper_ids=(paper_id,), mention="S0123ABC")


async def posted(adapter: SlackAdapter, paper_id: str = PAPER_ID) -> str:
    sent = await adapter.send(C1, paper_post(paper_id))
    assert sent.status is DeliveryStatus.SENT and sent.message_ref
    return sent.message_ref


# -- open_thread --------------------------------------------------------------------------


async def test_open_thread_replies_under_the_post_with_the_abstract_and_links(
    adapter: SlackAdapter, slack: FakeSlack,
) -> None:
    parent = await posted(adapter)
    parent_ts = parent.split("/")[1]

    opened = await adapter.open_thread(C1, parent, thread_post())

    assert opened.status is DeliveryStatus.SENT
    [reply] = slack.replies_to("C1", parent_ts)
    assert opened.message_ref == f"C1/{reply['ts']}" and reply["ts"] != parent_ts
    assert reply["thread_ts"] == parent_ts
    shown = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "We merge &lt;!channel&gt; models &amp; keep @everyone's weights." in shown
    assert "https://arxiv.org/abs/2403.10001" in shown and "https://github.com/example/merge" in shown
    assert "<!" not in shown + reply["text"]  # the mention was the post's, once; nothing here pings
    assert "paperboy:vote" not in shown  # 👍 lives on the post, whose count it changes
    assert reply["metadata"]["event_payload"] == {"tag": f"thread:{PAPER_ID}", "paper_ids": [PAPER_ID]}
    [call] = slack.calls_to("chat.postMessage")[1:]
    assert call.params["unfurl_links"] in (False, "0", "false")


async def test_a_thread_reply_is_not_a_post(adapter: SlackAdapter, slack: FakeSlack) -> None:
    parent = await posted(adapter)
    await adapter.open_thread(C1, parent, thread_post())

    assert slack.posted_paper_ids("C1") == [PAPER_ID]
    assert await adapter.find_post(C1, paper_post()) == parent
    # Not even a post tagged like the thread reply is found in the channel: replies are not its history.
    assert await adapter.find_post(C1, thread_post()) is None
    assert slack.calls_to("conversations.replies") == []  # finding a post never reads threads


async def test_open_thread_on_a_post_that_is_gone_is_permanent(adapter: SlackAdapter) -> None:
    gone = await adapter.open_thread(C1, "C1/1700000000.000001", thread_post())
    not_a_ref = await adapter.open_thread(C1, "nonsense", thread_post())

    assert gone.status is DeliveryStatus.PERMANENT and "thread_not_found" in (gone.reason or "")
    assert not_a_ref.status is DeliveryStatus.PERMANENT


async def test_open_thread_maps_rate_limits_and_lost_access(adapter: SlackAdapter, slack: FakeSlack) -> None:
    parent = await posted(adapter)
    slack.rate_limit("chat.postMessage", retry_after=1, times=3)  # more than the client's own retries
    limited = await adapter.open_thread(C1, parent, thread_post())
    slack.fail("chat.postMessage", "not_in_channel")
    lost = await adapter.open_thread(C1, parent, thread_post())

    assert limited.status is DeliveryStatus.RATE_LIMITED and limited.retry_after == 1
    assert lost.status is DeliveryStatus.PERMANENT and "not_in_channel" in (lost.reason or "")
    assert slack.replies_to("C1", parent.split("/")[1]) == []


# -- find_thread --------------------------------------------------------------------------


async def test_find_thread_finds_the_reply_after_a_restart(core: Core, slack: FakeSlack) -> None:
    first = await started(core)
    parent = await posted(first)
    other = await posted(first, "2403.10002")
    opened = await first.open_thread(C1, parent, thread_post())
    await first.stop()

    second = await started(core)
    try:
        found = await second.find_thread(C1, parent, thread_post())
        elsewhere = await second.find_thread(C1, other, thread_post())
        other_paper = await second.find_thread(C1, parent, thread_post("2403.10002"))
    finally:
        await second.stop()

    assert found == opened.message_ref
    assert elsewhere is None and other_paper is None
    call = slack.calls_to("conversations.replies")[0]
    assert call.params["channel"] == "C1" and call.params["ts"] == parent.split("/")[1]


async def test_find_thread_is_none_without_a_reply_and_ignores_other_replies(
    adapter: SlackAdapter, slack: FakeSlack,
) -> None:
    parent = await posted(adapter)
    assert await adapter.find_thread(C1, parent, thread_post()) is None  # the post alone: never itself

    # Someone answers in the thread (Paperboy's own answer to a mention carries no metadata).
    await adapter.client.chat_postMessage(channel="C1", thread_ts=parent.split("/")[1], text="great paper")
    assert await adapter.find_thread(C1, parent, thread_post()) is None


async def test_find_thread_raises_when_it_cannot_read_the_thread(adapter: SlackAdapter, slack: FakeSlack) -> None:
    parent = await posted(adapter)

    with pytest.raises(SlackHistoryError) as gone:
        await adapter.find_thread(C1, "C1/1700000000.000001", thread_post())
    slack.rate_limit("conversations.replies", retry_after=1)
    with pytest.raises(SlackHistoryError) as limited:
        await adapter.find_thread(C1, parent, thread_post())
    calls = len(slack.calls_to("conversations.replies"))
    with pytest.raises(SlackHistoryError) as paced:  # within the Retry-After: Slack is not asked at all
        await adapter.find_thread(C1, parent, thread_post())
    assert paced.value.result.status is DeliveryStatus.RATE_LIMITED
    assert len(slack.calls_to("conversations.replies")) == calls
    adapter.clock = lambda: time.monotonic() + 2  # the wait is over
    slack.fail("conversations.replies", "channel_not_found")
    with pytest.raises(SlackHistoryError) as lost:
        await adapter.find_thread(C1, parent, thread_post())
    with pytest.raises(SlackHistoryError) as not_a_ref:
        await adapter.find_thread(C1, "nonsense", thread_post())

    assert gone.value.result.status is DeliveryStatus.PERMANENT
    assert limited.value.result.status is DeliveryStatus.RATE_LIMITED and limited.value.result.retry_after == 1
    assert lost.value.result.status is DeliveryStatus.PERMANENT
    assert not_a_ref.value.result.status is DeliveryStatus.PERMANENT


# -- the fake keeps threads as Slack does ----------------------------------------------------


async def test_the_fake_reads_threads_like_slack(adapter: SlackAdapter, slack: FakeSlack) -> None:
    parent = await posted(adapter)
    parent_ts = parent.split("/")[1]
    opened = await adapter.open_thread(C1, parent, thread_post())
    reply_ts = opened.message_ref.split("/")[1]

    plain = await adapter.client.conversations_replies(channel="C1", ts=parent_ts)
    from_reply = await adapter.client.conversations_replies(channel="C1", ts=reply_ts, include_all_metadata=True)
    history = await adapter.client.conversations_history(channel="C1")

    assert [m["ts"] for m in plain["messages"]] == [parent_ts, reply_ts]
    assert all("metadata" not in m for m in plain["messages"])
    assert [m["ts"] for m in from_reply["messages"]] == [parent_ts, reply_ts]
    assert from_reply["messages"][1]["metadata"]["event_type"] == "paperboy_thread"
    assert [m["ts"] for m in history["messages"]] == [parent_ts]
