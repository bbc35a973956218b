"""`Batcher`: callers of one moment share one flush; a failed flush fails its own callers only."""

from __future__ import annotations

import asyncio

import pytest

from bot.delivery.batching import Batcher


async def test_callers_of_one_moment_share_a_flush_and_each_gets_its_own_answer():
    flushes: list[list[int]] = []

    async def flush(items):
        flushes.append(items)
        await asyncio.sleep(0.01)
        return [item * 10 for item in items]

    batcher = Batcher(flush, max_batch=4)
    results = await asyncio.gather(*(batcher.submit(n) for n in range(10)))
    assert results == [n * 10 for n in range(10)]
    assert flushes == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert await batcher.submit(11) == 110, "a later caller starts a new flush"


async def test_a_failed_flush_fails_its_callers_and_the_next_batch_still_goes():
    calls = 0

    async def flush(items):
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 1:
            raise RuntimeError("database is locked")
        return items

    batcher = Batcher(flush)
    first = asyncio.ensure_future(batcher.submit("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the first flush is running: these two wait for the next one
    later = asyncio.gather(batcher.submit("b"), batcher.submit("c"))
    with pytest.raises(RuntimeError, match="locked"):
        await first
    assert await later == ["b", "c"]


async def test_a_caller_that_gives_up_does_not_undo_its_item():
    done: list[str] = []

    async def flush(items):
        await asyncio.sleep(0.05)
        done.extend(items)
        return items

    batcher = Batcher(flush)
    waiter = asyncio.ensure_future(batcher.submit("claimed"))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0.1)
    assert done == ["claimed"], "the flush it joined still ran: its outcome is recorded, not lost"
