"""Delivery makespan of one burst with 1, 2 and 4 bot processes sharing one Postgres.

Run from the repository root: ``python bench/processes.py`` (``--help`` for the knobs).

For each process count, a fresh Postgres database gets ``--channels`` Slack channels (spread
over ``--workspaces`` workspaces: with more than one, each is an "Add to Slack" installation
with its own bot token, so Slack's per-workspace limit need not bind), each subscribed to one topic with the seed papers as its baseline; the fake Hugging Face (in this
process) also lists ``--papers`` new papers matching that topic, so one poll queues
channels x papers posts. Then N ``python -m bot run`` processes (Slack HTTP mode, each on its
own port, ``PAPERBOY_POLL_INTERVAL=2``) start on the shared database and deliver to a fake
Slack in this process (per-channel limit 1/s, no workspace limit), as
``tests/test_crash_postgres.py`` does. The makespan runs from the processes' start until the
fake Slack holds every post.

Printed for each N: the makespan, the rate limits' lower bound (posts per channel / per-channel
rate), makespan / bound, the speed-up against 1 process (measured in the same run), and the
bot processes' CPU seconds (user + system) per delivered message, also as a ratio against 1
process: over the whole run (start-up and polls included), and from the first post to the last
(delivery alone, as near as it can be read from outside), with that span's length and speed-up.
Figures only, no pass/fail.

The rate-limit-bound run is the default (20 channels x 15 papers, one workspace). The
CPU-bound one is ``--channels 1000 --workspaces 1000 --papers 3 --processes 1 2``: 3,000
posts whose bound is 2 s, so what the processes cost per message sets the makespan.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # so `python bench/processes.py` finds bot/ and tests/

from bot.model.channels import ChannelRef  # noqa: E402
from bot.ports.store import open_store  # noqa: E402
from paperboy_testing.hf_server import FakeHuggingFace  # noqa: E402
from paperboy_testing.seed import make_item, seed_items  # noqa: E402
from tests.fakes.slack_server import FakeSlack  # noqa: E402
from tests.postgres import fresh_database  # noqa: E402
from tests.test_crash_postgres import free_port, tails  # noqa: E402

TOPIC = "burstbench"
SIGNING_SECRET = "bench-signing-secret"
CHANNEL_RATE = (1, 1.0)  # the fake Slack's per-channel limit: 1 post a second


@dataclass(slots=True)
class Run:
    processes: int
    makespan: float
    delivered: int
    cpu: float
    count_429: int
    delivery_cpu: float
    """CPU seconds from the first post the fake Slack held to the last."""
    delivery_time: float
    """Seconds from the first post the fake Slack held to the last."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process *pid* (psutil when installed, else /proc/<pid>/stat)."""
    try:
        import psutil
    except ImportError:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15)
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def team_of(n: int, workspaces: int) -> str:
    return "T1" if workspaces == 1 else f"T{n % workspaces:05d}"


def token_of(team: str) -> str:
    return f"xoxb-bench-{team}"


async def prepare_database(url: str, *, channels: list[str], seed_ids: list[str], workspaces: int = 1) -> None:
    """Slack channels subscribed to TOPIC, the seed papers as their baseline; one install per workspace."""
    from slack_sdk.oauth.installation_store import Installation

    from adapters.slack.installations import PaperboyInstallationStore

    now = datetime.now(timezone.utc)
    store = await open_store(url)
    try:
        for n, conversation in enumerate(channels):
            channel = await store.ensure_channel(ChannelRef("slack", team_of(n, workspaces), conversation))
            topic = await store.add_topic(channel.id, TOPIC, "bench", at=now)
            await store.mark_baseline_taken([topic.id])
            await store.record_baseline(channel.id, seed_ids, at=now)
        if workspaces > 1:
            installations = PaperboyInstallationStore(store)
            for team in sorted({team_of(n, workspaces) for n in range(len(channels))}):
                await installations.async_save(Installation(
                    app_id="A0PAPERBOY", team_id=team, team_name=f"Team {team}", bot_token=token_of(team),
                    bot_id="B0PAPERBOY", bot_user_id="U0PAPERBOY", bot_scopes=["chat:write", "commands"],
                    user_id="UINSTALLER"))
    finally:
        await store.close()


