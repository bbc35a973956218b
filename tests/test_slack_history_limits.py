"""Crash recovery within Slack's history limits: one read a minute per workspace, 15 messages a read.

The real Slack adapter and delivery worker against the fake Slack, which enforces those limits
when told to (`FakeSlack.history_limit`, `history_page_max`). A window of a few seconds stands in
for Slack's minute so the tests stay fast: what matters is that nothing waits for it but the
posts that must.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import pytest

from adapters.slack import SlackAdapter, SlackHistoryError
from adapters.slack.history import CLOCK_MARGIN, PAGE_SIZE
from bot.runtime.app import Core, open_core
from bot.model.channels import Caller, ChannelRef, parse_command
from bot.ports.adapter import DeliveryStatus
from bot.model.paper import Paper
from bot.model.replies import PaperCard, Post
from bot.model.rows import OutboxEntry
from bot.delivery.worker import DeliveryWorker
from paperboy_testing.hf_server import FakeHuggingFace
from tests.fakes.slack_server import FakeSlack
from tests.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)
from tests.test_slack_adapter import adapter  # noqa: F401  (a fixture: the adapter on this file's core)
from tests.test_slack_delivery import hf, make_settings  # noqa: F401  (a fixture, and the settings)

WINDOW = 3.0
"""Seconds the fake allows one history read per workspace in: Slack's minute, shortened."""
C1, C2, C3 = (ChannelRef("slack", "T1", c) for c in ("C1", "C2", "C3"))


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "paperboy.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def slack(request: pytest.FixtureRequest) -> AsyncIterator[FakeSlack]:
    # No posting limits of the fake's own: the adapter paces its posts; the history limits are the subject.
    limit = getattr(request, "param", None)
    async with FakeSlack(channel_limit=None, workspace_limit=None, history_limit=limit,
                         history_page_max=PAGE_SIZE) as fake:
        yield fake


@pytest.fixture
async def core(tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace, database: str) -> AsyncIterator[Core]:
    settings = make_settings(tmp_path, slack, hf).model_copy(update={"database": database})
    async with open_core(settings) as opened:  # the real clock: the worker's waits are real
        yield opened


def now() -> datetime:
    return datetime.now(timezone.utc)


def card_post(paper_id: str) -> Post:
    return Post(PaperCard(Paper(id=paper_id, title=f"Paper {paper_id}")), tag=f"paper:{paper_id}",
                paper_ids=(paper_id,))


async def queue(core: Core, ref: ChannelRef, *paper_ids: str) -> list[OutboxEntry]:
    """Queue a post of each of *paper_ids* for *ref*; return the channel's pending entries."""
    channel = await core.store.ensure_channel(ref)
    await core.store.save_papers([Paper(id=p, title=f"Paper {p}") for p in paper_ids])
    await core.store.enqueue_posts(channel.id, [(p, None, None) for p in paper_ids], at=now(), max_per_hour=50)
    return await core.store.outbox_in_state("pending", channel_id=channel.id)


async def crashed_after_sending(core: Core, adapter: SlackAdapter, ref: ChannelRef, paper_id: str) -> None:
    """Claim *paper_id*'s entry and post it, then settle nothing: a process that died right after the send."""
    entry = next(e for e in await queue(core, ref, paper_id) if e.tag == f"paper:{paper_id}")
    assert await core.store.claim_outbox(entry.id)
    assert (await adapter.send(ref, card_post(paper_id))).status is DeliveryStatus.SENT


async def chatter(adapter: SlackAdapter, ref: ChannelRef, count: int) -> None:
    """People talk in the channel: *count* messages without Paperboy's metadata."""
    for n in range(count):
        await adapter.client.chat_postMessage(channel=ref.channel, text=f"message {n}")


async def status(core: Core) -> str:
    reply = await core.engine.handle(parse_command("status", caller=Caller(id="U1", name="ada"), channel=C1))
    return reply.content.body


