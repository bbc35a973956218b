"""Save, 👍 and threads on Slack end to end: the real Engine, DeliveryWorker and SQLite store.

Signed clicks and slash commands go through the real Bolt app to the real core; posts,
edits and thread replies go out through the delivery worker to the fake Slack, which
keeps them as Slack would.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import AsyncIterator

import pytest

from adapters.slack import SlackAdapter
from bot.runtime.app import Core
from bot.model.channels import ChannelRef
from bot.model.paper import Paper
from bot.model.replies import PaperCard, Post
from bot.delivery.worker import DeliveryWorker
from tests.fakes.slack_server import FakeSlack, block_actions_body
from tests.test_slack_adapter import all_text, is_warning, post_signed, run_command
from tests.test_slack_delivery import core, hf, slack  # noqa: F401  (fixtures)

C1 = ChannelRef("slack", "T1", "C1")
PAPER_ID = "2403.10001"
PAPER = Paper(id=PAPER_ID, title="Model merging", abstract="We merge models. It works.", authors=("Ada",))


@pytest.fixture
async def adapter(core: Core) -> AsyncIterator[SlackAdapter]:
    bot = SlackAdapter(core.settings, core.engine, host="127.0.0.1", port=0)
    core.poller.adapters[bot.platform] = bot  # as the CLI does: the engine and the worker see it
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


def now() -> datetime:
    return datetime.now(timezone.utc)


async def queue_paper(core: Core) -> int:
    """Cache `PAPER` and queue its post to C1, as the poller does for a match; return the channel id."""
    channel = await core.store.ensure_channel(C1)
    await core.store.save_papers([PAPER])
    await core.store.enqueue_posts(channel.id, [(PAPER_ID, None, None)], at=now(), max_per_hour=10)
    return channel.id


async def click(adapter: SlackAdapter, slack: FakeSlack, action_id: str, *, user_id: str, message_ts: str) -> dict:
    count = len(slack.responses) + 1
    body = block_actions_body(action_id, response_url=slack.response_url(f"click{count}"), value=PAPER_ID,
                              message_ts=message_ts, user_id=user_id, user_name=user_id.lower())
    status, _ = await post_signed(adapter, body)
    assert status == 200
    return await slack.wait_for_response(count=count)


def buttons(message: dict) -> dict[str, str]:
    """action_id → label of a message's Save, 👍 and 👎 buttons."""
    return {e["action_id"]: e["text"]["text"] for b in message["blocks"] if b["type"] == "actions"
            for e in b["elements"] if "action_id" in e and e["action_id"].startswith("paperboy:")}


async def test_three_votes_edit_the_post_to_show_three(adapter: SlackAdapter, slack: FakeSlack, core: Core) -> None:
    await queue_paper(core)
    assert (await core.poller.worker.drain()).sent == 1
    [post] = slack.messages_in("C1")
    assert buttons(post) == {f"paperboy:save:{PAPER_ID}": "🔖 Save", f"paperboy:vote:{PAPER_ID}": "👍",
                             f"paperboy:downvote:{PAPER_ID}": "👎"}

    answers = [await click(adapter, slack, f"paperboy:vote:{PAPER_ID}", user_id=user, message_ts=post["ts"])
               for user in ("U1", "U2", "U3")]
    await core.poller.worker.drain()

    assert all(a["response_type"] == "ephemeral" and not is_warning(a) for a in answers)
    assert "3 in this channel" in all_text(answers[-1])
    [edited] = slack.messages_in("C1")
    assert edited["ts"] == post["ts"] and "edited" in edited
    assert buttons(edited)[f"paperboy:vote:{PAPER_ID}"] == "👍 3"
    assert slack.calls_to("chat.update") and slack.posted_paper_ids("C1") == [PAPER_ID]


async def test_a_downvote_click_is_noted_privately_and_a_second_takes_it_back(
    adapter: SlackAdapter, slack: FakeSlack, core: Core,
) -> None:
    channel_id = await queue_paper(core)
    await core.poller.worker.drain()
    [post] = slack.messages_in("C1")

    noted = await click(adapter, slack, f"paperboy:downvote:{PAPER_ID}", user_id="U1", message_ts=post["ts"])
    assert noted["response_type"] == "ephemeral" and not is_warning(noted)
    assert "Noted: fewer papers like this here; click again to take it back." in all_text(noted)
    assert [(s.paper_id, s.negative) for s in await core.store.channel_signals(channel_id)] == [(PAPER_ID, 1)]
    await core.poller.worker.drain()
    assert slack.calls_to("chat.update") == [], "a 👎 has no public count to show"
    assert buttons(slack.messages_in("C1")[0])[f"paperboy:downvote:{PAPER_ID}"] == "👎"

    back = await click(adapter, slack, f"paperboy:downvote:{PAPER_ID}", user_id="U1", message_ts=post["ts"])
    assert back["response_type"] == "ephemeral" and f"Took back your 👎 on {PAPER_ID}" in all_text(back)
    assert await core.store.channel_signals(channel_id) == []


