"""Time one poll cycle at many channels, on SQLite and on Postgres.

Run from the repository root: ``python bench/poll_scale.py`` (``--help`` for the knobs).

For each backend a fresh database gets ``--channels`` Slack channels, each with one topic
(varied queries built from the seed vocabulary, ``bench/_support.topic_queries``), its baseline
taken and the 92 seed papers recorded as its baseline, all through the store's own methods.
The fake Hugging Face (in this process) lists the 92 seed papers plus ``--new`` new ones
(variations of seed titles and abstracts). Then ``bot.app.open_core(settings)`` opens the
database as the bot does and ``core.poller.poll_once(deliver=False)`` is timed: the first
cycle (it builds the topic index, matches the new papers and queues their posts) and a
second one (nothing new, the index kept).

Printed: the setup time, each cycle's seconds, the posts queued, and Postgres / SQLite.
Figures only, no pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # so `python bench/poll_scale.py` finds bot/, bench/ and tests/

from bench._support import topic_queries  # noqa: E402
from bot.app import open_core  # noqa: E402
from bot.channels import ChannelRef  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store import open_store  # noqa: E402
from tests.fakes.hf_server import FakeHuggingFace  # noqa: E402
from tests.fakes.seed import make_item, seed_items, seed_titles_and_abstracts  # noqa: E402
from tests.postgres import fresh_database  # noqa: E402


@dataclass(slots=True)
class Result:
    backend: str
    setup: float
    first: float
    second: float
    fetched: int
    queued: int


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


async def one_backend(backend: str, database: str, hf_url: str, *, queries: list[str], seed_ids: list[str],
                      concurrency: int) -> Result:
    setup = await fill(database, queries=queries, seed_ids=seed_ids, concurrency=concurrency)
    settings = Settings(database=database, hf_api_url=hf_url, arxiv_api_url="http://127.0.0.1:9",
                        _env_file=None)  # type: ignore[call-arg]
    async with open_core(settings) as core:
        started = time.monotonic()
        report = await core.poller.poll_once(deliver=False)
        first = time.monotonic() - started
        started = time.monotonic()
        await core.poller.poll_once(deliver=False)
        second = time.monotonic() - started
    return Result(backend, setup, first, second, report.fetched, len(report.enqueued))


async def bench(args: argparse.Namespace) -> None:
    import pgserver

    rng = random.Random(args.seed)
    queries = topic_queries(args.channels, rng=rng)
    seeds = seed_items()
    seed_ids = [i["paper"]["id"] for i in seeds]
    results: list[Result] = []
    async with FakeHuggingFace(seeds) as hf:
        for item in new_items(args.new, rng=rng):
            hf.add(item)
        folder = Path(tempfile.mkdtemp(prefix="paperboy-bench-poll-"))
        results.append(await one_backend("sqlite", str(folder / "paperboy.db"), hf.base_url, queries=queries,
                                         seed_ids=seed_ids, concurrency=args.concurrency))
        server = pgserver.get_server(tempfile.mkdtemp(prefix="paperboy-bench-pg-"), cleanup_mode="delete")
        try:
            async with fresh_database(server.get_uri()) as url:
                results.append(await one_backend("postgres", url, hf.base_url, queries=queries,
                                                 seed_ids=seed_ids, concurrency=args.concurrency))
        finally:
            server.cleanup()
    print(f"{args.channels} channels, one topic each ({len(set(queries))} distinct queries), baseline of "
          f"{len(seed_ids)} seed papers each; fake Hugging Face lists {len(seed_ids)} seed + {args.new} new papers")
    print(f"{'backend':>8} {'setup s':>8} {'poll 1 s':>9} {'poll 2 s':>9} {'fetched':>7} {'queued':>7}")
    for r in results:
        print(f"{r.backend:>8} {r.setup:>8.2f} {r.first:>9.3f} {r.second:>9.3f} {r.fetched:>7} {r.queued:>7}")
    sqlite, postgres = results
    print(f"Postgres / SQLite: poll 1 {postgres.first / sqlite.first:.2f}, poll 2 {postgres.second / sqlite.second:.2f}"
          f", setup {postgres.setup / sqlite.setup:.2f}")
    print("(poll 1 builds the topic index and queues the matches; poll 2 finds nothing new, index kept)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--channels", type=int, default=10_000, help="channels, one topic each (default 10000)")
    parser.add_argument("--new", type=int, default=20, help="new papers beside the 92 seed ones (default 20)")
    parser.add_argument("--concurrency", type=int, default=8, help="setup calls in flight at once (default 8)")
    parser.add_argument("--seed", type=int, default=7, help="random seed for the queries and papers")
    args = parser.parse_args(argv)
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
