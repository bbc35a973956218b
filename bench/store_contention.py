"""Time writes and a small command alone, then while ten worst-case searches run at once.

Run from the repository root: ``python bench/store_contention.py`` (``--papers``, ``--searches`` and
``--rounds`` change the load). A fresh SQLite file gets a few thousand papers (seed papers
reshuffled, as in ``bench/_support.py``) and a channel with topics; the real `Engine` answers
commands, with a fake Hugging Face on loopback that answers at once.

A worst-case search is the one that makes the local full-text search do the most: as many of the
commonest two-letter prefixes as a query may hold (``co* OR re* OR in* …``, 300 characters, about
75 prefixes, each expanding to hundreds of indexed words that match nearly every paper). Each
round fires ``--searches`` of them at once, from different people, and meanwhile times, one after
another, a write (``set_state``, as the poll loop writes; ``add_topic``, a subscribe) and a small
command (``topics``), until the searches are done. A 10 ms heartbeat shows how long the event loop
was kept busy running Python (the engine matching candidates), which no database arrangement removes.

Each arrangement is loaded twice: with searches through the engine (what people type: the local
search, matching and ranking the candidates in Python, the source asked too), and with the store's
part alone (``search_papers``), which is what the database arrangement decides.

Two arrangements are timed in the same run, on the same file:

* ``one connection``: everything on one connection behind one lock, every term searched, no time
  budget — how the store worked when the issue measured 33 s;
* ``read connections``: what the store does now — separate read connections for quick and slow
  reads, at most `MAX_SEARCH_TERMS` terms, and a time budget per search.

Prints figures only: latencies, and each one under load as a ratio to its baseline alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Awaitable

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # so `python bench/store_contention.py` finds bot/ and tests/

from bench._support import percentile, seed_vocabulary, synthetic_papers  # noqa: E402
from bot.model.channels import Caller, ChannelRef, parse_command  # noqa: E402
from bot.commands.engine import Engine, utcnow  # noqa: E402
from bot.model.replies import Error  # noqa: E402
from bot.sources import HuggingFaceClient  # noqa: E402
from bot.sources.lookups import Lookups  # noqa: E402
from bot.topics import MAX_QUERY_LENGTH, parse_query  # noqa: E402
from storage.sqlite import SearchTooBroad, Store  # noqa: E402
from storage.sqlite import papers as store_papers  # noqa: E402
from paperboy_testing.hf_server import FakeHuggingFace  # noqa: E402
from paperboy_testing.seed import seed_items  # noqa: E402

CHANNEL = ChannelRef(platform="memory", workspace="bench", channel="general")
BASELINE_SAMPLES = 40
HEARTBEAT = 0.01


def worst_query() -> str:
    """Return the costliest search text the query language allows: the commonest two-letter prefixes, ORed."""
    counts = Counter(word[:2] for word in seed_vocabulary())
    text = ""
    for prefix, _ in counts.most_common():
        more = f"{text} OR {prefix}*" if text else f"{prefix}*"
        if len(more) > MAX_QUERY_LENGTH:
            break
        text = more
    parse_query(text)  # valid, or this bench measures nothing
    return text


@dataclass
class Samples:
    state_write: list[float] = field(default_factory=list)
    subscribe: list[float] = field(default_factory=list)
    command: list[float] = field(default_factory=list)
    loop: list[float] = field(default_factory=list)
    """How late a 10 ms heartbeat woke up: the longest stretches the event loop spent running Python."""

    def kinds(self) -> dict[str, list[float]]:
        return {"write (set_state)": self.state_write, "write (add_topic)": self.subscribe,
                "command (topics)": self.command, "event loop lag": self.loop}


@dataclass
class Result:
    label: str
    alone: Samples
    loaded: Samples
    search_walls: list[float] = field(default_factory=list)
    """Per round: seconds from firing the searches to the last answer."""
    search_answers: Counter = field(default_factory=Counter)
    """How the searches were answered: results, "too broad", other errors."""


async def timed(awaitable) -> float:
    started = time.perf_counter()
    await awaitable
    return time.perf_counter() - started


class Probe:
    """The small things people and the poller do, each timed."""

    def __init__(self, store: Store, engine: Engine, channel_id: int) -> None:
        self.store, self.engine, self.channel_id = store, engine, channel_id
        self.n = 0

    async def once(self, into: Samples) -> None:
        self.n += 1
        into.state_write.append(await timed(self.store.set_state("poll.next_at", f"soon {self.n}")))
        started = time.perf_counter()
        topic = await self.store.add_topic(self.channel_id, f"bench topic {self.n}", "bench", at=_now())
        into.subscribe.append(time.perf_counter() - started)
        await self.store.remove_topic(topic.id)
        command = parse_command("topics", caller=Caller(id="U-probe", name="probe"), channel=CHANNEL)
        into.command.append(await timed(self.engine.handle(command)))


async def heartbeat(into: list[float], stop: asyncio.Event) -> None:
    """Sleep 10 ms at a time until *stop*, noting how late each wake-up is (the event loop was busy)."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(HEARTBEAT)
        into.append(max(0.0, time.perf_counter() - started - HEARTBEAT))


