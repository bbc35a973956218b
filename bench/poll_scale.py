"""Time the poll at many channels, on SQLite and on Postgres, against the old per-channel path.

Run from the repository root: ``python bench/poll_scale.py`` (``--help`` for the knobs), e.g.
``--channels 1000 10000 50000 --postgres-up-to 10000 --baseline-at 1000 10000``.

For each channel count and backend a fresh database gets that many Slack channels, each with
one topic (varied queries built from the seed vocabulary, ``bench/_support.topic_queries``),
its baseline taken and the 92 seed papers recorded as its baseline, all through the store's
own methods; then the bot's run before a restart: one poll of a fake Hugging Face listing the 92
seed papers (it queues nothing: they are every channel's baseline). The fake Hugging Face of the
timed run (in this process) lists the 92 seed papers plus ``--new`` new ones (variations of seed
titles and abstracts). Then ``bot.runtime.app.open_core(settings)`` opens the database as the bot
does after a restart, ``core.poller.warm()`` builds the topics' index as the bot's start-up does
(timed apart: "index"), and ``core.poller.poll_once(deliver=False)`` is timed: the first cycle
(it matches the new papers and queues their posts) and a second one (nothing new). The baseline, in the same run: the old match-and-queue step
(`bench/_old_poll.py`: a transaction per channel) on a copy of the same filled database.

Printed: the setup time, each cycle's seconds (old and new, and the ratio), the posts queued
by each (they must be equal), the SQL statements of each poll (SQLite), and the growth of each
poll from one channel count to the next. Figures only, no pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import urlsplit

import asyncpg

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # so `python bench/poll_scale.py` finds bot/, bench/ and tests/

from bench._old_poll import PerChannelPoller  # noqa: E402
from bench._support import topic_queries  # noqa: E402
from bot.runtime.app import open_core  # noqa: E402
from bot.model.channels import ChannelRef  # noqa: E402
from bot.runtime.settings import Settings  # noqa: E402
from bot.ports.store import open_store  # noqa: E402
from paperboy_testing.hf_server import FakeHuggingFace  # noqa: E402
from paperboy_testing.seed import make_item, seed_items, seed_titles_and_abstracts  # noqa: E402
from tests.postgres import fresh_database, with_database  # noqa: E402

TARGET_FIRST, TARGET_SECOND = 2.0, 0.2


@dataclass(slots=True)
class Polls:
    warm: float
    """Seconds building the topics' index at start-up (`Poller.warm`), before the first poll."""
    first: float
    second: float
    cpu: tuple[float, float]
    """This process's CPU seconds in each poll (the SQLite threads' included, the Postgres server's not)."""
    queued: int
    fetched: int
    statements: tuple[int, int] | None
    """SQL statements run in each poll (SQLite, BEGIN and COMMIT included); None on Postgres."""


@dataclass(slots=True)
class Result:
    backend: str
    channels: int
    setup: float
    old: Polls | None
    new: Polls


def new_items(count: int, *, rng: random.Random) -> list[dict]:
    """*count* new daily items: seed titles and abstracts recombined, fresh ids, today's list."""
    today = datetime.now(timezone.utc).date()
    pairs = seed_titles_and_abstracts()
    items = []
    for n in range(count):
        title, abstract = pairs[n % len(pairs)]
        _, other = rng.choice(pairs)
        sentences = abstract.split(". ") + other.split(". ")
        rng.shuffle(sentences)
        items.append(make_item(300 + n, f"{title} (revisited)", ". ".join(sentences), daily=today,
                               paper_id=f"2412.{900 + n:05d}", upvotes=50 + n))
    return items


async def fill(database: str, *, queries: list[str], seed_ids: list[str], concurrency: int) -> float:
    """Create one channel per query through the store's methods; return the seconds it took."""
    now = datetime.now(timezone.utc)
    started = time.monotonic()
    store = await open_store(database)
    try:
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int, query: str) -> None:
            async with gate:
                channel = await store.ensure_channel(ChannelRef("slack", f"T{n % 50:02d}", f"C{n:09d}"))
                topic = await store.add_topic(channel.id, query, "bench", at=now)
                await store.mark_baseline_taken([topic.id])
                await store.record_baseline(channel.id, seed_ids, at=now)

        await asyncio.gather(*(one(n, q) for n, q in enumerate(queries)))
    finally:
        await store.close()
    return time.monotonic() - started


