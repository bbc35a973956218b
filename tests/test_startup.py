"""Start-up failures: one line on standard error naming the setting and the fix, never a traceback.

Each case runs `paperboy` as a subprocess against fakes on loopback. Exit status 2
means a setting that cannot work; 1 means valid settings that fail here (a token the
platform refuses, a port already taken, anything unexpected).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.discord_server import GUILD_READY_TIMEOUT, FakeDiscord
from tests.fakes.slack_server import FakeSlack
from tests.test_cli import env  # noqa: F401  (a fixture)
from tests.test_cli import paperboy as run_paperboy


async def paperboy(*args: str, env: dict[str, str], **kwargs) -> tuple[int, str, str]:
    # From a folder that exists whatever PAPERBOY_DATABASE names.
    return await run_paperboy(*args, env=env, cwd=Path(env["HOME"]), **kwargs)


def one_line(err: str) -> str:
    """The whole of standard error, which must be one line starting with "paperboy: "."""
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert err.startswith("paperboy: ") and "Traceback" not in err
    return err


@pytest.fixture
async def discord_fake():
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
async def slack_fake():
    async with FakeSlack() as fake:
        yield fake


def discord_env(env: dict[str, str], fake: FakeDiscord, **extra: str) -> dict[str, str]:
    return env | {"DISCORD_TOKEN": fake.token, "PAPERBOY_DISCORD_API_URL": fake.api_url,
                  "PAPERBOY_DISCORD_GATEWAY_URL": fake.gateway_url,
                  "PAPERBOY_DISCORD_GUILD_READY_TIMEOUT": str(GUILD_READY_TIMEOUT)} | extra


def slack_env(env: dict[str, str], fake: FakeSlack, **extra: str) -> dict[str, str]:
    return env | {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret",
                  "PAPERBOY_SLACK_API_URL": fake.api_url} | extra


async def test_slack_token_without_signing_secret_or_app_token_is_a_bad_setting(env):
    code, out, err = await paperboy("run", env=env | {"SLACK_BOT_TOKEN": "xoxb-test"})
    line = one_line(err)
    assert code == 2 and out == ""
    assert line.startswith("paperboy: bad setting SLACK_SIGNING_SECRET: ")
    assert "SLACK_APP_TOKEN" in line and "api.slack.com/apps" in line


async def test_database_in_a_missing_folder(env, tmp_path):
    missing = tmp_path / "no" / "such" / "folder"
    code, _, err = await paperboy("console", env=env | {"PAPERBOY_DATABASE": str(missing / "p.db")})
    line = one_line(err)
    assert code == 2
    assert line.startswith("paperboy: bad setting PAPERBOY_DATABASE: ") and str(missing) in line
    assert "create it" in line
    assert not missing.exists(), "Paperboy does not create folders it was not asked to"


async def test_database_in_a_read_only_folder(env):
    # Tests run as root, which writes through permission bits; sysfs refuses new files even to root.
    if not Path("/sys").is_dir() or os.access("/sys", os.W_OK) and _can_create_in(Path("/sys")):
        pytest.skip("no folder here that even root cannot write")
    code, _, err = await paperboy("console", env=env | {"PAPERBOY_DATABASE": "/sys/paperboy.db"})
    line = one_line(err)
    assert code == 2
    assert line.startswith("paperboy: bad setting PAPERBOY_DATABASE: Paperboy cannot create files in /sys")
    assert "writable" in line


async def test_database_in_a_folder_without_write_permission(env, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes through permission bits")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    code, _, err = await paperboy("console", env=env | {"PAPERBOY_DATABASE": str(locked / "p.db")})
    assert code == 2 and "PAPERBOY_DATABASE" in one_line(err)


async def test_database_path_through_a_file(env, tmp_path):
    (tmp_path / "plain").write_text("")
    code, _, err = await paperboy("console", env=env | {"PAPERBOY_DATABASE": str(tmp_path / "plain" / "p.db")})
    assert code == 2 and "is a file, not a folder" in one_line(err)


async def test_slack_port_already_in_use(env, slack_fake, fake_hf):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = await paperboy("run", env=slack_env(env, slack_fake, PAPERBOY_SLACK_PORT=str(port)))
    line = one_line(err)
    assert code == 1
    assert line == (f"paperboy: PAPERBOY_SLACK_PORT {port} is already in use by another program; "
                    "stop that program, or set PAPERBOY_SLACK_PORT to a free port\n")


async def test_discord_token_refused(env, discord_fake):
    wrong = discord_env(env, discord_fake, DISCORD_TOKEN="MTIz.refused.token")
    code, out, err = await paperboy("run", env=wrong)
    line = one_line(err)
    assert code == 1 and out == ""
    assert line.startswith("paperboy: DISCORD_TOKEN was refused by Discord: 401 Unauthorized; ")


async def test_slack_token_refused(env, slack_fake):
    code, out, err = await paperboy("run", env=slack_env(env, slack_fake, SLACK_BOT_TOKEN="xoxb-revoked"))
    line = one_line(err)
    assert code == 1 and out == ""
    assert line.startswith("paperboy: SLACK_BOT_TOKEN was refused by Slack (invalid_auth); ")


async def test_slack_app_token_refused(env, slack_fake):
    code, _, err = await paperboy("run", env=slack_env(env, slack_fake, SLACK_APP_TOKEN="not-an-app-token"))
    assert code == 1
    assert one_line(err).startswith("paperboy: SLACK_APP_TOKEN was refused by Slack (invalid_auth); ")


async def test_anything_unexpected_is_one_line_and_the_traceback_is_in_the_debug_log(env, discord_fake):
    # A Discord that answers /users/@me with a body discord.py cannot read: a failure nobody planned for.
    discord_fake.answer_raw("GET", "/users/@me", "{}", status=200, content_type="application/json", times=2)
    code, _, err = await paperboy("run", env=discord_env(env, discord_fake))
    line = one_line(err)
    assert code == 1
    assert line.startswith("paperboy: could not start discord: KeyError: ")
    assert line.endswith("; run with PAPERBOY_LOG_LEVEL=DEBUG for details\n")

    code, _, err = await paperboy("run", env=discord_env(env, discord_fake, PAPERBOY_LOG_LEVEL="DEBUG"))
    assert code == 1
    assert "Traceback" in err, "at DEBUG the log (here standard error) has the traceback"
    assert err.splitlines()[-1] == line.rstrip("\n"), "and the last line is the same one line"


async def test_a_command_while_discord_starts_is_answered_as_on_discord(env, discord_fake):
    """discord.py delivers interactions from READY on, but waits 2 s for the guilds before start() returns:
    a command in that window is answered knowing Discord has threads, not "This platform has no threads"."""
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=discord_env(env, discord_fake), cwd=env["HOME"],
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await asyncio.wait_for(discord_fake.identified.wait(), 30)  # READY and the guild are sent
        ready_at = time.monotonic()
        interaction = await discord_fake.run_command("threads", {"state": "on"})
        await discord_fake.wait_for(lambda: interaction.done, timeout=10)
        answered_at = interaction.callback_times[0]
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(bot.communicate(), 20)
    assert answered_at - ready_at < 1.5, "the command was meant to come before the adapter's start() returns"
    (message,) = interaction.messages()
    text = " ".join(e.get("description") or "" for e in message.get("embeds") or []) + (message["content"] or "")
    assert "Threads on" in text and "no threads" not in text, message
    assert bot.returncode == 0 and b"Traceback" not in err, err.decode()


def _can_create_in(folder: Path) -> bool:
    try:
        (folder / ".paperboy-probe").touch()
    except OSError:
        return False
    (folder / ".paperboy-probe").unlink()
    return True
