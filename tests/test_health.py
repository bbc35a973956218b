"""/healthz, /metrics and JSON logs, on the real pieces: a real core and SQLite file, the fake
Hugging Face and Slack on 127.0.0.1, real HTTP to the health port and to Slack's HTTP-mode port.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr
from prometheus_client.parser import text_string_to_metric_families

from adapters.memory import MemoryAdapter
from adapters.slack import SlackAdapter
from bot.runtime.app import Core, open_core
from bot.model.channels import ChannelRef
from bot.runtime.health import Health, serve_health
from bot.model.paper import Paper
from bot.runtime.settings import Settings
from paperboy_testing.hf_server import FakeHuggingFace
from tests.fakes.slack_server import FakeSlack
from tests.test_redaction import cli_logging

C1, C2 = ChannelRef("slack", "T1", "C1"), ChannelRef("slack", "T1", "C2")
SLACK_TOKEN = "xoxb-1234567890-0987654321-HealthTestSecretToken"
HF_TOKEN = "hf_HealthTestSecretTokenAbCdEfGh0123"
SIGNING_SECRET = "plain-signing-secret-4711"  # no token pattern knows it: only the settings do


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def healthz(base: str) -> tuple[int, dict]:
    status, text = await get(f"{base}/healthz")
    return status, json.loads(text)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse the Prometheus text format: (sample name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
async def health(core: Core) -> AsyncIterator[str]:
    server = await serve_health(core, host="127.0.0.1", port=0)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()


# -- /healthz: ok, degraded as the last good poll ages, 503 without the database ----------------------


async def test_healthz_is_ok_then_degraded_when_hugging_face_stops_then_503_without_the_database(
        core: Core, health: str, fake_hf: FakeHuggingFace, clock, settings: Settings) -> None:
    assert (await healthz(health))[1]["reasons"] == ["no successful poll yet"]
    await core.poller.poll_once()
    status, body = await healthz(health)
    assert (status, body["status"], body["reasons"]) == (200, "ok", [])
    assert body["last_poll_ok_at"] == clock().isoformat() and body["outbox_pending"] == 0

    await fake_hf.stop()  # Hugging Face stops answering: polls fail, the last good one ages
    failed = await core.poller.poll_once()
    assert failed.errors and not failed.fetched
    assert (await healthz(health))[1]["status"] == "ok", "one failed poll is not yet a problem"
    clock.advance(seconds=3 * settings.poll_interval + 60)
    status, body = await healthz(health)
    assert (status, body["status"]) == (200, "degraded")
    assert len(body["reasons"]) == 1 and "the last successful poll was" in body["reasons"][0]
    metrics = samples((await get(f"{health}/metrics"))[1])
    assert (metrics[("paperboy_polls_total", ())], metrics[("paperboy_poll_errors_total", ())]) == (2, 1)

    Path(settings.database).unlink()
    status, body = await healthz(health)
    assert (status, body["status"]) == (503, "down")
    assert body["reasons"][0].startswith("the database does not answer: ") and "deleted" in body["reasons"][0]
    assert (await get(f"{health}/metrics"))[0] == 200, "the counters are served even then"


async def test_a_database_that_hangs_is_a_503_within_the_timeout(core: Core) -> None:
    async def never(key: str) -> None:
        await asyncio.sleep(60)

    core.store.get_state = never  # type: ignore[method-assign]  (a Postgres that stopped answering)
    status, body = await Health(core, timeout=0.2).check()
    assert (status, body["reasons"]) == (503, ["the database does not answer: no answer within 0.2 s"])


async def test_a_disconnected_platform_degrades_health(core: Core) -> None:
    chat = MemoryAdapter(core.engine)
    chat.connected = False  # type: ignore[attr-defined]
    core.poller.adapters["memory"] = chat
    await core.poller.poll_once()
    status, body = await Health(core).check()
    assert (status, body["status"], body["reasons"]) == (200, "degraded", ["memory is disconnected"])
    assert body["platforms"] == {"memory": "disconnected"}


# -- /metrics against a fake Slack, on Slack's own HTTP port ---------------------------------------


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channel_limit=None, workspace_limit=None) as fake:
        yield fake


@pytest.fixture
async def slack_core(tmp_path: Path, slack: FakeSlack, clock) -> AsyncIterator[Core]:
    async with FakeHuggingFace([]) as hf:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, database=tmp_path / "paperboy.db", hf_api_url=hf.base_url, arxiv_api_url=hf.base_url,
            slack_bot_token="xoxb-test", slack_signing_secret="signing-secret", slack_api_url=slack.api_url,
            http_timeout=3.0)
        async with open_core(settings, clock=clock) as core:
            yield core


async def queue(core: Core, ref: ChannelRef, *paper_ids: str) -> None:
    channel = await core.store.ensure_channel(ref)
    await core.store.save_papers([Paper(id=pid, title=f"Paper {pid}") for pid in paper_ids])
    await core.store.enqueue_posts(channel.id, [(pid, None, None) for pid in paper_ids],
                                   at=core.poller.clock(), max_per_hour=10)


async def test_metrics_count_the_posts_that_reached_slack_served_on_the_slack_port(
        slack_core: Core, slack: FakeSlack) -> None:
    core = slack_core
    bot = SlackAdapter(core.settings, core.engine, host="127.0.0.1", port=0, routes=Health(core).routes())
    await bot.start()
    try:
        core.poller.adapters["slack"] = bot
        base = f"http://127.0.0.1:{bot.port}"
        await queue(core, C1, "2403.10001", "2403.10002")
        await core.poller.worker.drain()
        await queue(core, C2, "2403.10003")
        slack.fail("chat.postMessage", "channel_not_found")  # that channel is gone: paused
        await core.poller.worker.drain()
        await MemoryAdapter(core.engine).push("help")

        delivered = len(slack.posted_paper_ids("C1")) + len(slack.posted_paper_ids("C2"))
        status, text = await get(f"{base}/metrics")
        metrics = samples(text)
        assert status == 200 and delivered == 2
        assert metrics[("paperboy_posts_sent_total", (("platform", "slack"),))] == delivered
        assert metrics[("paperboy_posts_failed_total", (("platform", "slack"), ("reason", "permanent")))] == 1
        assert metrics[("paperboy_channels_paused", ())] == 1
        assert metrics[("paperboy_outbox_pending", ())] == 1  # the paused channel's post waits for it
        assert metrics[("paperboy_command_seconds_count", (("platform", "memory"),))] == 1

        status, body = await healthz(base)
        assert (status, body["status"], body["channels_paused"]) == (200, "degraded", 1)
        assert "1 channel paused" in body["reasons"] and body["platforms"] == {"slack": "connected"}
    finally:
        await bot.stop()
    assert not bot.connected


async def test_slack_in_socket_mode_is_connected_while_its_socket_is_open(slack_core: Core, slack: FakeSlack) -> None:
    settings = slack_core.settings.model_copy(update={"slack_app_token": SecretStr("xapp-test"),
                                                      "slack_signing_secret": None})
    bot = SlackAdapter(settings, slack_core.engine)
    assert not bot.connected
    await bot.start()
    try:
        await slack.wait_for_socket()
        slack_core.poller.adapters["slack"] = bot
        assert (await Health(slack_core).check())[1]["platforms"] == {"slack": "connected"}
    finally:
        await bot.stop()
    assert (await Health(slack_core).check())[1]["platforms"] == {"slack": "disconnected"}


# -- logs: JSON line by line, with channel and paper; no secret in either format -------------------


@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_logs_carry_channel_and_paper_and_never_a_secret(
        slack_core: Core, slack: FakeSlack, log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    core = slack_core
    settings = core.settings.model_copy(update={"log_format": log_format, "log_file": "-", "log_level": "INFO",
                                                "slack_bot_token": SecretStr(SLACK_TOKEN),
                                                "hf_token": SecretStr(HF_TOKEN),
                                                "slack_signing_secret": SecretStr(SIGNING_SECRET)})
    with cli_logging(settings):
        bot = SlackAdapter(core.settings, core.engine, host="127.0.0.1", port=0)
        await bot.start()
        try:
            core.poller.adapters["slack"] = bot
            await queue(core, C1, "2403.10001")
            await core.poller.worker.drain()
            try:
                raise RuntimeError(f"refused {SLACK_TOKEN} and {HF_TOKEN}")
            except RuntimeError:
                logging.getLogger("paperboy.test").exception("a failure naming %s, %s", SLACK_TOKEN, SIGNING_SECRET)
        finally:
            await bot.stop()
    err = capsys.readouterr().err
    for secret in (SLACK_TOKEN, HF_TOKEN, SIGNING_SECRET, "HealthTestSecretToken"):
        assert secret not in err
    assert "RuntimeError: refused [redacted] and [redacted]" in err
    if log_format == "text":
        assert "sent paper:2403.10001 to slack" in err
        return
    lines = [json.loads(line) for line in err.splitlines()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    [sent] = [line for line in lines if line["message"].startswith("sent ")]
    assert (sent["logger"], sent["level"], sent["paper"]) == ("bot.delivery.worker", "INFO", "2403.10001")
    assert sent["channel"] == str(C1)
    [failure] = [line for line in lines if line["logger"] == "paperboy.test"]
    assert failure["message"] == "a failure naming [redacted], [redacted]"
    assert "RuntimeError: refused [redacted]" in failure["error"]


# -- the command line: PAPERBOY_HEALTH_PORT and PAPERBOY_LOG_FORMAT from the environment -----------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_paperboy_run_serves_health_on_its_port_and_logs_json(tmp_path: Path, fake_hf: FakeHuggingFace) -> None:
    root = Path(__file__).resolve().parents[1]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))}
    env |= {"PYTHONPATH": str(root), "HOME": str(tmp_path), "PAPERBOY_DATABASE": str(tmp_path / "p.db"),
            "PAPERBOY_HF_API_URL": fake_hf.base_url, "PAPERBOY_ARXIV_API_URL": fake_hf.base_url,
            "PAPERBOY_POLL_INTERVAL": "3600", "PAPERBOY_LOG_FILE": "-", "PAPERBOY_HEALTH_PORT": str(port),
            "PAPERBOY_LOG_FORMAT": "json"}
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        status, body = 0, {}
        for _ in range(400):  # until the first poll is recorded
            try:
                status, body = await healthz(f"http://127.0.0.1:{port}")
                if body.get("last_poll_ok_at"):
                    break
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
        assert (status, body.get("status"), body.get("platforms")) == (200, "ok", {"console": "connected"}), body
        bot.stdin.close()  # end of console input: Paperboy stops
        code = await asyncio.wait_for(bot.wait(), 20)
        err = (await bot.stderr.read()).decode()
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert code == 0, err
    lines = [json.loads(line) for line in err.splitlines()]
    assert any(line["message"].startswith("health: serving /healthz and /metrics") for line in lines)