async def one_run(server: str, processes: int, *, channels: int, papers: int, workdir: Path,
                  timeout: float, workspaces: int = 1) -> Run:
    today = datetime.now(timezone.utc).date()
    seeds = seed_items(today=today)
    new = [make_item(500 + n, f"Burstbench delivery, part {n}", "Many processes, one outbox.", daily=today,
                     paper_id=f"2411.{500 + n:05d}", upvotes=400 + n) for n in range(papers)]
    slack_channels = [f"C{n:08d}" for n in range(channels)]
    wanted = channels * papers
    teams = {team_of(n, workspaces) for n in range(channels)}
    tokens = {"xoxb-test": "T1"} if workspaces == 1 else {token_of(team): team for team in teams}
    async with fresh_database(server) as url, FakeHuggingFace(seeds) as hf, \
            FakeSlack(tokens=tokens, workspace_limit=None, channel_limit=CHANNEL_RATE) as slack:
        await prepare_database(url, channels=slack_channels, seed_ids=[i["paper"]["id"] for i in seeds],
                               workspaces=workspaces)
        for item in new:
            hf.add(item)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))}
        env |= {
            "PYTHONPATH": str(REPO_ROOT), "PAPERBOY_DATABASE": url, "PAPERBOY_HF_API_URL": hf.base_url,
            "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9", "PAPERBOY_POLL_INTERVAL": "2",
            "PAPERBOY_MAX_POSTS_PER_HOUR": str(papers + 1000), "PAPERBOY_LOG_LEVEL": "WARNING",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET, "PAPERBOY_SLACK_API_URL": slack.api_url,
        }
        env |= ({"SLACK_BOT_TOKEN": "xoxb-test"} if workspaces == 1 else
                {"SLACK_CLIENT_ID": "bench-client-id", "SLACK_CLIENT_SECRET": "bench-client-secret"})
        logs = [workdir / f"p{processes}-bot{n}.log" for n in range(processes)]
        bots: list[asyncio.subprocess.Process] = []

        def count() -> int:
            return sum(len(slack.posted_paper_ids(c)) for c in slack_channels)

        try:
            started = time.monotonic()
            for n in range(processes):
                cwd = workdir / f"p{processes}-run{n}"  # its own cwd: no .env, its own paperboy.log
                cwd.mkdir(exist_ok=True)
                with logs[n].open("ab") as log:
                    bots.append(await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "bot", "run", env=env | {"PAPERBOY_SLACK_PORT": str(free_port())},
                        cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log))
            deadline = started + timeout
            first_post_cpu, first_post_at = None, started
            while count() < wanted and time.monotonic() < deadline:
                if any(b.returncode is not None for b in bots):
                    raise RuntimeError(f"a bot process exited early\n{tails(logs)}")
                if first_post_cpu is None and count():
                    first_post_cpu = sum(cpu_seconds(b.pid) for b in bots)
                    first_post_at = time.monotonic()
                await asyncio.sleep(0.02)
            makespan = time.monotonic() - started
            delivered = count()
            if delivered < wanted:
                print(f"  ! {processes} processes: only {delivered}/{wanted} posts after {timeout:.0f} s\n"
                      f"{tails(logs, 1500)}", file=sys.stderr)
            cpu = sum(cpu_seconds(b.pid) for b in bots)
            for b in bots:
                b.send_signal(signal.SIGTERM)
            for b in bots:
                await asyncio.wait_for(b.wait(), 30)
        finally:
            for b in bots:
                if b.returncode is None:
                    b.kill()
                    await b.wait()
        return Run(processes, makespan, delivered, cpu, slack.count_429, cpu - (first_post_cpu or 0.0),
                   started + makespan - first_post_at)


async def bench(args: argparse.Namespace) -> None:
    import pgserver

    folder = tempfile.mkdtemp(prefix="paperboy-bench-pg-")
    server = pgserver.get_server(folder, cleanup_mode="delete")
    workdir = Path(tempfile.mkdtemp(prefix="paperboy-bench-procs-"))
    try:
        uri = server.get_uri()
        runs = []
        for processes in args.processes:
            runs.append(await one_run(uri, processes, channels=args.channels, papers=args.papers,
                                      workdir=workdir, timeout=args.timeout, workspaces=args.workspaces))
    finally:
        server.cleanup()
    count, per = CHANNEL_RATE
    bound = (args.papers - 1) // count * per  # the first post goes at once
    posts = args.channels * args.papers
    if args.workspaces == 1:  # Paperboy paces itself to Slack's 300 posts a minute per workspace
        bound = max(bound, (posts - 1) // 300 * 60.0)
    print(f"{args.channels} Slack channels in {args.workspaces} workspace(s) x {args.papers} new papers = {posts} "
          f"posts; fake Slack {count}/{per:g}s per channel, no workspace limit; PAPERBOY_POLL_INTERVAL=2; "
          f"logs in {workdir}")
    print(f"lower bound (the rate limits Paperboy keeps to): {bound:.1f} s")
    base = runs[0]
    base_cpu = base.cpu / max(base.delivered, 1)
    base_delivery = base.delivery_cpu / max(base.delivered, 1)
    print(f"{'procs':>5} {'delivered':>9} {'makespan s':>10} {'/ bound':>7} {'speed-up':>8} "
          f"{'CPU s':>7} {'CPU ms/msg':>10} {'vs base':>7} {'delivery s':>10} {'speed-up':>8} "
          f"{'delivery ms/msg':>15} {'vs base':>7} {'429s':>5}")
    for run in runs:
        per_msg = run.cpu / max(run.delivered, 1)
        delivery = run.delivery_cpu / max(run.delivered, 1)
        print(f"{run.processes:>5} {run.delivered:>9} {run.makespan:>10.2f} {run.makespan / bound:>7.2f} "
              f"{base.makespan / run.makespan:>8.2f} {run.cpu:>7.2f} {per_msg * 1000:>10.2f} "
              f"{per_msg / base_cpu:>7.2f} {run.delivery_time:>10.2f} {base.delivery_time / run.delivery_time:>8.2f} "
              f"{delivery * 1000:>15.2f} {delivery / base_delivery:>7.2f} "
              f"{run.count_429:>5}")
    print(f"(speed-up and ratios are against {base.processes} process(es) in this run; the processes, the "
          f"fake Slack and Postgres share {os.cpu_count()} CPU cores)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--channels", type=int, default=20, help="Slack channels (default 20)")
    parser.add_argument("--workspaces", type=int, default=1,
                        help="Slack workspaces the channels are spread over, each its own install (default 1)")
    parser.add_argument("--papers", type=int, default=15, help="new papers, posted to every channel (default 15)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4],
                        help="bot process counts to run; the first is the baseline (default 1 2 4)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on a run after this many seconds")
    args = parser.parse_args(argv)
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
