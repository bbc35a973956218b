"""The `paperboy` command as a subprocess, against the fake Hugging Face on loopback."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from paperboy_testing.seed import make_item

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path, fake_hf, fake_arxiv) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))}
    return clean | {
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),  # the console's history file goes here, not into the real home
        "PAPERBOY_DATABASE": str(tmp_path / "cli.db"),
        "PAPERBOY_HF_API_URL": fake_hf.base_url,
        "PAPERBOY_ARXIV_API_URL": fake_arxiv.base_url,
        "PAPERBOY_POLL_INTERVAL": "60",
    }


async def paperboy(*args: str, env: dict[str, str], stdin: str = "", cwd: Path | None = None,
                   timeout: float = 60) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=cwd or env["PAPERBOY_DATABASE"].rsplit("/", 1)[0],
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout)
    return process.returncode, out.decode(), err.decode()


async def test_console_answers_piped_commands_and_exits_0(env, fake_hf):
    code, out, err = await paperboy("console", env=env, stdin="/papers trending 3\ntrending 2\n")
    assert code == 0, err
    first = fake_hf.items[fake_hf.trending_ids[0]]["paper"]["title"]
    assert out.count(first) == 2
    assert "Traceback" not in err


async def test_subscribe_poll_new_papers_poll_poll(env, fake_hf, clock):
    """The issue's end-to-end check: only the new matching papers are posted, once."""
    code, out, _ = await paperboy("console", env=env, stdin="subscribe unlearn* OR \"model merging\"\n")
    assert code == 0 and "Subscribed to" in out

    code, out, err = await paperboy("poll", "--once", env=env)
    assert code == 0, err
    assert "Unlearning" not in out, "the first poll posts nothing from the backlog"

    today = clock().date()
    fake_hf.add(make_item(900, "Certified unlearning at scale", "We unlearn.", daily=today,
                          paper_id="2411.00900"))
    fake_hf.add(make_item(901, "Model merging without tears", "Merging.", daily=today, paper_id="2411.00901"))
    fake_hf.add(make_item(902, "Quantum widgets", "Nothing relevant.", daily=today, paper_id="2411.00902"))

    code, dry, err = await paperboy("poll", "--dry-run", env=env)
    assert code == 0, err
    assert "[dry run, not sent]" in dry and "2411.00900" in dry and "2411.00902" not in dry

    code, out, err = await paperboy("poll", "--once", env=env)
    assert code == 0, err
    assert "Certified unlearning at scale" in out and "Model merging without tears" in out
    assert "Quantum widgets" not in out
    assert "matched:" in out

    code, out, err = await paperboy("poll", "--once", env=env)
    assert code == 0, err
    assert out.strip() == "", "the third poll posts nothing"


async def test_bad_setting_stops_with_one_line_naming_it(env):
    code, out, err = await paperboy("console", env=env | {"PAPERBOY_POLL_INTERVAL": "soon"})
    assert code == 2
    assert err.strip().count("\n") == 0 and "PAPERBOY_POLL_INTERVAL" in err


async def test_dead_source_gives_one_clear_line_and_the_console_keeps_working(env, fake_hf):
    await paperboy("console", env=env, stdin="today\n")  # warm the cache
    dead = env | {"PAPERBOY_HF_API_URL": "http://127.0.0.1:9", "PAPERBOY_ANSWER_TIMEOUT": "8"}
    code, out, err = await paperboy("console", env=dead, stdin="today\nshow junk\nhelp\n")
    assert code == 0
    assert "cannot reach Hugging Face at http://127.0.0.1:9" in out
    assert "not an arXiv id" in out and "Paperboy commands" in out
    assert "Traceback" not in out + err


async def test_help_for_every_subcommand(env):
    for args in [("--help",), ("console", "--help"), ("poll", "--help"), ("discord", "invite", "--help"),
                 ("slack", "manifest", "--help")]:
        code, out, _ = await paperboy(*args, env=env)
        assert code == 0 and "usage: paperboy" in out, args
    code, out, _ = await paperboy("--help", env=env)
    for sub in ("console", "poll", "discord", "slack"):
        assert sub in out


async def test_console_never_prints_terminal_escapes_from_titles(env, fake_hf, clock):
    fake_hf.add(make_item(903, "Evil \x1b[2J title @everyone", "x", daily=clock().date(), paper_id="2411.00903"))
    code, out, _ = await paperboy("console", env=env, stdin="show 2411.00903\n")
    assert code == 0 and "Evil [2J title @everyone" in out and "\x1b" not in out


async def test_version(env):
    from importlib.metadata import version

    code, out, err = await paperboy("--version", env=env)
    assert code == 0 and out == f"paperboy {version('paperboy')}\n" and err == ""
