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
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # so `python bench/delivery.py` finds bot/ and tests/

from bot.ports.adapter import RateLimit  # noqa: E402

TARGET_RATIO = 1.2
TARGET_429_SHARE = 0.01
TARGET_CPU_MS = 1.0
"""Issue 27: the bot's CPU per message, on every run."""
TARGET_BURST_RATIO = 1.5
"""Issue 27: the Slack burst's makespan over its bound, at 1,000 workspaces."""
BEFORE_ISSUE_27 = "slack at 1000 teams: burst 1.36 ms/msg and 2.47x the bound, digest 2.07 ms/msg"
"""The figures issue 27 measured before its changes (`--slack-teams 1000 --channels 1000 --slack-burst 3`)."""
START_TIMEOUT = 60.0
RUN_TIMEOUT = 900.0
"""A run that has not finished after this long is reported as failed, not waited for forever."""
DISCORD_CHANNEL_BASE = 1_100_000_000_000_000_000
"""Channel snowflakes well below the fake's own ids, so they never collide."""
DISCORD_LIMITS = (RateLimit("channel", 5, 5.0), RateLimit("global", 50, 1.0))
SLACK_LIMITS = (RateLimit("channel", 1, 1.0), RateLimit("workspace", 300, 60.0))
SLACK_SIGNING_SECRET = "bench-signing-secret"


# -- what a run queues (both processes compute it the same way) ------------------------------


@dataclass(frozen=True, slots=True)
class Queued:
    """One outbox entry of the plan: a channel (workspace, channel id), its kind and its papers."""

    workspace: str
    channel: str
    kind: str  # "digest" or "paper"
    paper_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One benchmark run: platform, run name, sizes and the time scale."""

    platform: str
    run: str
    channels: int
    per_channel: int
    """Digest: papers in each digest; burst: single posts per channel."""
    teams: int
    scale: float


def scaled(limits: Sequence[RateLimit], scale: float) -> tuple[RateLimit, ...]:
    """Return *limits* with every window divided by *scale*."""
    return tuple(RateLimit(limit.scope, limit.count, limit.per / scale) for limit in limits)


def platform_limits(spec: RunSpec) -> tuple[RateLimit, ...]:
    """Return the limits both the fake and the adapter use in *spec*'s run."""
    return scaled(DISCORD_LIMITS if spec.platform == "discord" else SLACK_LIMITS, spec.scale)


def channel_refs(spec: RunSpec, *, guild_id: str = "") -> list[tuple[str, str]]:
    """Return (workspace, channel id) for each channel: one Discord guild, or Slack teams in equal shares."""
    if spec.platform == "discord":
        return [(guild_id, str(DISCORD_CHANNEL_BASE + n)) for n in range(spec.channels)]
    # Slack channel ids are unique across workspaces, as the fake (and Slack) assume.
    return [(team_id(n % spec.teams), f"C{n % spec.teams:02d}X{n:05d}") for n in range(spec.channels)]


def team_id(n: int) -> str:
    return f"T{n:02d}"


def team_token(team: str) -> str:
    return f"xoxb-bench-{team}"


def plan(spec: RunSpec, paper_ids: Sequence[str], *, guild_id: str = "") -> list[Queued]:
    """Return the entries to queue, channel by channel (the order a poll would queue them in).

    Papers rotate through *paper_ids* so neighbouring channels get different ones.
    """
    queued = []
    for n, (workspace, channel) in enumerate(channel_refs(spec, guild_id=guild_id)):
        chosen = tuple(paper_ids[(n + k) % len(paper_ids)] for k in range(spec.per_channel))
        if spec.run == "digest":
            queued.append(Queued(workspace, channel, "digest", chosen))
        else:
            queued.extend(Queued(workspace, channel, "paper", (pid,)) for pid in chosen)
    return queued


def lower_bound(entries: Sequence[Queued], limits: Sequence[RateLimit]) -> tuple[float, str]:
    """Return the shortest makespan the limits allow for *entries*, and the limit that sets it.

    In each scope, n messages need floor((n - 1) / count) full windows between the first
    and the last, since no window of ``per`` seconds may hold more than ``count`` of them.
    """
    best, why = 0.0, "no limit binds"
    for limit in limits:
        per_scope = Counter(_scope_key(entry, limit.scope) for entry in entries)
        for key, n in per_scope.items():
            bound = (n - 1) // limit.count * limit.per
            if bound > best:
                best, why = bound, f"{limit.scope} {limit.count}/{limit.per:g}s ({n} messages in {key})"
    return best, why


def _scope_key(entry: Queued, scope: str) -> str:
    if scope == "channel":
        return f"{entry.workspace}/{entry.channel}"
    if scope == "workspace":
        return entry.workspace
    return "*"


def expected_paper_ids(entries: Sequence[Queued]) -> dict[str, list[str]]:
    """Return each channel's papers in the order its messages must arrive."""
    expected: dict[str, list[str]] = {}
    for entry in entries:
        expected.setdefault(entry.channel, []).extend(entry.paper_ids)
    return expected