async def until(condition: Callable[[], Awaitable[bool]], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


# -- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_history_is_read_from_the_claim_time_fifteen_at_a_time(adapter: SlackAdapter, slack: FakeSlack) -> None:
    claimed = now()
    sent = await adapter.send(C1, card_post("2403.10001"))
    post = dataclasses.replace(card_post("2403.10001"), sent_after=claimed)
    assert sent.message_ref is not None

    found = await adapter.find_post(C1, post)
    thread = await adapter.find_thread(C1, sent.message_ref, dataclasses.replace(post, tag="thread:2403.10001"))
    reads = slack.calls_to("conversations.history") + slack.calls_to("conversations.replies")
    # Claimed after the post was made: Slack returns nothing older than ``oldest``, and so nothing is found.
    too_late = await adapter.find_post(C1, dataclasses.replace(post, sent_after=claimed + timedelta(minutes=5)))

    assert found == sent.message_ref and thread is None and too_late is None
    assert len(reads) == 2
    for call in reads:
        # A little before the claim: this host's clock and Slack's may differ.
        assert float(call.params["oldest"]) == pytest.approx(claimed.timestamp() - CLOCK_MARGIN, abs=1e-5)
        assert int(call.params["limit"]) <= 15


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_an_ambiguous_post_on_the_second_page_is_found_not_sent_again(
    core: Core, adapter: SlackAdapter, slack: FakeSlack,
) -> None:
    await crashed_after_sending(core, adapter, C1, "2403.10001")
    await chatter(adapter, C1, PAGE_SIZE + 3)  # the post is now 18 messages back: on the second page

    report = await DeliveryWorker(store=core.store, adapters={"slack": adapter}).drain()

    assert report.reconciled == 1 and report.sent == 0
    assert slack.posted_paper_ids("C1") == ["2403.10001"]
    first, second = slack.calls_to("conversations.history")
    assert "cursor" not in first.params and second.params["cursor"]
    assert await core.store.outbox_counts() == {"sent": 1}


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_history_read_answered_429_waits_without_slack_sdk_sleeping(
    adapter: SlackAdapter, slack: FakeSlack,
) -> None:
    slack.rate_limit("conversations.history", retry_after=60)
    post = dataclasses.replace(card_post("2403.10001"), sent_after=now())
    started = time.monotonic()

    with pytest.raises(SlackHistoryError) as limited:
        await adapter.find_post(C1, post)
    with pytest.raises(SlackHistoryError) as paced:  # another channel of the workspace: Slack is not asked
        await adapter.find_post(C2, post)

    assert time.monotonic() - started < 5, "a 429 on a history read must not be slept out in place"
    assert limited.value.result.status is paced.value.result.status is DeliveryStatus.RATE_LIMITED
    assert limited.value.result.retry_after == 60 and 55 < paced.value.result.retry_after <= 60
    assert "reading again in" in str(paced.value)
    assert len(slack.calls_to("conversations.history")) == 1


# -- recovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the store test below covers Postgres' part
@pytest.mark.parametrize("slack", [(1, WINDOW)], indirect=True)
async def test_recovery_at_one_history_read_a_window_finishes_the_other_channels_at_once(
    core: Core, adapter: SlackAdapter, slack: FakeSlack,
) -> None:
    # C1 and C2 each hold a post that went out before a crash, unsettled; C2 has a newer post behind it.
    await crashed_after_sending(core, adapter, C1, "2403.10001")
    await chatter(adapter, C1, PAGE_SIZE + 3)  # C1's post takes two reads to find
    await crashed_after_sending(core, adapter, C2, "2403.20001")
    await queue(core, C2, "2403.20002")
    await queue(core, C3, "2403.30001", "2403.30002")  # C3 has only fresh posts
    worker = DeliveryWorker(store=core.store, adapters={"slack": adapter})
    stop = asyncio.Event()
    started = time.monotonic()
    running = asyncio.create_task(worker.run(stop, idle=30))
    try:
        async def fresh_sent() -> bool:
            return slack.posted_paper_ids("C3") == ["2403.30001", "2403.30002"]

        async def settled() -> bool:
            return await core.store.outbox_counts() == {"sent": 5}

        await until(fresh_sent, timeout=WINDOW)
        fresh_done = time.monotonic() - started
        waiting = await status(core)
        c2_meanwhile = slack.posted_paper_ids("C2")
        await until(settled, timeout=4 * WINDOW)
        all_done = time.monotonic() - started
    finally:
        stop.set()
        await running

    assert fresh_done < WINDOW, "C3 went out without waiting for Slack to allow another history read"
    assert "Waiting for confirmation: 2 posts (since " in waiting
    assert c2_meanwhile == ["2403.20001"], "C2's newer post waits behind the one not yet confirmed"
    assert all_done >= WINDOW, "the waiting channels were confirmed once Slack allowed it"
    # Nothing was sent twice, and each channel's posts are in order.
    assert slack.posted_paper_ids("C1") == ["2403.10001"]
    assert slack.posted_paper_ids("C2") == ["2403.20001", "2403.20002"]
    assert slack.posted_paper_ids("C3") == ["2403.30001", "2403.30002"]
    assert slack.count_429 <= 2, "one 429 per wait at most: the adapter does not hammer a paced workspace"
    assert all(int(c.params["limit"]) <= 15 and c.params.get("oldest") for c in slack.calls_to("conversations.history"))
    assert "Waiting for confirmation" not in await status(core)


# -- the store ---------------------------------------------------------------------------------


async def test_the_store_counts_unconfirmed_posts_and_their_oldest_claim(core: Core) -> None:
    assert await core.store.outbox_unconfirmed() == (0, None)
    first, second, third = await queue(core, C1, "2403.10001") + await queue(core, C2, "2403.20001", "2403.20002")
    before = now()
    assert await core.store.claim_outbox(first.id)
    assert await core.store.claim_outbox(second.id)

    count, since = await core.store.outbox_unconfirmed()
    [claimed] = [e for e in await core.store.outbox_in_state("sending") if e.id == first.id]

    assert count == 2 and since is not None
    assert abs((since - before).total_seconds()) < 5  # the database's clock, on Postgres
    assert claimed.claimed_at == since