@contextmanager
def one_connection_store():
    """The store as it was: no term cap and no budget (the connections are chosen at `Store.open`)."""
    saved = store_papers.MAX_SEARCH_TERMS
    store_papers.MAX_SEARCH_TERMS = 10_000
    try:
        yield
    finally:
        store_papers.MAX_SEARCH_TERMS = saved


async def measure(label: str, database: Path, hf_url: str, *, searches: int, rounds: int,
                  one_connection: bool, engine_searches: bool) -> Result:
    options = dict(readers=0, slow_readers=0, search_budget=1e9) if one_connection else {}
    store = await Store.open(database, **options)
    hf = HuggingFaceClient(base_url=hf_url, timeout=10.0)
    try:
        engine = Engine(store=store, lookups=Lookups(store=store, hf=hf, clock=utcnow, answer_timeout=10.0))
        channel = await store.ensure_channel(CHANNEL)
        probe = Probe(store, engine, channel.id)
        result = Result(label, Samples(), Samples())
        text = f"search {worst_query()}"
        terms = parse_query(worst_query()).search_terms()

        def search(caller: str) -> Awaitable[None]:
            if engine_searches:
                return _search(engine, text, caller, result.search_answers)
            return _store_search(store, terms, result.search_answers)

        for _ in range(3):  # warm the caches (SQLite's pages, the engine's look-ups)
            await probe.once(Samples())
        await search("U-warm")
        result.search_answers.clear()
        await _with_heartbeat(result.alone, _baseline(probe, result.alone))
        for round_number in range(rounds):
            started = time.perf_counter()
            running = [asyncio.create_task(search(f"U{round_number}-{n}")) for n in range(searches)]
            await _with_heartbeat(result.loaded, _probe_until_done(probe, result.loaded, running))
            result.search_walls.append(time.perf_counter() - started)
        return result
    finally:
        await hf.aclose()
        await store.close()


async def _baseline(probe: Probe, into: Samples) -> None:
    for _ in range(BASELINE_SAMPLES):
        await probe.once(into)


async def _probe_until_done(probe: Probe, into: Samples, running: list[asyncio.Task]) -> None:
    await asyncio.sleep(0)  # let the searches all start
    while not all(task.done() for task in running):
        await probe.once(into)
    await asyncio.gather(*running)


async def _with_heartbeat(into: Samples, work: Awaitable[None]) -> None:
    stop = asyncio.Event()
    beating = asyncio.create_task(heartbeat(into.loop, stop))
    try:
        await work
    finally:
        stop.set()
        await beating


async def _store_search(store: Store, terms: list[str], answers: Counter) -> None:
    try:
        await store.search_papers(terms)
        answers["results"] += 1
    except SearchTooBroad:
        answers["too broad"] += 1


async def _search(engine: Engine, text: str, caller: str, answers: Counter) -> None:
    reply = await engine.handle(parse_command(text, caller=Caller(id=caller, name=caller), channel=CHANNEL))
    if not isinstance(reply.content, Error):
        answers["results"] += 1
    elif "too much" in reply.content.message or "too broad" in reply.content.message:
        answers["too broad"] += 1
    else:
        answers[f"error: {reply.content.message[:60]}"] += 1