async def _count_statements(store: object) -> list[int] | None:
    """Count every statement the SQLite store's connections run (a bench's look inside; None on Postgres)."""
    conns = [getattr(store, "_conn", None)] + [r.conn for pool in (getattr(store, "_readers", None),
                                                                    getattr(store, "_slow_readers", None))
                                                for r in (pool._all if pool else ())]
    if conns[0] is None or not hasattr(conns[0], "set_trace_callback"):
        return None
    count = [0]

    def seen(sql: str) -> None:
        if not sql.startswith("--"):  # a statement of ours, not one SQLite runs for it (the FTS index's)
            count[0] += 1

    for conn in conns:
        await conn.set_trace_callback(seen)
    return count


async def time_polls(database: str, hf_url: str, *, old: bool) -> Polls:
    """Open the core on *database* as the bot does; time a first poll and a second (nothing new)."""
    settings = Settings(database=database, hf_api_url=hf_url, arxiv_api_url="http://127.0.0.1:9",
                        _env_file=None)  # type: ignore[call-arg]
    async with open_core(settings) as core:
        if old:
            core.poller.__class__ = PerChannelPoller
        started = time.monotonic()
        await core.poller.warm()  # as the bot does at start-up, before its first poll
        warm = time.monotonic() - started
        count = await _count_statements(core.store)
        times, cpu, statements = [], [], []
        for _ in range(2):
            before = count[0] if count else 0
            started, cpu_started = time.monotonic(), time.process_time()
            report = await core.poller.poll_once(deliver=False)
            times.append(time.monotonic() - started)
            cpu.append(time.process_time() - cpu_started)
            statements.append(count[0] - before if count else 0)
            if len(times) == 1:
                first = report
    return Polls(warm, times[0], times[1], (cpu[0], cpu[1]), len(first.enqueued), first.fetched, tuple(statements) if count else None)


@asynccontextmanager
async def copied(backend: str, database: str, server: str | None) -> AsyncIterator[str]:
    """A copy of the filled *database*, for the old path to run on the same data; removed after."""
    if backend == "sqlite":
        copy = database + ".old.db"
        with sqlite3.connect(database) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        yield copy
        return
    name = f"old_{urlsplit(database).path.lstrip('/')}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{urlsplit(database).path.lstrip("/")}"')
    finally:
        await admin.close()
    try:
        yield with_database(server, name)
    finally:
        admin = await asyncpg.connect(server)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def settle(database: str, hf_url: str) -> None:
    """The bot's run before the restart being timed: one poll of the lists as they were (the seed papers),
    which every channel has had since its baseline. It queues nothing, and leaves what a poll leaves."""
    settings = Settings(database=database, hf_api_url=hf_url, arxiv_api_url="http://127.0.0.1:9",
                        _env_file=None)  # type: ignore[call-arg]
    async with open_core(settings) as core:
        report = await core.poller.poll_once(deliver=False)
    assert not report.enqueued, "the seed papers are every channel's baseline: nothing to queue"


async def one_backend(backend: str, database: str, hf_url: str, *, queries: list[str], seed_ids: list[str],
                      concurrency: int, server: str | None, baseline: bool, before_url: str) -> Result:
    setup = await fill(database, queries=queries, seed_ids=seed_ids, concurrency=concurrency)
    await settle(database, before_url)
    old = None
    if baseline:
        async with copied(backend, database, server) as copy:
            old = await time_polls(copy, hf_url, old=True)
    return Result(backend, len(queries), setup, old, await time_polls(database, hf_url, old=False))


async def one_size(channels: int, args: argparse.Namespace, server: str | None) -> list[Result]:
    rng = random.Random(args.seed)  # the queries, then the new papers: as the bench always drew them
    queries = topic_queries(channels, rng=rng)
    seeds = seed_items()
    seed_ids = [i["paper"]["id"] for i in seeds]
    async with FakeHuggingFace(seeds) as before, FakeHuggingFace(seeds) as hf:
        for item in new_items(args.new, rng=rng):
            hf.add(item)
        return await _one_size(queries, hf.base_url, seed_ids, args, server, before_url=before.base_url)