def bench_paper_ids() -> list[str]:
    """Return the ids of the seed papers the bot caches (the same list in both processes)."""
    from paperboy_testing.seed import seed_id, seed_items

    return [seed_id(n) for n in range(len(seed_items()))]


# -- the bot process -------------------------------------------------------------------------


class NoEngine:
    """The benchmark delivers; no command reaches an engine."""

    async def handle(self, command: Any) -> Any:
        raise RuntimeError(f"unexpected command {command}")

    async def topic_labels(self, channel: Any) -> list[str]:
        return []


async def serve_bot(config: dict[str, Any]) -> None:
    """Set up the store and adapter, say ready, wait for "go", time ``drain()`` to the end, report."""
    from bot.runtime.collector import freeze_startup
    from bot.delivery.worker import DeliveryWorker
    from storage.sqlite import Store

    spec = RunSpec(**config["spec"])
    async with await Store.open(config["database"]) as store:
        queued = plan(spec, bench_paper_ids(), guild_id=config.get("guild_id", ""))
        await fill_store(store, spec, queued)
        adapter = await start_adapter(spec, config, store)
        try:
            adapter.limits = platform_limits(spec)  # the instance's limits: the class keeps the real ones
            # Let the start-up requests (login, command sync) leave the bot-wide window before the clock starts.
            bot_wide = [limit.per for limit in adapter.limits if limit.scope == "global"]
            await asyncio.sleep(max(bot_wide, default=0.0) + 0.1)
            worker = DeliveryWorker(store=store, adapters={spec.platform: adapter})
            freeze_startup()  # as the bot does once its adapters have started (`bot.runtime.cli`)
            _say({"event": "ready"})
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            profile = _profiler(config.get("profile"))
            collections = CollectorTime()
            cpu, threads, started = time.process_time(), thread_cpu(), time.monotonic()
            rounds = await drain_until_done(worker, store)
            makespan, cpu = time.monotonic() - started, time.process_time() - cpu
            collections.stop()
            split = {kind: seconds - threads.get(kind, 0.0) for kind, seconds in thread_cpu().items()}
            if profile is not None:
                profile.disable()
                profile.dump_stats(config["profile"])
            _say({"event": "done", "makespan": makespan, "cpu": cpu, "loop_cpu": split.get("loop", 0.0),
                  "db_cpu": split.get("database", 0.0), "gc_cpu": collections.seconds,
                  "gc_runs": collections.runs, "rounds": rounds,
                  "sent": worker.totals.sent, "failed": worker.totals.failed,
                  "outbox": await store.outbox_counts()})
        finally:
            await adapter.stop()


def thread_cpu() -> dict[str, float]:
    """Return the CPU seconds of this process's threads so far: the event loop's, the database's (aiosqlite's
    one thread per connection) and the others', each read from its own thread CPU clock."""
    totals: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread is threading.main_thread():
            kind = "loop"
        elif "_connection_worker_thread" in thread.name:
            kind = "database"
        else:
            kind = "other"
        try:
            seconds = time.clock_gettime(time.pthread_getcpuclockid(thread.ident or 0))
        except (OSError, OverflowError):  # ended since it was listed
            continue
        totals[kind] = totals.get(kind, 0.0) + seconds
    return totals