async def test_a_save_click_puts_the_paper_on_the_reading_list(
    adapter: SlackAdapter, slack: FakeSlack, core: Core,
) -> None:
    await queue_paper(core)
    await core.poller.worker.drain()
    [post] = slack.messages_in("C1")

    answer = await click(adapter, slack, f"paperboy:save:{PAPER_ID}", user_id="U1", message_ts=post["ts"])
    saved = await run_command(adapter, slack, "saved", user_id="U1")
    others = await run_command(adapter, slack, "saved", user_id="U2")

    assert answer["response_type"] == "ephemeral" and not is_warning(answer)
    assert saved["response_type"] == "ephemeral" and PAPER_ID in all_text(saved)
    assert PAPER_ID not in all_text(others)


async def test_with_threads_on_a_post_gets_exactly_one_thread_reply(
    adapter: SlackAdapter, slack: FakeSlack, core: Core,
) -> None:
    answer = await run_command(adapter, slack, "threads on")
    assert not is_warning(answer), answer
    await queue_paper(core)

    await core.poller.worker.drain()
    await core.poller.worker.drain()  # nothing left: no second reply

    [post] = [m for m in slack.messages_in("C1") if m.get("thread_ts", m["ts"]) == m["ts"]]
    [reply] = slack.replies_to("C1", post["ts"])
    assert "We merge models. It works." in json.dumps(reply["blocks"])
    assert reply["metadata"]["event_payload"]["tag"] == f"thread:{PAPER_ID}"
    assert slack.posted_paper_ids("C1") == [PAPER_ID]


async def post_sent_before_the_crash(adapter: SlackAdapter, store, channel_id: int):
    """A crashed process sent the paper's post and settled it: return that send and the thread entry it left."""
    [paper_entry] = [e for e in await store.outbox_in_state("pending", channel_id=channel_id) if e.kind == "paper"]
    assert await store.claim_outbox(paper_entry.id)
    sent = await adapter.send(C1, Post(PaperCard(PAPER), tag=paper_entry.tag, paper_ids=(PAPER_ID,)))
    await store.mark_outbox_sent(paper_entry.id, message_ref=sent.message_ref, at=now())
    [thread_entry] = await store.outbox_in_state("pending", channel_id=channel_id)
    return sent, thread_entry


async def test_a_thread_left_sending_by_a_crash_is_reconciled_without_a_second_reply(
    adapter: SlackAdapter, slack: FakeSlack, core: Core,
) -> None:
    await run_command(adapter, slack, "threads on")
    channel_id = await queue_paper(core)
    store = core.store
    # The crashed process sent the post, settled it, claimed the thread entry and replied: then died.
    sent, thread_entry = await post_sent_before_the_crash(adapter, store, channel_id)
    assert thread_entry.kind == "thread" and thread_entry.target_ref == sent.message_ref
    assert await store.claim_outbox(thread_entry.id)
    opened = await adapter.open_thread(C1, sent.message_ref, Post(PaperCard(PAPER, detail=True), tag=thread_entry.tag,
                                                                  paper_ids=(PAPER_ID,)))

    restarted = DeliveryWorker(store=store, adapters={"slack": adapter})
    reconciled = await restarted.reconcile()
    report = await restarted.drain()

    assert reconciled == 1 and report.sent == 0
    parent_ts = sent.message_ref.split("/")[1]
    assert [f"C1/{m['ts']}" for m in slack.replies_to("C1", parent_ts)] == [opened.message_ref]
    [settled] = [e for e in await store.outbox_in_state("sent", channel_id=channel_id) if e.kind == "thread"]
    assert settled.message_ref == opened.message_ref


async def test_a_thread_claimed_but_never_sent_goes_out_once_after_the_crash(
    adapter: SlackAdapter, slack: FakeSlack, core: Core,
) -> None:
    await run_command(adapter, slack, "threads on")
    channel_id = await queue_paper(core)
    store = core.store
    sent, thread_entry = await post_sent_before_the_crash(adapter, store, channel_id)
    assert await store.claim_outbox(thread_entry.id)  # ...and the process died before replying

    restarted = DeliveryWorker(store=store, adapters={"slack": adapter})
    await restarted.reconcile()
    report = await restarted.drain()

    assert report.sent == 1
    assert len(slack.replies_to("C1", sent.message_ref.split("/")[1])) == 1
