"""Time a digest and a realtime burst to 1,000 channels on the fake Discord and the fake Slack.

Run from the repository root: ``python bench/delivery.py`` (``--help`` for the knobs). Each
run is independent: a fresh fake platform (enforcing the real limits with sliding windows)
in this process, and the bot in a child process, as in production: a fresh SQLite file
with the channels, the seed papers cached and the outbox filled, the real adapter (the
discord.py client, or the Bolt app with one installation per Slack team) and the real
`DeliveryWorker`, whose ``drain()`` is timed until every entry is sent.

The runs:

* digest: one digest (``--digest-size`` papers) per channel;
* burst: ``--discord-burst`` / ``--slack-burst`` single posts per channel at once.

Slack channels are spread over ``--slack-teams`` workspaces, each with its own bot token,
so the per-workspace budget is not the only bound.

For each run it prints the messages, the makespan, the limits' lower bound (for every
limit scope: floor((messages in the scope - 1) / count) * per, the largest of them), their
ratio, the 429s the fake answered and their share of all requests; then checks, from the
fake's own log, that every channel got exactly what was queued, in order, once. The target
is a ratio under 1.2 with under 1 % of requests answered 429. ``--time-scale`` divides
every window (the fake's and the adapter's ``limits``) to make the runs shorter.

What a run queues is in ``bench/_delivery_plan.py``, the bot process in ``bench/_delivery_bot.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # so `python bench/delivery.py` finds bot/ and tests/

from bench._delivery_bot import serve_bot  # noqa: E402
from bench._delivery_floor import floor_fake, floor_line, recorded_posts, replay  # noqa: E402
from bot.runtime.collector import collector_paused  # noqa: E402
from bench._delivery_plan import (  # noqa: E402
    Queued, RunSpec, bench_paper_ids, expected_paper_ids, lower_bound, plan, platform_limits, team_id, team_token,
)

TARGET_RATIO = 1.2
TARGET_429_SHARE = 0.01
TARGET_CPU_MS = 1.0
"""Issue 27: the bot's CPU per message, on both Slack runs of its command (Discord's is printed, not targeted)."""
TARGET_BURST_RATIO = 1.5
"""Issue 27: the Slack burst's makespan over its bound, at 1,000 workspaces."""
BEFORE_ISSUE_27 = "slack at 1000 teams: burst 1.36 ms/msg and 2.47x the bound, digest 2.07 ms/msg"
"""The figures issue 27 measured before its changes (`--slack-teams 1000 --channels 1000 --slack-burst 3`)."""
START_TIMEOUT = 60.0
RUN_TIMEOUT = 900.0
"""A run that has not finished after this long is reported as failed, not waited for forever."""

# -- this process: the fake platform and the figures -----------------------------------------


@dataclass
class RunResult:
    platform: str
    run: str
    messages: int
    makespan: float
    bound: float
    bound_why: str
    count_429: int
    requests: int
    cpu: float
    loop_cpu: float
    """Of `cpu`, the event loop's thread."""
    db_cpu: float
    """Of `cpu`, the database's threads (what is left: other threads, threads that ended, rounding)."""
    gc_cpu: float
    """Of `loop_cpu`, the cyclic garbage collector's runs."""
    gc_runs: list[int]
    rounds: int
    fake_cpu: float
    """The fake platform's CPU (this process) meanwhile: on a busy machine it too can set the pace."""
    problems: list[str]
    notes: list[str]
    floor: dict[str, float] | None = None
    """Slack only: the same bodies posted by the HTTP client alone (`bench._delivery_floor`)."""

    @property
    def ratio(self) -> float:
        return self.makespan / self.bound if self.bound > 0 else math.nan

    @property
    def share_429(self) -> float:
        return self.count_429 / self.requests if self.requests else 0.0


async def run_one(spec: RunSpec, workdir: Path, profile: str | None = None) -> RunResult:
    """Serve a fresh fake for *spec*, run the bot process against it, and judge the fake's log."""
    limits = {limit.scope: (limit.count, limit.per) for limit in platform_limits(spec)}
    database = workdir / f"{spec.platform}-{spec.run}.db"
    tokens: dict[str, str] = {}
    if spec.platform == "discord":
        from tests.fakes.discord_server import FakeDiscord

        fake: Any = FakeDiscord(channel_limit=limits["channel"], global_limit=limits["global"])
    else:
        from tests.fakes.slack_server import FakeSlack

        tokens = {team_token(team_id(n)): team_id(n) for n in range(spec.teams)}
        fake = FakeSlack(tokens=tokens, channel_limit=limits["channel"], workspace_limit=limits["workspace"])
    async with fake:
        config: dict[str, Any] = {"spec": asdict(spec), "database": str(database), "api_url": fake.api_url,
                                  "profile": profile and f"{profile}.{spec.platform}-{spec.run}"}
        if spec.platform == "discord":
            config.update(token=fake.token, gateway_url=fake.gateway_url, guild_id=fake.guild_id)
        queued = plan(spec, bench_paper_ids(), guild_id=config.get("guild_id", ""))
        log_path = workdir / f"{spec.platform}-{spec.run}.log"
        with open(log_path, "wb") as log:
            done = await _drive_bot(config, fake, log)
        requests, count_429 = done.pop("requests"), done.pop("count_429")
        problems, notes = check_delivered(fake, queued, done, history=spec.history)
        if problems:
            problems.append(f"bot log: {log_path}")
        posts = recorded_posts(fake) if spec.platform == "slack" else []
    floor = await _measure_floor(posts, tokens, workdir / f"{spec.run}-posts.json") if posts else None
    bound, why = lower_bound(queued, platform_limits(spec))
    return RunResult(spec.platform, spec.run, len(queued), done["makespan"], bound, why, count_429, requests,
                     done["cpu"], done["loop_cpu"], done["db_cpu"], done["gc_cpu"], done["gc_runs"], done["rounds"],
                     done["fake_cpu"], problems, notes, floor)


