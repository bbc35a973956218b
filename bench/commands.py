"""Time 200 concurrent ``/papers`` slash commands through the real Slack adapter and engine.

Run from the repository root: ``python bench/commands.py`` (``--count`` and ``--delay`` change
the load and the fake source's answer time). The bot runs in its own process, as in
production: the real Bolt app in HTTP mode on 127.0.0.1 and the real core (`open_core`, a
fresh SQLite file, default settings). This process plays Slack and Hugging Face: it serves
a fake Hugging Face that takes ``--delay`` seconds per answer and a fake Slack whose
``response_url`` notes when each answer arrives, and fires the signed commands all at once.

Run 1 starts with an empty cache; run 2 repeats the same mix on the same database, the
source still slow. For each it prints the time to acknowledgement (HTTP 200 from
``/slack/events``; Slack gives up after 3 s) and to the answer (the POST to ``response_url``).
Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # so `python bench/commands.py` finds bot/ and tests/

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bench._support import percentile, seed_vocabulary  # noqa: E402
from paperboy_testing.hf_server import FakeHuggingFace  # noqa: E402
from paperboy_testing.seed import seed_id, seed_items  # noqa: E402
from tests.fakes.slack_server import FakeSlack, signed_headers, slash_command_body  # noqa: E402

SECRET = "bench-signing-secret"
SLACK_DEADLINE = 3.0
ACK_TARGET_P99 = 1.0
ANSWER_WAIT = 60.0
"""How long a run waits for the last answer before counting the rest as lost."""
START_TIMEOUT = 30.0
CACHED_NOTE = "showing cached results"
"""What the engine's note says when the source missed the answer deadline and the cache answered."""
CHANNELS = 20


# -- the bot process -----------------------------------------------------------------------


async def serve_bot(config: dict[str, str]) -> None:
    """Run the Slack adapter over the real core until stdin closes; print the port first."""
    from adapters.slack import SlackAdapter
    from bot.runtime.app import open_core
    from bot.runtime.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database=config["database"], hf_api_url=config["hf_url"],
        arxiv_api_url=config["hf_url"], slack_api_url=config["slack_api_url"],
        slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
    )
    async with open_core(settings) as core:
        adapter = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0)
        await adapter.start()
        print(json.dumps({"port": adapter.port, "answer_timeout": settings.answer_timeout}), flush=True)
        try:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
        finally:
            await adapter.stop()


@dataclass
class BotProcess:
    """The bot running in a child process; `port` is where its ``/slack/events`` listens."""

    process: asyncio.subprocess.Process
    port: int
    answer_timeout: float

    @classmethod
    async def start(cls, config: dict[str, str]) -> BotProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).resolve()), "--serve", json.dumps(config),
            cwd=REPO_ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
        if not line:
            raise RuntimeError(f"the bot process exited before listening (exit {await process.wait()})")
        ready = json.loads(line)
        return cls(process, ready["port"], ready["answer_timeout"])

    async def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        await asyncio.wait_for(self.process.wait(), START_TIMEOUT)


# -- the fake Slack that times answers ------------------------------------------------------


