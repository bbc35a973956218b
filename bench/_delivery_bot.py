"""The delivery benchmark's bot process: the real adapter and `DeliveryWorker` on a filled store, timed.

Not a benchmark itself; ``bench/delivery.py`` runs it as ``--serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from bench._delivery_plan import (
    SLACK_SIGNING_SECRET, Queued, RunSpec, bench_paper_ids, bench_why, plan, platform_limits, team_id, team_token,
)


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
            await asyncio.to_thread(settle_file, config["database"])
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


def settle_file(path: str) -> None:
    """Move the set-up's writes from the log into the file now: that checkpoint is the filling's work, not the
    delivery's (the store's background checkpoint would otherwise run it inside the timed drain)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


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
    """Cache the seed papers, create the channels and queue *queued* as the poller would, each match with
    its channel's own reason (`bench_why`), as a digest's papers wait in the ledger until it is queued."""
    from paperboy_testing.seed import seed_papers
    from bot.model.channels import ChannelRef

    now = datetime.now(timezone.utc)
    papers = {paper.id: paper for paper in seed_papers()}
    await store.save_papers(list(papers.values()))
    channel_ids: dict[str, int] = {}
    for entry in queued:
        if entry.channel not in channel_ids:
            stored = await store.ensure_channel(ChannelRef(spec.platform, entry.workspace, entry.channel))
            channel_ids[entry.channel] = stored.id
    await fill_history(store, list(channel_ids.values()), spec.history, now - timedelta(days=30))
    position = {channel: n for n, channel in enumerate(channel_ids)}
    matches: dict[str, list[tuple[str, str | None, int | None]]] = {}
    for entry in queued:
        matches.setdefault(entry.channel, []).extend(
            (pid, bench_why(papers[pid], position[entry.channel]), None) for pid in entry.paper_ids)
    if spec.run == "digest":
        await store.enqueue_matches({}, {channel_ids[c]: m for c, m in matches.items()}, at=now, max_per_hour=1000)
        for entry in queued:
            await store.enqueue_digest(channel_ids[entry.channel], tag=f"digest:{now:%Y-%m-%d}",
                                       title=f"Paperboy digest for {now:%Y-%m-%d}", top=entry.paper_ids,
                                       skipped=(), at=now)
        return
    for channel, found in matches.items():
        await store.enqueue_posts(channel_ids[channel], found, at=now, max_per_hour=len(found) + 1000)


async def fill_history(store: Any, channel_ids: Sequence[int], posts: int, at: datetime) -> None:
    """Give each channel *posts* sent posts of papers of its own, queued, claimed and settled as the worker does."""
    from bot.model.rows import Settlement

    if posts <= 0:
        return
    for channel_id in channel_ids:
        await store.enqueue_posts(channel_id, [(f"past-{channel_id}-{n}", None, None) for n in range(posts)], at=at,
                                  max_per_hour=posts + 1)
    # A channel's posts are claimed one at a time, oldest first, as the worker claims them.
    while entries := await store.due_outbox(now=at + timedelta(days=1), limit=len(channel_ids), per_channel=1):
        claimed = await store.claim_outbox_many([e.id for e in entries])
        if not claimed:
            raise RuntimeError("the bench's history could not be claimed")  # rather than loop for ever
        await store.mark_outbox_sent_many([Settlement(i, f"past-{i}", at) for i in claimed])


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

