"""Measure the bot process's resident memory with 10,000 channels, 30,000 topics and 20,000 papers.

Run from the repository root: ``python bench/memory.py`` (``--channels``, ``--topics``,
``--papers`` change the sizes). The parent fills a SQLite file through `storage.sqlite.Store`,
serves ~100 papers from a fake Hugging Face on 127.0.0.1, and starts a fresh bot process
twice: on an empty database (the baseline) and on the filled one. Each bot process
imports the core, then both adapters' modules (discord.py, slack-bolt: what a bot running
both platforms holds), opens the core (`open_core`) and runs one poll cycle; it reports its
current ``VmRSS`` after each step. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # so `python bench/memory.py` finds bot/ and tests/

from bench._support import peak_rss_mb, rss_mb, seed_papers, synthetic_papers, topic_queries  # noqa: E402

# The parent's own tools (the store it fills, the fake Hugging Face and its aiohttp server) are
# imported where the parent uses them: the bot process holds only what a bot holds.

TARGET_MB = 150.0
PLATFORM = "bench"
"""No adapter is registered for this platform, so the poll cycle queues posts but sends nothing."""
TOPICS_PER_CHANNEL_MAX = 25
NEW_PAPERS_PER_POLL = 8
PAPER_BATCH = 500
MEASURE_TIMEOUT = 240.0
ADAPTER_MODULES = ("adapters.discord.adapter", "adapters.slack.adapter")
"""The modules a bot creating both adapters has loaded (the adapter packages alone load no library)."""


# -- the bot process -----------------------------------------------------------------------


async def measure(database: Path, hf_url: str) -> dict[str, object]:
    """Open the core on *database*, run one poll cycle, and return RSS after each step (MB)."""
    figures: dict[str, object] = {"started": rss_mb()}
    from bot.runtime.app import open_core
    from bot.runtime.settings import Settings

    figures["core"] = rss_mb()
    for module in ADAPTER_MODULES:
        importlib.import_module(module)  # a real bot process has its adapters' libraries loaded
    figures["imported"] = rss_mb()
    settings = Settings(_env_file=None, database=database, hf_api_url=hf_url,  # type: ignore[call-arg]
                        arxiv_api_url=hf_url)
    async with open_core(settings) as core:
        figures["opened"] = rss_mb()
        started = time.perf_counter()
        report = await core.poller.poll_once()
        figures["poll_seconds"] = time.perf_counter() - started
        figures["fetched"] = report.fetched
        figures["enqueued"] = len(report.enqueued)
        figures["poll_errors"] = report.errors
        gc.collect()
        figures["polled"] = rss_mb()
        figures["peak"] = peak_rss_mb()
        # Keep the core open while measuring: what it holds is what a running bot holds.
    return figures


def measure_main(database: Path, hf_url: str) -> None:
    print(json.dumps(asyncio.run(measure(database, hf_url))), flush=True)


async def run_bot_process(database: Path, hf_url: str) -> dict[str, object]:
    """Start a fresh bot process on *database* and return the figures it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "--measure", str(database), "--hf-url", hf_url,
        cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), MEASURE_TIMEOUT)
    if process.returncode != 0:
        raise RuntimeError(f"the bot process failed (exit {process.returncode})")
    return json.loads(out.decode().strip().splitlines()[-1])


# -- filling the database ----------------------------------------------------------------


async def populate(database: Path, *, channels: int, topics: int, papers: int,
                   rng: random.Random) -> tuple[dict[str, float], dict[str, int]]:
    """Fill *database* through the store's own methods; return seconds per step and what was stored."""
    from bot.model.channels import ChannelRef
    from storage.sqlite import Store

    today = datetime.now(timezone.utc).date()
    now = datetime.now(timezone.utc)
    seen = [p.id for p in seed_papers(today=today)]
    queries = topic_queries(topics, rng=rng)
    timings: dict[str, float] = {}
    async with await Store.open(database) as store:
        started = time.perf_counter()
        rows = [await store.ensure_channel(ChannelRef(PLATFORM, f"W{n % 50}", f"C{n:06d}")) for n in range(channels)]
        timings["channels"] = time.perf_counter() - started

        started = time.perf_counter()
        topic_ids: list[int] = []
        for n, query in enumerate(queries):
            channel = rows[n % channels]
            topic = await store.add_topic(channel.id, query, "bench", at=now, added_by_id="U1")
            topic_ids.append(topic.id)
        # Steady state: every topic took its baseline when added, so only new papers can match.
        await store.mark_baseline_taken(topic_ids)
        timings["topics"] = time.perf_counter() - started

        started = time.perf_counter()
        for channel in rows:
            await store.record_baseline(channel.id, seen, at=now)
        timings["baselines"] = time.perf_counter() - started

        started = time.perf_counter()
        cached = synthetic_papers(papers, rng=rng, today=today)
        for start in range(0, len(cached), PAPER_BATCH):
            await store.save_papers(cached[start:start + PAPER_BATCH])
        timings["papers"] = time.perf_counter() - started
    stored = {"topics": len(set(topic_ids)), "distinct_queries": len(set(queries)),
              "ledger_rows": len(seen) * channels}
    return timings, stored


