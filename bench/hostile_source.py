"""Measure what a hostile Hugging Face costs now: a 50 MB body, and an answer that drips.

Run from the repository root: ``python bench/hostile_source.py`` (``--timeout`` sets the client's
per-read timeout, and so its deadline, 3 x timeout; ``--huge-mb`` the body's size;
``--no-unbounded`` skips the slow old-style read). This process serves a fake Hugging Face on
127.0.0.1; every memory figure comes from a fresh client process, so the fake's own memory is
not counted.

(a) Memory: peak resident memory (``VmHWM``) and peak Python allocations (tracemalloc) of one
``daily(limit=100)`` call answered by the fake's 100-paper page (the baseline), then by a 50 MB
body streamed without a Content-Length, then by one declaring its length. For contrast, the
same 50 MB read the way the client read bodies before the cap (``httpx`` ``get`` then ``json.loads``).
A gzip body of a few tens of KB that inflates to 50 MB is measured too.

(b) Drip: wall time of a ``trending()`` call whose first attempt gets an answer dripping one byte
every 0.2 s (each read beats the timeout; only the deadline ends it) and whose retry is answered,
against a healthy call (the baseline, median of several) and against the deadline. Real sleeps.

Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # so `python bench/hostile_source.py` finds bot/ and tests/

from bench._support import peak_rss_mb, rss_mb  # noqa: E402
from paperboy_testing.hf_server import FakeHuggingFace  # noqa: E402
from paperboy_testing.seed import make_item, seed_items, seed_titles_and_abstracts  # noqa: E402

MEASURE_TIMEOUT = 120.0
HEALTHY_RUNS = 5
CASES = ("page", "huge", "huge_declared", "gzip_bomb", "unbounded")
LABELS = {
    "page": "100-paper page (baseline)",
    "huge": "50 MB, no Content-Length",
    "huge_declared": "50 MB, Content-Length sent",
    "gzip_bomb": "50 MB inflated from gzip",
    "unbounded": "50 MB read as before (no cap)",
}


# -- the client process ----------------------------------------------------------------------


async def measure(case: str, hf_url: str) -> dict[str, object]:
    """Fetch once as *case* says and return the memory figures (MB) and what came of it."""
    import logging

    import httpx

    from bot.sources import HuggingFaceClient, SourceError

    logging.getLogger("bot").setLevel(logging.CRITICAL)  # the refusal is the figure; its warning is noise here
    figures: dict[str, object] = {"imported": rss_mb()}
    tracemalloc.start()
    started = time.perf_counter()
    if case == "unbounded":
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{hf_url}/api/daily_papers", params={"limit": 100}, timeout=60)
        # The fake's huge body is a list that never closes: json.loads builds every item, then fails.
        try:
            outcome = f"{len(json.loads(response.content)):,} items decoded"
        except json.JSONDecodeError:
            outcome = f"read {len(response.content) / 2**20:.0f} MB, decoded it all, then: not JSON"
    else:
        async with HuggingFaceClient(base_url=hf_url, timeout=30.0, max_retries=0) as hf:
            try:
                outcome = f"{len(await hf.daily(limit=100))} papers"
            except SourceError as error:
                outcome = f"refused: {error}"
    figures["seconds"] = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    figures.update(traced_peak=peak / 2**20, peak=peak_rss_mb(), outcome=outcome)
    return figures


async def run_client_process(case: str, fake: FakeHuggingFace) -> dict[str, object]:
    """Queue the fault *case* needs, fetch from a fresh client process, and return its figures."""
    if case in ("huge", "huge_declared", "gzip_bomb"):
        fake.fail_next(case)
    elif case == "unbounded":
        fake.fail_next("huge")
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "--measure", case, "--hf-url", fake.base_url,
        cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), MEASURE_TIMEOUT)
    if process.returncode != 0:
        raise RuntimeError(f"the client process for {case} failed (exit {process.returncode})")
    return json.loads(out.decode().strip().splitlines()[-1])


# -- the drip --------------------------------------------------------------------------------


async def time_drip(fake: FakeHuggingFace, timeout: float) -> dict[str, object]:
    """Time healthy trending() calls and one whose first attempt drips; real sleeps throughout."""
    from bot.sources import HuggingFaceClient

    fake.drip_interval = 0.2
    async with HuggingFaceClient(base_url=fake.base_url, timeout=timeout) as hf:
        healthy = []
        for _ in range(HEALTHY_RUNS):
            started = time.perf_counter()
            await hf.trending(limit=50)
            healthy.append(time.perf_counter() - started)
        fake.fail_next("drip")
        before = len(fake.requests)
        started = time.perf_counter()
        papers = await hf.trending(limit=50)
        dripped = time.perf_counter() - started
        attempts = len(fake.requests) - before
        deadline = hf._deadline
    return {"healthy": statistics.median(healthy), "dripped": dripped, "deadline": deadline,
            "backoff": 0.5, "attempts": attempts, "papers": len(papers)}


# -- the report ------------------------------------------------------------------------------


def served_items() -> list[dict]:
    """The 92 seed papers and 8 new ones of today: a full 100-paper daily page."""
    today = datetime.now(timezone.utc).date()
    pairs = seed_titles_and_abstracts()
    new = [make_item(n, pairs[n][0] + " revisited", pairs[-1 - n][1], daily=today, paper_id=f"2412.{90001 + n}")
           for n in range(8)]
    return seed_items(today=today) + new


def print_report(args: argparse.Namespace, memory: dict[str, dict], drip: dict[str, object]) -> None:
    from bot.sources.http import MAX_BODY

    base = memory["page"]
    print(f"cpus: {os.cpu_count()}  python: {sys.version.split()[0]}  body cap (MAX_BODY): {MAX_BODY / 2**20:g} MB; "
          f"huge body: {args.huge_mb} MB")
    print()
    print("(a) one daily(limit=100) call, each from a fresh client process")
    print(f"{'':<32}{'peak RSS MB':>12}{'ratio':>7}{'traced MB':>11}{'ratio':>8}{'s':>7}  outcome")
    for case in CASES:
        if case not in memory:
            continue
        m = memory[case]
        print(f"{LABELS[case]:<32}{m['peak']:>12.1f}{m['peak'] / base['peak']:>7.2f}{m['traced_peak']:>11.1f}"
              f"{m['traced_peak'] / base['traced_peak']:>8.1f}{m['seconds']:>7.2f}  {m['outcome']}")
    huge = memory["huge"]
    print(f"50 MB body, no Content-Length: peak RSS {huge['peak'] - base['peak']:+.1f} MB over the baseline; "
          f"traced peak {huge['traced_peak'] / (MAX_BODY / 2**20):.2f} of the cap, "
          f"{huge['traced_peak'] / args.huge_mb:.2f} of the body")
    if "unbounded" in memory:
        old = memory["unbounded"]
        print(f"as before (no cap) the same body peaked at {old['peak'] / huge['peak']:.1f}x the capped read's RSS")
    print()
    print(f"(b) trending(limit=50) with timeout {args.timeout:g} s, deadline {drip['deadline']:g} s "
          f"(3 x timeout), backoff {drip['backoff']:g} s; drip 1 byte / 0.2 s")
    print(f"healthy call (median of {HEALTHY_RUNS}, baseline): {drip['healthy'] * 1000:.1f} ms")
    print(f"first attempt drips, retry answers: {drip['dripped']:.2f} s, {drip['attempts']} requests, "
          f"{drip['papers']} papers")
    print(f"  / healthy call = {drip['dripped'] / drip['healthy']:.0f}x; / deadline = "
          f"{drip['dripped'] / drip['deadline']:.2f}; / (deadline + backoff + healthy call) = "
          f"{drip['dripped'] / (drip['deadline'] + drip['backoff'] + drip['healthy']):.2f}")


async def main_async(args: argparse.Namespace) -> None:
    async with FakeHuggingFace(served_items()) as fake:
        fake.huge_bytes = args.huge_mb * 2**20
        memory = {}
        for case in CASES:
            if case == "unbounded" and args.no_unbounded:
                continue
            memory[case] = await run_client_process(case, fake)
        drip = await time_drip(fake, args.timeout)
    print_report(args, memory, drip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=1.0, help="per-read timeout (s); deadline is 3x")
    parser.add_argument("--huge-mb", type=int, default=50)
    parser.add_argument("--no-unbounded", action="store_true", help="skip the old-style unbounded read")
    parser.add_argument("--measure", choices=CASES, help=argparse.SUPPRESS)  # run as the client process
    parser.add_argument("--hf-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.hf_url))), flush=True)
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