async def _measure_floor(posts: list[tuple[str, str]], tokens: dict[str, str], path: Path) -> dict[str, float]:
    """Replay *posts* in a child process against a fresh fake with no limits (`bench._delivery_floor`)."""
    path.write_text(json.dumps(posts))
    async with floor_fake(tokens) as fake:
        with collector_paused():
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).resolve()), "--floor", json.dumps([str(path), fake.api_url]),
                cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE)
            out, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    return json.loads(out)


async def _drive_bot(config: dict[str, Any], fake: Any, log: Any) -> dict[str, Any]:
    """Start the bot process, say "go" once it is ready, and return its report plus the fake's counts."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "--serve", json.dumps(config),
        cwd=REPO_ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        ready = await _read_event(process, START_TIMEOUT)
        if ready.get("event") != "ready":
            raise RuntimeError(f"the bot process did not get ready: {ready}")
        before, fake_cpu = _request_counts(fake), time.process_time()
        # The fake stands in for Slack or Discord: its collector's pauses (the whole heap it keeps, every
        # message it accepted, held the bot's requests for 0.17 s, several times a run) are not the bot's.
        with collector_paused():
            process.stdin.write(b"go\n")
            await process.stdin.drain()
            done = await _read_event(process, RUN_TIMEOUT)
        after, done["fake_cpu"] = _request_counts(fake), time.process_time() - fake_cpu
        done["requests"], done["count_429"] = after[0] - before[0], after[1] - before[1]
        return done
    finally:
        if process.returncode is None:
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), START_TIMEOUT)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()


async def _read_event(process: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout)
    if not line:
        raise RuntimeError(f"the bot process exited (code {await process.wait()}); see its log")
    return json.loads(line)


def _request_counts(fake: Any) -> tuple[int, int]:
    """Return (every API request so far, every 429 so far) as the fake counted them."""
    made = len(fake.requests) if hasattr(fake, "requests") else len(fake.calls)
    return made, fake.count_429


def check_delivered(fake: Any, queued: Sequence[Queued], done: dict[str, Any], *, history: int = 0
                    ) -> tuple[list[str], list[str]]:
    """Compare each channel's papers in the fake's log with what was queued; return (problems, notes).

    A paper lost, duplicated or sent to the wrong channel is a problem; the right papers
    in another order only a note (the outbox does not promise order across retries).
    """
    problems, notes = [], []
    if done["failed"]:
        notes.append(f"{done['failed']} sends failed (the adapter gave up) and were retried by the worker")
    wrong, reordered = [], []
    for channel, papers in expected_paper_ids(queued).items():
        got = fake.posted_paper_ids(channel)
        if Counter(got) != Counter(papers):
            wrong.append(f"{channel}: expected {papers}, got {got}")
        elif got != papers:
            reordered.append(f"{channel}: queued {papers}, got {got}")
    if wrong:
        problems.append(f"{len(wrong)} channels did not get exactly what was queued, e.g. {wrong[0]}")
    channels = len(expected_paper_ids(queued))
    if done["outbox"] != {"sent": len(queued) + history * channels}:  # the history was sent before the run
        problems.append(f"the outbox did not end with every entry sent: {done['outbox']}")
    if reordered:
        notes.append(f"{len(reordered)} channels got their papers out of order, e.g. {reordered[0]}")
    return problems, notes


def print_results(results: Sequence[RunResult], *, scale: float, channels: int) -> None:
    """Print one line per run, then what set each bound, and the problems found."""
    print(f"delivery: {channels} channels per run; time scale {scale:g} (every window divided by {scale:g}); "
          f"os.cpu_count() = {os.cpu_count()}")
    header = (f"{'platform':<8} {'run':<6} {'messages':>8} {'makespan':>9} {'bound':>8} {'ratio':>6} "
              f"{'429s':>5} {'requests':>8} {'429 %':>6} {'bot CPU':>8} {'CPU/msg':>8}  check")
    print(header)
    for r in results:
        ratio = f"{r.ratio:6.2f}" if r.bound > 0 else f"{'n/a':>6}"
        print(f"{r.platform:<8} {r.run:<6} {r.messages:>8} {r.makespan:>8.2f}s {r.bound:>7.2f}s {ratio} "
              f"{r.count_429:>5} {r.requests:>8} {100 * r.share_429:>5.2f}% {r.cpu:>7.1f}s "
              f"{1000 * r.cpu / max(r.messages, 1):>6.2f}ms  "
              f"{'ok' if not r.problems else 'FAILED'}")
    for r in results:
        print(f"  {r.platform} {r.run}: bound set by {r.bound_why}; {r.messages / r.makespan:.0f} messages/s; "
              f"{r.rounds} drain() call(s); bot CPU {r.loop_cpu:.2f}s on the event loop thread "
              f"({1000 * r.loop_cpu / max(r.messages, 1):.2f} ms/msg; the garbage collector {r.gc_cpu:.2f}s in "
              f"{'/'.join(map(str, r.gc_runs))} runs of generation 0/1/2), {r.db_cpu:.2f}s on the database's threads "
              f"({1000 * r.db_cpu / max(r.messages, 1):.2f} ms/msg), {r.cpu - r.loop_cpu - r.db_cpu:.2f}s elsewhere; "
              f"the fake platform {r.fake_cpu:.2f}s ({1000 * r.fake_cpu / max(r.messages, 1):.2f} ms/msg)")
        if r.platform == "slack":
            print(floor_line(r.platform, r.run, r.floor, 1000 * r.cpu / max(r.messages, 1)))
        for problem in r.problems:
            print(f"    PROBLEM: {problem}")
        for note in r.notes:
            print(f"    note: {note}")
    print(f"target: ratio < {TARGET_RATIO} and under {100 * TARGET_429_SHARE:g} % of requests answered 429")
    print(issue_27_line(results))


def issue_27_line(results: list[RunResult]) -> str:
    """Issue 27's targets, met or not: CPU per message on the Slack runs of its command, and the burst's ratio."""
    slack = [r for r in results if r.platform == "slack"]
    if not slack:
        return f"target (issue 27): on the Slack runs only (--platform slack); before: {BEFORE_ISSUE_27}"
    cpu_over = [r.run for r in slack if 1000 * r.cpu / max(r.messages, 1) > TARGET_CPU_MS]
    bursts = [r.ratio for r in slack if r.run == "burst" and r.bound > 0]
    ratio = (f"{bursts[0]:.2f} ({'met' if bursts[0] <= TARGET_BURST_RATIO else 'NOT MET'})" if bursts else "n/a")
    return (f"target (issue 27): Slack CPU/msg <= {TARGET_CPU_MS:g} ms on both runs "
            f"({'met' if not cpu_over else 'NOT MET on ' + ', '.join(cpu_over)}); Slack burst ratio <= "
            f"{TARGET_BURST_RATIO:g}: {ratio}; before: {BEFORE_ISSUE_27}")


async def bench(args: argparse.Namespace) -> list[RunResult]:
    """Run every (platform, run) pair asked for, one after the other."""
    platforms = ("discord", "slack") if args.platform == "both" else (args.platform,)
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="paperboy-delivery-"))
    for platform in platforms:
        burst = args.discord_burst if platform == "discord" else args.slack_burst
        for run, per_channel in (("digest", args.digest_size), ("burst", burst)):
            spec = RunSpec(platform, run, args.channels, per_channel, args.slack_teams, args.time_scale, args.history)
            results.append(await run_one(spec, workdir, args.profile))
            print(f"  ... {platform} {run} done in {results[-1].makespan:.1f}s", file=sys.stderr, flush=True)
    if not any(r.problems for r in results):  # otherwise keep the bot logs the problems point to
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", choices=("discord", "slack", "both"), default="both")
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--digest-size", type=int, default=5, help="papers in each channel's digest")
    parser.add_argument("--discord-burst", type=int, default=6, help="single posts per Discord channel")
    parser.add_argument("--slack-burst", type=int, default=3, help="single posts per Slack channel")
    parser.add_argument("--slack-teams", type=int, default=10, help="Slack workspaces the channels are spread over")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="divide every rate-limit window (fake and adapter) by this factor")
    parser.add_argument("--history", type=int, default=0,
                        help="posts each channel sent before the run (a database in use, not a fresh one)")
    parser.add_argument("--profile", metavar="PATH",
                        help="write the bot process's cProfile stats of each run to PATH.<platform>-<run>")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--floor", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        posts_file, api_url = json.loads(args.floor)
        print(json.dumps(asyncio.run(replay(Path(posts_file), api_url))))
        return
    if args.serve:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        asyncio.run(serve_bot(json.loads(args.serve)))
        return
    results = asyncio.run(bench(args))
    print_results(results, scale=args.time_scale, channels=args.channels)
    if any(r.problems for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