class CollectorTime:
    """The CPU seconds the cyclic garbage collector takes from now on, and its runs per generation."""

    def __init__(self) -> None:
        self.seconds, self.runs, self._started = 0.0, [0, 0, 0], 0.0
        gc.callbacks.append(self._seen)

    def _seen(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
            self.runs[info["generation"]] += 1
        else:
            self.seconds += time.thread_time() - self._started

    def stop(self) -> None:
        gc.callbacks.remove(self._seen)


def _profiler(path: str | None) -> Any:
    """Start cProfile for the timed part when ``--profile`` names a file for its stats."""
    if not path:
        return None
    import cProfile

    # The event loop thread's CPU time, not the wall clock: waits for the GIL or the machine are not its cost.
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    return profile


async def fill_store(store: Any, spec: RunSpec, queued: Sequence[Queued]) -> None:
    """Cache the seed papers, create the channels and queue *queued* as the poller would."""
    from paperboy_testing.seed import seed_papers
    from bot.model.channels import ChannelRef

    now = datetime.now(timezone.utc)
    await store.save_papers(seed_papers())
    channel_ids: dict[str, int] = {}
    for entry in queued:
        if entry.channel not in channel_ids:
            stored = await store.ensure_channel(ChannelRef(spec.platform, entry.workspace, entry.channel))
            channel_ids[entry.channel] = stored.id
    if spec.run == "digest":
        for entry in queued:
            await store.enqueue_digest(channel_ids[entry.channel], tag=f"digest:{now:%Y-%m-%d}",
                                       title=f"Paperboy digest for {now:%Y-%m-%d}", top=entry.paper_ids,
                                       skipped=(), at=now)
        return
    by_channel: dict[str, list[tuple[str, str | None, int | None]]] = {}
    for entry in queued:
        by_channel.setdefault(entry.channel, []).append((entry.paper_ids[0], "matched a bench topic", None))
    for channel, matches in by_channel.items():
        await store.enqueue_posts(channel_ids[channel], matches, at=now, max_per_hour=len(matches) + 1000)


async def start_adapter(spec: RunSpec, config: dict[str, Any], store: Any) -> Any:
    """Start the real adapter against the fake: the discord.py client, or Bolt with per-team installs."""
    from pydantic import SecretStr

    from bot.runtime.settings import Settings

    base = Settings(_env_file=None, database=config["database"], http_timeout=30.0)  # type: ignore[call-arg]
    if spec.platform == "discord":
        from adapters.discord import DiscordAdapter

        settings = base.model_copy(update={
            "discord_token": SecretStr(config["token"]), "discord_api_url": config["api_url"],
            "discord_gateway_url": config["gateway_url"],
        })
        adapter: Any = DiscordAdapter(settings, NoEngine())
    else:
        from adapters.slack import SlackAdapter

        settings = base.model_copy(update={
            "slack_api_url": config["api_url"], "slack_signing_secret": SecretStr(SLACK_SIGNING_SECRET),
            "slack_client_id": "bench-client-id", "slack_client_secret": SecretStr("bench-client-secret"),
        })
        adapter = SlackAdapter(settings, NoEngine(), host="127.0.0.1", port=0, store=store)
        await save_installations(adapter, spec)
    await adapter.start()
    return adapter


async def save_installations(adapter: Any, spec: RunSpec) -> None:
    """Record one "Add to Slack" installation per team, as the OAuth flow would have stored it."""
    from slack_sdk.oauth.installation_store import Installation

    for n in range(spec.teams):
        team = team_id(n)
        await adapter.installation_store.async_save(Installation(
            app_id="A0PAPERBOY", team_id=team, team_name=f"Team {team}", bot_token=team_token(team),
            bot_id="B0PAPERBOY", bot_user_id="U0PAPERBOY", bot_scopes=["chat:write"], user_id="UINSTALLER",
        ))


async def drain_until_done(worker: Any, store: Any) -> int:
    """Call ``drain()`` until nothing is pending or sending, sleeping to each retry time; return the rounds."""
    rounds = 0
    while True:
        await worker.drain()
        rounds += 1
        counts = await store.outbox_counts()
        if not counts.get("pending") and not counts.get("sending"):
            return rounds
        due = await store.next_outbox_retry(now=datetime.now(timezone.utc))
        wait = (due - datetime.now(timezone.utc)).total_seconds() if due else 0.05
        await asyncio.sleep(min(max(wait, 0.05), 60.0))


def _say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


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
        problems, notes = check_delivered(fake, queued, done)
        if problems:
            problems.append(f"bot log: {log_path}")
    bound, why = lower_bound(queued, platform_limits(spec))
    return RunResult(spec.platform, spec.run, len(queued), done["makespan"], bound, why, count_429, requests,
                     done["cpu"], done["loop_cpu"], done["db_cpu"], done["gc_cpu"], done["gc_runs"], done["rounds"],
                     done["fake_cpu"], problems, notes)


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


def check_delivered(fake: Any, queued: Sequence[Queued], done: dict[str, Any]) -> tuple[list[str], list[str]]:
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
    if done["outbox"] != {"sent": len(queued)}:
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
        for problem in r.problems:
            print(f"    PROBLEM: {problem}")
        for note in r.notes:
            print(f"    note: {note}")
    print(f"target: ratio < {TARGET_RATIO} and under {100 * TARGET_429_SHARE:g} % of requests answered 429")
    cpu_over = [f"{r.platform} {r.run}" for r in results if 1000 * r.cpu / max(r.messages, 1) > TARGET_CPU_MS]
    print(f"target (issue 27): CPU/msg <= {TARGET_CPU_MS:g} ms on every run "
          f"({'met' if not cpu_over else 'over on ' + ', '.join(cpu_over)}); Slack burst ratio <= "
          f"{TARGET_BURST_RATIO:g}; before: {BEFORE_ISSUE_27}")


async def bench(args: argparse.Namespace) -> list[RunResult]:
    """Run every (platform, run) pair asked for, one after the other."""
    platforms = ("discord", "slack") if args.platform == "both" else (args.platform,)
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="paperboy-delivery-"))
    for platform in platforms:
        burst = args.discord_burst if platform == "discord" else args.slack_burst
        for run, per_channel in (("digest", args.digest_size), ("burst", burst)):
            spec = RunSpec(platform, run, args.channels, per_channel, args.slack_teams, args.time_scale)
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
    parser.add_argument("--profile", metavar="PATH",
                        help="write the bot process's cProfile stats of each run to PATH.<platform>-<run>")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
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