async def _one_size(queries: list[str], hf_url: str, seed_ids: list[str], args: argparse.Namespace,
                    server: str | None, *, before_url: str) -> list[Result]:
    channels = len(queries)
    results: list[Result] = []
    options = dict(queries=queries, seed_ids=seed_ids, concurrency=args.concurrency,
                   baseline=channels in args.baseline_at, before_url=before_url)
    if "sqlite" in args.backends:
        folder = Path(tempfile.mkdtemp(prefix="paperboy-bench-poll-"))
        results.append(await one_backend("sqlite", str(folder / "paperboy.db"), hf_url, server=None, **options))
        shutil.rmtree(folder, ignore_errors=True)
    if server is not None and channels <= args.postgres_up_to:
        async with fresh_database(server) as url:
            results.append(await one_backend("postgres", url, hf_url, server=server, **options))
    return results


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(f"one topic per channel, a baseline of 92 seed papers each; fake Hugging Face lists 92 seed + {args.new} "
          "new papers, after a poll of the seeds alone. index: built at start-up; poll 1 queues the matches; poll 2 finds nothing new.")
    print("old: the per-channel path of before (bench/_old_poll.py), on a copy of the same database, same run;"
          " cpu: this process's CPU seconds (SQLite's threads included, the Postgres server not)")
    print(f"{'backend':>8} {'channels':>8} {'setup':>6} {'index':>6} | {'old 1':>7} {'poll 1':>7} {'x':>5} {'cpu 1':>6} "
          f"{'old cpu':>7} | {'old 2':>6} {'poll 2':>6} {'x':>5} {'cpu 2':>6} | {'queued':>6} {'old q':>6} | "
          f"{'SQL 1':>5} {'SQL 2':>5} {'old SQL 1':>9}")
    dash = "-"
    for r in results:
        o, n = r.old, r.new
        sql = n.statements or (dash, dash)
        print(f"{r.backend:>8} {r.channels:>8} {r.setup:>6.0f} {n.warm:>6.2f} | "
              f"{f'{o.first:.3f}' if o else dash:>7} {n.first:>7.3f} {f'{o.first / n.first:.1f}' if o else dash:>5} "
              f"{n.cpu[0]:>6.3f} {f'{o.cpu[0]:.3f}' if o else dash:>7} | "
              f"{f'{o.second:.3f}' if o else dash:>6} {n.second:>6.3f} {f'{o.second / n.second:.1f}' if o else dash:>5} "
              f"{n.cpu[1]:>6.3f} | {n.queued:>6} {o.queued if o else dash:>6} | {sql[0]:>5} {sql[1]:>5} "
              f"{o.statements[0] if o and o.statements else dash:>9}")
    for backend in args.backends:
        mine = [r for r in results if r.backend == backend]
        for a, b in zip(mine, mine[1:]):
            print(f"{backend}: {a.channels} -> {b.channels} channels (x{b.channels / a.channels:.0f}): poll 1 "
                  f"x{b.new.first / a.new.first:.1f} (cpu x{b.new.cpu[0] / a.new.cpu[0]:.1f}), "
                  f"poll 2 x{b.new.second / a.new.second:.1f} (cpu x{b.new.cpu[1] / a.new.cpu[1]:.1f})")
    print(f"targets: poll 1 < {TARGET_FIRST} s and poll 2 < {TARGET_SECOND} s at 10000 channels, the same posts "
          "queued as the old path")


async def bench(args: argparse.Namespace) -> None:
    import pgserver

    results: list[Result] = []
    server = (pgserver.get_server(tempfile.mkdtemp(prefix="paperboy-bench-pg-"), cleanup_mode="delete")
              if "postgres" in args.backends else None)
    try:
        for channels in args.channels:
            results += await one_size(channels, args, server.get_uri() if server else None)
    finally:
        if server is not None:
            server.cleanup()
    report(results, args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[1_000, 10_000],
                        help="channel counts to run, one topic each (default 1000 10000)")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--postgres-up-to", type=int, default=10_000,
                        help="run Postgres only up to this many channels (default 10000)")
    parser.add_argument("--baseline-at", type=int, nargs="*", default=[1_000, 10_000],
                        help="channel counts at which the old path runs too (default 1000 10000)")
    parser.add_argument("--new", type=int, default=20, help="new papers beside the 92 seed ones (default 20)")
    parser.add_argument("--concurrency", type=int, default=8, help="setup calls in flight at once (default 8)")
    parser.add_argument("--seed", type=int, default=7, help="random seed for the queries and papers")
    args = parser.parse_args(argv)
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
