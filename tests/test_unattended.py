"""No platform and nothing on standard input (a container, systemd): one line and exit 1, not a restart loop."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))}
    return env | {"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "PAPERBOY_DATABASE": str(tmp_path / "p.db"),
                  "PAPERBOY_HF_API_URL": "http://127.0.0.1:9", "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9",
                  "PAPERBOY_LOG_FILE": "-"}


async def run(*args: str, tmp_path: Path, stdin) -> tuple[int, str, str, float]:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=clean_env(tmp_path), cwd=tmp_path, stdin=stdin,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode(), time.monotonic() - started


async def test_the_bot_with_no_platform_and_dev_null_refuses_in_one_line(tmp_path):
    for args in ((), ("run",)):
        code, out, err, _ = await run(*args, tmp_path=tmp_path, stdin=asyncio.subprocess.DEVNULL)
        assert code == 1, (args, out, err)
        [line] = err.splitlines()
        assert line.startswith("paperboy: no platform is configured (DISCORD_TOKEN, MATRIX_HOMESERVER, SLACK_BOT_TOKEN or "
                               "SLACK_CLIENT_ID) and standard input is not a terminal"), line
        assert "`paperboy console`" in line
        assert out == ""
    assert not (tmp_path / "p.db").exists(), "refused before opening anything"


async def test_the_explicit_console_with_dev_null_still_ends_quietly(tmp_path):
    code, _, err, _ = await run("console", tmp_path=tmp_path, stdin=asyncio.subprocess.DEVNULL)
    assert code == 0, err
    assert "no platform is configured" not in err


async def test_the_bot_with_stdin_closed_refuses_in_one_line(tmp_path):
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(  # `paperboy <&-`: Python starts with sys.stdin None
        "/bin/sh", "-c", f"exec '{sys.executable}' -m bot <&-", env=clean_env(tmp_path), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1, err
    [line] = err.decode().splitlines()
    assert line.startswith("paperboy: no platform is configured") and "Traceback" not in line
    assert time.monotonic() - started < 30
