"""The delivery worker's wake: a message queued while a round runs goes out at once, not after `idle`.

The real worker on a real SQLite file, the in-memory platform, the fake Hugging Face over HTTP.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from adapters.memory import MemoryAdapter
from paperboy_testing.seed import make_item


@pytest.fixture
def chat(core):
    adapter = MemoryAdapter(core.engine)
    core.poller.adapters[adapter.platform] = adapter
    return adapter


async def test_a_vote_queued_while_a_round_runs_is_edited_in_at_once(chat, core, fake_hf, clock, monkeypatch):
    await chat.push("subscribe unlearn*")
    await core.poller.poll_once()  # the baseline
    fake_hf.add(make_item(1, "Fast unlearning for LLMs", "We unlearn.", daily=clock().date(),
                          paper_id="2411.00001", upvotes=50))
    await core.poller.poll_once()
    assert [pid for _, post in chat.pop_posts() for pid in post.paper_ids] == ["2411.00001"]

    worker = core.poller.worker
    read_retry = worker.store.next_outbox_retry

    async def vote_meanwhile(*, now):
        """The round has read the outbox: a 👍 lands now (the engine wakes the worker), as on a busy machine."""
        monkeypatch.setattr(worker.store, "next_outbox_retry", read_retry)
        await chat.push("vote 2411.00001")
        return await read_retry(now=now)

    monkeypatch.setattr(worker.store, "next_outbox_retry", vote_meanwhile)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, idle=30))
    started = time.monotonic()
    try:
        while not chat.edits and time.monotonic() - started < 10:
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await running
    assert chat.edits, "the 👍's edit waited for the worker's idle timeout (30 s): the wake was lost"
    assert time.monotonic() - started < 10
    [(_, message_ref, post)] = chat.edits
    assert message_ref == "m1" and post.paper_ids == ("2411.00001",)