class TimedSlack(FakeSlack):
    """`FakeSlack` that also notes when each ``response_url`` POST arrived (``time.monotonic``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.arrived: dict[str, float] = {}
        self.everything_arrived = asyncio.Event()
        self.expected = 0

    async def _response_url(self, request: web.Request) -> web.Response:
        self.arrived.setdefault(request.match_info["name"], time.monotonic())
        if len(self.arrived) >= self.expected:
            self.everything_arrived.set()
        return await super()._response_url(request)


# -- one run -------------------------------------------------------------------------------


def command_mix(count: int, rng: random.Random) -> list[str]:
    """Return *count* command texts: look-ups people type, in a shuffled but repeatable order."""
    words = seed_vocabulary()[:60]
    makers = (
        (15, lambda n: "trending" if n % 2 else "trending 5"),
        (15, lambda n: "today"),
        (20, lambda n: f"search {words[n % 20]}" if n % 3 else f'search "{words[n % 20]} {words[20 + n % 20]}"'),
        (20, lambda n: f"show {seed_id(n % 40)}" if n % 2 else f"show https://arxiv.org/abs/{seed_id(n % 40)}"),
        (10, lambda n: f"preview {words[n % 10]} OR {words[40 + n % 10]}"),
        (10, lambda n: "topics"),
        (10, lambda n: "help"),
    )
    weights = [w for w, _ in makers]
    texts = [rng.choices(makers, weights)[0][1](n) for n in range(count)]
    rng.shuffle(texts)
    return texts


@dataclass
class RunResult:
    acks: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    lost: int = 0
    cached_fallbacks: int = 0
    warnings: int = 0
    wall: float = 0.0
    began: float = 0.0
    """``time.monotonic()`` when the first command was sent."""
    slowest: list[tuple[float, str]] = field(default_factory=list)
    answers_by_kind: dict[str, list[float]] = field(default_factory=dict)
    """Answer times per command name (``search``, ``show``…)."""


async def run_once(name: str, texts: list[str], *, bot: BotProcess, slack: TimedSlack) -> RunResult:
    """Fire every command in *texts* at once and time each acknowledgement and answer."""
    url = f"http://127.0.0.1:{bot.port}/slack/events"
    slack.arrived.clear()
    slack.everything_arrived.clear()
    slack.expected = len(texts)
    first_response = len(slack.responses)
    started: dict[str, float] = {}
    acks: dict[str, float] = {}
    result = RunResult()

    async def fire(session: aiohttp.ClientSession, n: int, text: str) -> None:
        key = f"{name}-{n}"
        body = slash_command_body(text, response_url=slack.response_url(key), channel_id=f"C{n % CHANNELS:03d}",
                                  user_id=f"U{n:04d}", user_name=f"user{n}")
        headers = signed_headers(SECRET, body)
        started[key] = time.monotonic()
        async with session.post(url, data=body.encode(), headers=headers) as response:
            await response.read()
            acks[key] = time.monotonic() - started[key]
            result.statuses[response.status] = result.statuses.get(response.status, 0) + 1

    begin = result.began = time.monotonic()
    # No connection limit: Slack does not queue its requests behind each other either.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(fire(session, n, text) for n, text in enumerate(texts)))
    try:
        await asyncio.wait_for(slack.everything_arrived.wait(), ANSWER_WAIT)
    except asyncio.TimeoutError:
        pass
    result.wall = time.monotonic() - begin
    result.acks = list(acks.values())
    answers = {key: at - started[key] for key, at in slack.arrived.items() if key in started}
    result.answers = list(answers.values())
    result.lost = len(texts) - len(answers)
    for response in slack.responses[first_response:]:
        result.cached_fallbacks += CACHED_NOTE in json.dumps(response.get("blocks", []))
        result.warnings += _is_warning(response)
    by_key = dict(zip((f"{name}-{n}" for n in range(len(texts))), texts))
    result.slowest = sorted(((t, by_key[k]) for k, t in answers.items()), reverse=True)[:3]
    for key, seconds in answers.items():
        result.answers_by_kind.setdefault(by_key[key].split()[0], []).append(seconds)
    return result


def _is_warning(response: dict) -> bool:
    blocks = response.get("blocks") or [{}]
    return str((blocks[0].get("text") or {}).get("text", "")).startswith(":warning:")


# -- the report ----------------------------------------------------------------------------


def describe(label: str, result: RunResult) -> None:
    def line(what: str, values: list[float]) -> str:
        over = sum(v > SLACK_DEADLINE for v in values)
        return (f"  {what:<7} p50 {percentile(values, 0.5):6.3f} s   p99 {percentile(values, 0.99):6.3f} s   "
                f"max {max(values, default=float('nan')):6.3f} s   over {SLACK_DEADLINE:g} s: {over}")

    print(f"{label}: {len(result.acks)} acks {dict(sorted(result.statuses.items()))}, "
          f"{len(result.answers)} answers, {result.lost} lost, all done in {result.wall:.2f} s")
    print(line("ack", result.acks))
    print(line("answer", result.answers))
    print(f"  answers from the cache after the deadline: {result.cached_fallbacks}; "
          f"warnings (errors): {result.warnings}")
    print("  slowest answers: " + "; ".join(f"{t:.2f} s {text!r}" for t, text in result.slowest))


async def main_async(args: argparse.Namespace) -> None:
    today = datetime.now(timezone.utc).date()
    texts = command_mix(args.count, random.Random(6))
    with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as tmp:
        async with FakeHuggingFace(seed_items(today=today)) as hf, \
                TimedSlack(channel_limit=None, workspace_limit=None) as slack:
            hf.delay = args.delay
            bot = await BotProcess.start({"database": str(Path(tmp) / "paperboy.db"), "hf_url": hf.base_url,
                                          "slack_api_url": slack.api_url})
            try:
                cold = await run_once("cold", texts, bot=bot, slack=slack)
                cold_sent = [r.at - cold.began for r in hf.requests]
                warm = await run_once("warm", texts, bot=bot, slack=slack)
                warm_sent = [r.at - warm.began for r in hf.requests[len(cold_sent):]]
            finally:
                await bot.stop()

    kinds = Counter(text.split()[0] for text in texts)
    print(f"cpus: {os.cpu_count()}  commands: {len(texts)} at once {dict(sorted(kinds.items()))}")
    print(f"fake Hugging Face answers in {args.delay:g} s; answer_timeout {bot.answer_timeout:g} s; "
          f"source requests: cold {len(cold_sent)}, warm {len(warm_sent)}")
    for label, sent in (("cold", cold_sent), ("warm", warm_sent)):
        if sent:
            print(f"  {label}: the bot sent them between +{min(sent):.2f} s and +{max(sent):.2f} s "
                  f"(median +{percentile(sent, 0.5):.2f} s) after the first command")
    print()
    describe("run 1, cold cache", cold)
    describe("run 2, warm cache", warm)
    print()
    for label, result in (("cold", cold), ("warm", warm)):
        print(f"{label}: ack p99 / {SLACK_DEADLINE:g} s deadline = "
              f"{percentile(result.acks, 0.99) / SLACK_DEADLINE:.2f}; "
              f"ack p99 / {ACK_TARGET_P99:g} s target = {percentile(result.acks, 0.99) / ACK_TARGET_P99:.2f}")
    print()
    print(f"answer p50 / p99 by command (s):  {'cold':>13}  {'warm':>13}")
    for kind in sorted(kinds):
        cells = [f"{percentile(r.answers_by_kind.get(kind, []), 0.5):5.2f} / {percentile(r.answers_by_kind.get(kind, []), 0.99):5.2f}"
                 for r in (cold, warm)]
        print(f"  {kind:<31}{cells[0]:>13}  {cells[1]:>13}")
    print()
    print(f"answer p50 cold/warm = {percentile(cold.answers, 0.5) / percentile(warm.answers, 0.5):.2f}; "
          f"answer p99 cold/warm = {percentile(cold.answers, 0.99) / percentile(warm.answers, 0.99):.2f}; "
          f"ack p99 cold/warm = {percentile(cold.acks, 0.99) / percentile(warm.acks, 0.99):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="commands fired at once per run")
    parser.add_argument("--delay", type=float, default=2.0, help="seconds the fake source takes per answer")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # run as the bot process
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.serve:
        asyncio.run(serve_bot(json.loads(args.serve)))
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