def _now() -> datetime:
    return datetime.now(timezone.utc)


def describe(result: Result) -> None:
    print(f"{result.label}: {len(result.search_walls)} rounds; the searches took "
          f"{', '.join(f'{w:.2f}' for w in result.search_walls)} s; answers {dict(result.search_answers)}")
    for kind, alone in result.alone.kinds().items():
        loaded = result.loaded.kinds()[kind]
        print(f"  {kind:<18} alone p50 {percentile(alone, 0.5) * 1000:7.1f} ms  max {max(alone) * 1000:7.1f} ms   "
              f"under load p50 {percentile(loaded, 0.5) * 1000:7.1f} ms  max {max(loaded) * 1000:7.1f} ms  "
              f"(n={len(loaded)})")


def ratios(result: Result) -> str:
    cells = []
    for kind, alone in result.alone.kinds().items():
        loaded = result.loaded.kinds()[kind]
        if kind == "event loop lag":
            continue
        cells.append(f"{kind} p50 {percentile(loaded, 0.5) / percentile(alone, 0.5):.1f}x, "
                     f"max {max(loaded) / percentile(alone, 0.5):.1f}x")
    return "; ".join(cells)


async def main_async(args: argparse.Namespace) -> None:
    today = _now().date()
    papers = synthetic_papers(args.papers, rng=random.Random(10), today=today)
    with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as tmp:
        database = Path(tmp) / "paperboy.db"
        async with await Store.open(database) as store:
            for start in range(0, len(papers), 500):
                await store.save_papers(papers[start:start + 500])
            channel = await store.ensure_channel(CHANNEL)
            for n, query in enumerate(["model merging", "unlearn*", "diffusion", "llm* OR agent*"]):
                await store.add_topic(channel.id, query, "bench", at=_now())
        size_mb = database.stat().st_size / 1e6
        async with FakeHuggingFace(seed_items(today=today)) as hf:
            results = []
            for engine_searches in (False, True):
                where = "engine searches" if engine_searches else "store searches"
                with one_connection_store():
                    results.append(await measure(f"one connection, every term, no budget; {where}", database,
                                                 hf.base_url, searches=args.searches, rounds=args.rounds,
                                                 one_connection=True, engine_searches=engine_searches))
                results.append(await measure(f"read connections, capped and budgeted; {where}", database,
                                             hf.base_url, searches=args.searches, rounds=args.rounds,
                                             one_connection=False, engine_searches=engine_searches))

    query = worst_query()
    print(f"cpus: {os.cpu_count()}  papers: {args.papers} ({size_mb:.0f} MB)  searches at once: {args.searches}")
    print(f"worst-case search: {len(parse_query(query).search_terms())} prefixes, {query[:60]}…")
    for result in results:
        print()
        describe(result)
    print()
    print("under load / alone p50, same run, same file (max: the slowest under load / the p50 alone):")
    for result in results:
        print(f"  {result.label}:\n    {ratios(result)}")
    print()
    for before, now in (results[0:2], results[2:4]):
        worst = max(before.loaded.state_write + before.loaded.subscribe + before.loaded.command)
        worst_now = max(now.loaded.state_write + now.loaded.subscribe + now.loaded.command)
        where = now.label.split("; ")[1]
        print(f"{where}: slowest write or command under load {worst:.2f} s on one connection, {worst_now:.2f} s "
              f"with read connections (now/before {worst_now / worst:.2f}); longest event-loop stall "
              f"{max(before.loaded.loop):.2f} s / {max(now.loaded.loop):.2f} s; searches done in "
              f"{percentile(before.search_walls, 0.5):.2f} s / {percentile(now.search_walls, 0.5):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=5000, help="papers in the database")
    parser.add_argument("--searches", type=int, default=10, help="worst-case searches fired at once")
    parser.add_argument("--rounds", type=int, default=3, help="times the searches are fired")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
