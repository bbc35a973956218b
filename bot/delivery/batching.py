"""Gather the database writes many channels make at once into one transaction each.

A thousand channels sending at once each claim an entry and settle it: a thousand small
transactions. A `Batcher` lets each caller await its own item while the items that arrive
during one flush go together in the next, so there is never an added wait: the first item
goes at once, and the batches grow only as large as the load makes them.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_BATCH = 500
"""Items in one flush at most (one statement's parameters stay small)."""


class Batcher(Generic[Item, Result]):
    """``await batcher.submit(item)`` returns what *flush* answered for *item*.

    *flush* receives a list of items and returns one result per item, in order. When it
    raises, every caller of that batch gets the exception.
    """

    def __init__(self, flush: Callable[[list[Item]], Awaitable[list[Result]]], *, max_batch: int = MAX_BATCH) -> None:
        self._flush = flush
        self._max = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        # A caller that gives up (cancelling its future) still leaves its item to the flush it joined,
        # whose outcome (a claim taken, a post recorded) does not depend on who still listens.
        return await self.put(item)

    def put(self, item: Item) -> asyncio.Future[Result]:
        """Queue *item* without waiting: the future of its result, for one caller to await."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._run())
        return future

    async def _run(self) -> None:
        await asyncio.sleep(0)  # let the callers woken in this same moment join the first batch
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max], self._waiting[self._max:]
            try:
                results = await self._flush([item for item, _ in batch])
            except Exception as error:  # handed to every caller of the batch; the next batch still goes
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            except BaseException:  # the flusher itself is cancelled: nobody is left to flush for
                for _, future in batch + self._waiting:
                    future.cancel()
                self._waiting = []
                raise
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)
