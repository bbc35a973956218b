"""`paperboy db copy --to postgresql://…` and Paperboy running on Postgres, through the real command line."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from bot.model.channels import ChannelRef
from bot.ports.store import open_store
from tests.test_cli import env  # noqa: F401  (a fixture)
from tests.test_cli import paperboy as run_paperboy


async def paperboy(*args: str, env: dict[str, str], **kwargs):
    return await run_paperboy(*args, env=env, cwd=env["HOME"], **kwargs)


async def test_copy_an_sqlite_database_into_postgres_then_run_on_it(env, postgres_url):
    now = datetime.now(timezone.utc)
    source = await open_store(env["PAPERBOY_DATABASE"])
    try:
        channel = await source.ensure_channel(ChannelRef("console", "local", "console"))
        await source.add_topic(channel.id, '"model merging" OR unlearning', "you", at=now)
        await source.add_topic(channel.id, "author:\"Graham Neubig\"", "you", at=now)
    finally:
        await source.close()

    code, out, err = await paperboy("db", "copy", "--to", postgres_url, env=env)
    assert code == 0, err
    assert "channels: 1 row copied, 1 in the target" in out and "topics: 2 rows copied, 2 in the target" in out

    code, out, err = await paperboy("console", env=env | {"PAPERBOY_DATABASE": postgres_url},
                                    stdin="topics\nsubscribe diffusion\ntopics\n")
    assert code == 0, err
    assert '"model merging" OR unlearning' in out and "Graham Neubig" in out
    assert "3. diffusion" in out  # numbering carries on after the copied topics

    again, _, err = await paperboy("db", "copy", "--to", postgres_url, env=env)
    assert again == 1 and err.count("\n") == 1 and "already has rows in channels" in err


async def test_an_unreachable_postgres_is_one_line_without_the_password(env):
    url = "postgresql://paperboy:hunter2@127.0.0.1:9/paperboy"
    code, out, err = await paperboy("poll", "--once", env=env | {"PAPERBOY_DATABASE": url})
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("paperboy: ") and "Traceback" not in err
    assert "hunter2" not in err and "postgresql://paperboy:***@127.0.0.1:9/paperboy" in err
    assert "connection refused" in err.lower() or "cannot reach" in err.lower()


async def test_a_database_url_of_another_kind_is_a_bad_setting(env):
    code, _, err = await paperboy("poll", "--once", env=env | {"PAPERBOY_DATABASE": "mysql://x@y/z"})
    assert code == 2 and "PAPERBOY_DATABASE" in err and "postgresql://" in err


async def test_a_target_that_is_neither_a_postgres_url_nor_an_sqlite_file_is_refused_naming_to(env):
    home = Path(env["HOME"])
    before = set(home.iterdir())
    for target, says in [("not a url", "ends in .db or .sqlite"), ("", "ends in .db or .sqlite"),
                         ("mysql://x@y/z", "not mysql://"), ("missing/copy.db", "the folder missing does not exist"),
                         (env["PAPERBOY_DATABASE"], "is the database being copied")]:
        code, out, err = await paperboy("db", "copy", "--to", target, env=env)
        assert code == 2 and out == "", (target, err)
        assert err.startswith(f"paperboy: --to {target!r}") and says in err and err.count("\n") == 1, err
    assert set(home.iterdir()) == before  # no file named after the bad target, not even the source


async def test_an_unreachable_postgres_target_is_one_line_naming_to(env):
    code, out, err = await paperboy("db", "copy", "--to", "postgresql://paperboy:hunter2@127.0.0.1:9/x", env=env)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "--to=postgresql://paperboy:***@127.0.0.1:9/x" in err and "hunter2" not in err
    assert "PAPERBOY_DATABASE" not in err


async def test_copy_into_an_sqlite_file(env, tmp_path):
    code, out, err = await paperboy("console", env=env, stdin="subscribe diffusion\n")
    assert code == 0, err
    code, out, err = await paperboy("db", "copy", "--to", "copy.sqlite", env=env)
    assert code == 0, err
    assert (tmp_path / "copy.sqlite").exists() and "copied into copy.sqlite" in out