def served_items() -> list[dict]:
    """Return the ~100 daily items the fake serves: the 92 seed papers and a few new ones of today."""
    from paperboy_testing.seed import make_item, seed_items, seed_titles_and_abstracts

    today = datetime.now(timezone.utc).date()
    pairs = seed_titles_and_abstracts()
    new = [make_item(n, pairs[n][0] + " revisited", pairs[-1 - n][1], daily=today, paper_id=f"2412.{90001 + n}")
           for n in range(NEW_PAPERS_PER_POLL)]
    return seed_items(today=today) + new


# -- the report ----------------------------------------------------------------------------


def print_report(args: argparse.Namespace, timings: dict[str, float], stored: dict[str, int], db_mb: float,
                 empty: dict, loaded: dict) -> None:
    print(f"cpus: {os.cpu_count()}  python: {sys.version.split()[0]}")
    print(f"loaded database: {args.channels:,} channels, {stored['topics']:,} topics "
          f"({stored['distinct_queries']:,} distinct queries), {args.papers:,} synthetic papers + the poll's ~100, "
          f"{stored['ledger_rows']:,} baseline ledger rows; {db_mb:.0f} MB file")
    print("fill time (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print()
    print(f"{'RSS (MB)':<34}{'empty':>10}{'loaded':>10}{'ratio':>8}")
    for key, label in (("started", "interpreter and bench helpers"), ("core", "after the core's imports"),
                       ("imported", "after the adapters' imports"), ("opened", "after open_core"),
                       ("polled", "after one poll cycle"), ("peak", "peak (VmHWM)")):
        print(f"{label:<34}{empty[key]:>10.1f}{loaded[key]:>10.1f}{loaded[key] / empty[key]:>8.2f}")
    growth = loaded["polled"] - empty["polled"]
    print()
    print(f"poll cycle: empty {empty['poll_seconds']:.2f} s ({empty['enqueued']} queued), "
          f"loaded {loaded['poll_seconds']:.2f} s ({loaded['enqueued']:,} queued), "
          f"{loaded['fetched']} papers fetched; errors: {loaded['poll_errors'] or 'none'}")
    print(f"data adds {growth:.1f} MB; loaded RSS {loaded['polled']:.1f} MB is "
          f"{loaded['polled'] / TARGET_MB:.2f} of the {TARGET_MB:.0f} MB target "
          f"(peak {loaded['peak'] / TARGET_MB:.2f})")


async def main_async(args: argparse.Namespace) -> None:
    from paperboy_testing.hf_server import FakeHuggingFace

    rng = random.Random(6)
    with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as tmp:
        empty_db, loaded_db = Path(tmp) / "empty.db", Path(tmp) / "loaded.db"
        timings, stored = await populate(loaded_db, channels=args.channels, topics=args.topics,
                                         papers=args.papers, rng=rng)
        db_mb = loaded_db.stat().st_size / 2**20
        async with FakeHuggingFace(served_items()) as hf:
            empty = await run_bot_process(empty_db, hf.base_url)
            loaded = await run_bot_process(loaded_db, hf.base_url)
        print_report(args, timings, stored, db_mb, empty, loaded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--topics", type=int, default=30_000)
    parser.add_argument("--papers", type=int, default=20_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # run as the bot process
    parser.add_argument("--hf-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure_main(args.measure, args.hf_url)
        return
    if args.topics > args.channels * TOPICS_PER_CHANNEL_MAX:
        parser.error(f"at most {TOPICS_PER_CHANNEL_MAX} topics per channel")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
