"""Run the command line's coroutine like `asyncio.run`, but never wait forever for stuck threads at exit.

`asyncio.run` waits for every thread of the loop's default executor, and so does the interpreter
at exit. A DNS look-up runs in such a thread (``getaddrinfo`` cannot be cancelled), and one that
never gets an answer (the database's host gone, a container network down) would hold up a stop
long after Paperboy is done. Here the executor's threads get a moment, then the process ends
with its status, logs flushed: whatever they would have returned, nobody is waiting for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Coroutine, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

THREAD_PREFIX = "paperboy-io"
"""The name of the default executor's threads (DNS look-ups, `asyncio.to_thread`), to find them at exit."""
THREADS_GRACE = 1.0
"""Seconds the executor's threads get to end after the loop has closed."""


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run *main* to its end on a new event loop; cancel what is left; close the loop without joining threads."""
    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix=THREAD_PREFIX))
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()  # shuts the executor down without waiting for its threads


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def stuck_threads(grace: float = THREADS_GRACE) -> list[threading.Thread]:
    """The executor's threads still running after *grace* seconds (each in a call that does not return)."""
    deadline = time.monotonic() + grace
    while True:
        stuck = [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX) and t.is_alive()]
        if not stuck or time.monotonic() >= deadline:
            return stuck
        time.sleep(0.05)


def exit_now_if_stuck(status: int) -> int:
    """Return *status*; but if executor threads are stuck, end the process with it now, logs flushed.

    Python would join those threads at exit, for as long as their calls take (a DNS look-up: minutes).
    """
    stuck = stuck_threads()
    if not stuck:
        return status
    log.warning("exiting without waiting for %d thread%s stuck in a call (a DNS look-up that gets no answer)",
                len(stuck), "s" if len(stuck) != 1 else "")
    _exit_flushed(status)


HARD_STOP_MARGIN = 2.0
"""Seconds past the stop's grace before a stop that still has not ended is cut short (`arm_hard_stop`)."""


def arm_hard_stop(grace: float) -> threading.Timer:
    """After a stop signal: end the process if it is still stopping *grace* + a margin from now.

    The last resort when something in the stop waits on what never answers; the sends in flight had
    the grace, and one cut short is checked with its platform at the next start (the outbox's reconciliation).
    """
    timer = threading.Timer(grace + HARD_STOP_MARGIN, _hard_stop, args=(grace + HARD_STOP_MARGIN,))
    timer.daemon = True
    timer.start()
    return timer


def _hard_stop(after: float) -> None:
    log.error("still stopping after %.0f s; quitting now (anything cut short is checked at the next start)", after)
    _exit_flushed(1)


def _exit_flushed(status: int) -> None:
    """End the process now with *status*, once the log and the output are written out."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that left, a stream already closed
            pass
    os._exit(status)
