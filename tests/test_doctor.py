"""`paperboy doctor` through the real `main`, against the fake Hugging Face, Discord and Slack."""

from __future__ import annotations

import asyncio
import os

import pytest

from bot.runtime.cli import main
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack

SIGNING_SECRET = "doctor-signing-secret-1234"


@pytest.fixture
def env(tmp_path, monkeypatch, fake_hf):
    """A clean environment with no .env in sight: the fake Hugging Face and a database file in tmp_path."""
    for name in list(os.environ):
        if name.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBOY_DATABASE", str(tmp_path / "paperboy.db"))
    monkeypatch.setenv("PAPERBOY_HF_API_URL", fake_hf.base_url)
    monkeypatch.setenv("PAPERBOY_HTTP_TIMEOUT", "3")
    return monkeypatch


@pytest.fixture
async def discord():
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
async def slack():
    async with FakeSlack() as fake:
        yield fake


def use_discord(env, discord: FakeDiscord) -> None:
    env.setenv("DISCORD_TOKEN", discord.token)
    env.setenv("PAPERBOY_DISCORD_API_URL", discord.api_url)


def use_slack(env, slack: FakeSlack, *, secret: str | None = SIGNING_SECRET) -> None:
    env.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    env.setenv("PAPERBOY_SLACK_API_URL", slack.api_url)
    if secret:
        env.setenv("SLACK_SIGNING_SECRET", secret)


async def doctor(capsys) -> tuple[int, dict[str, str], str]:
    """Run `paperboy doctor` (its own event loop, in a thread, while the fakes serve on this one).

    Return the exit status, each line by the name of what it checked, and standard error.
    """
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["doctor"])
    out, err = capsys.readouterr()
    lines = {}
    for line in out.splitlines():
        name = line[2:].split(":", 1)[0]
        assert name not in lines, f"two lines for {name}: {out}"
        lines[name] = line
    return code, lines, err


async def migrated_database(path) -> None:
    from bot.ports.store import open_store

    store = await open_store(str(path))
    await store.close()


async def test_everything_configured_passes_against_the_fakes(env, tmp_path, discord, slack, capsys):
    await migrated_database(tmp_path / "paperboy.db")
    use_discord(env, discord)
    use_slack(env, slack)

    code, lines, err = await doctor(capsys)

    assert code == 0, lines
    assert list(lines) == ["settings", "database", "Hugging Face", "Discord", "Matrix", "Slack token",
                           "Slack signing secret", "Slack scopes"]
    assert lines.pop("Matrix").startswith("– Matrix: not configured")  # its check runs on Synapse (test_matrix)
    assert all(line.startswith("✓ ") for line in lines.values()), lines
    assert "no migration pending" in lines["database"]
    assert "Paperboy" in lines["Discord"] and discord.bot_id in lines["Discord"]
    assert "Team T1" in lines["Slack token"]
    printed = "\n".join(lines.values()) + err
    for secret in (discord.token, "xoxb-test", SIGNING_SECRET):
        assert secret not in printed
    # Each platform was really asked, with the token.
    assert [r.path for r in discord.requests_to("GET", "/users/@me")] == ["/users/@me"]
    assert [c.token for c in slack.calls_to("auth.test")] == ["xoxb-test"]


async def test_unconfigured_platforms_are_neutral_and_do_not_fail(env, capsys):
    code, lines, _ = await doctor(capsys)

    assert code == 0, lines
    assert lines["Discord"].startswith("– Discord: not configured")
    assert lines["Slack"].startswith("– Slack: not configured")
    assert "does not exist yet" in lines["database"] and lines["database"].startswith("✓ ")


async def test_slack_not_answering_fails_naming_slack(env, tmp_path, capsys):
    async with FakeSlack() as stopped:
        pass  # its port now refuses connections
    use_slack(env, stopped)

    code, lines, err = await doctor(capsys)

    assert code == 1
    assert lines["Slack token"].startswith("✗ Slack token: no answer from Slack at " + stopped.api_url)
    assert "PAPERBOY_SLACK_API_URL" in lines["Slack token"]
    assert "Slack scopes" not in lines  # nothing to compare without an answer
    assert lines["Hugging Face"].startswith("✓ "), "the other checks still ran"
    assert "Traceback" not in err


async def test_a_missing_signing_secret_is_named(env, slack, capsys):
    use_slack(env, slack, secret=None)

    code, lines, _ = await doctor(capsys)

    assert code == 1
    assert lines["settings"].startswith("✗ settings: bad setting SLACK_SIGNING_SECRET")
    assert lines["Slack signing secret"].startswith("✗ Slack signing secret: SLACK_SIGNING_SECRET is not set")
    assert "SLACK_APP_TOKEN" in lines["Slack signing secret"]
    assert lines["Slack token"].startswith("✓ "), "the token was still checked"


async def test_socket_mode_needs_no_signing_secret(env, slack, capsys):
    use_slack(env, slack, secret=None)
    env.setenv("SLACK_APP_TOKEN", "xapp-1-test")

    code, lines, _ = await doctor(capsys)

    assert code == 0, lines
    assert "Socket Mode" in lines["Slack signing secret"]


async def test_many_workspaces_have_no_single_token_to_check(env, slack, capsys):
    env.setenv("SLACK_CLIENT_ID", "123.456")
    env.setenv("SLACK_CLIENT_SECRET", "client-secret-789")
    env.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    env.setenv("PAPERBOY_SLACK_API_URL", slack.api_url)

    code, lines, _ = await doctor(capsys)

    assert code == 0, lines
    assert lines["Slack token"].startswith("– Slack token: many workspaces")
    assert lines["Slack signing secret"].startswith("✓ ")
    assert slack.calls_to("auth.test") == []


async def test_a_missing_scope_is_named(env, slack, capsys):
    from adapters.slack.oauth import bot_scopes

    slack.scopes = [s for s in bot_scopes() if s not in ("files:write", "usergroups:read")]
    use_slack(env, slack)

    code, lines, _ = await doctor(capsys)

    assert code == 1
    assert lines["Slack scopes"].startswith("✗ Slack scopes: the token lacks files:write, usergroups:read;")
    assert "reinstall" in lines["Slack scopes"]


async def test_a_refused_slack_token_is_named(env, slack, capsys):
    use_slack(env, slack)
    env.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")

    code, lines, _ = await doctor(capsys)

    assert code == 1
    assert lines["Slack token"].startswith("✗ Slack token: Slack refuses SLACK_BOT_TOKEN (invalid_auth)")
    assert "xoxb-revoked" not in lines["Slack token"]


async def test_a_refused_discord_token_is_named(env, discord, capsys):
    use_discord(env, discord)
    env.setenv("DISCORD_TOKEN", "not.the.token")

    code, lines, _ = await doctor(capsys)

    assert code == 1
    assert lines["Discord"].startswith("✗ Discord: Discord refuses DISCORD_TOKEN (HTTP 401)")
    assert "not.the.token" not in lines["Discord"]


async def test_a_bad_database_path_is_named(env, tmp_path, capsys):
    env.setenv("PAPERBOY_DATABASE", str(tmp_path / "missing" / "paperboy.db"))

    code, lines, _ = await doctor(capsys)

    assert code == 1
    assert lines["database"].startswith("✗ database: bad setting PAPERBOY_DATABASE: the folder")
    assert "missing" in lines["database"]
    assert not (tmp_path / "missing").exists()


async def test_pending_migrations_are_named_and_not_applied(env, tmp_path, capsys):
    from storage.sqlite import connection, versions

    path = tmp_path / "paperboy.db"
    conn = await connection.connect(path, target=versions.latest_version() - 2)
    await connection.close_connection(conn)
    last_two = [m.name for m in versions.migrations()[-2:]]

    code, lines, _ = await doctor(capsys)

    assert code == 1
    assert lines["database"].startswith(f"✗ database: {path} lacks 2 migration(s) ({', '.join(last_two)})")
    conn = await connection.connect(path, apply_migrations=False)
    try:
        assert await versions.schema_version(conn) == versions.latest_version() - 2, "doctor must not migrate"
    finally:
        await connection.close_connection(conn)


async def test_a_database_from_a_newer_paperboy_is_named(env, tmp_path, capsys):
    import sqlite3

    await migrated_database(tmp_path / "paperboy.db")
    with sqlite3.connect(tmp_path / "paperboy.db") as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()

    code, lines, _ = await doctor(capsys)

    assert code == 1
    assert lines["database"].startswith("✗ database: PAPERBOY_DATABASE=")
    assert "schema version 99" in lines["database"] and "newer Paperboy" in lines["database"]


async def test_an_empty_sqlite_file_passes_and_stays_empty(env, tmp_path, capsys):
    from storage.sqlite import connection, versions

    path = tmp_path / "paperboy.db"
    path.touch()  # an operator's empty file, or one a failed first start left

    code, lines, _ = await doctor(capsys)

    assert code == 0, lines
    assert lines["database"] == f"✓ database: {path} is empty; Paperboy creates its tables at first start"
    conn = await connection.connect(path, apply_migrations=False)
    try:
        assert await versions.schema_version(conn) == 0, "doctor must not migrate"
    finally:
        await connection.close_connection(conn)


async def test_postgres_empty_passes_then_pending_migrations_are_named(env, postgres_url, capsys):
    """A fresh Postgres (compose's first step) is fine; one part-way through its migrations is not."""
    import asyncpg

    from storage.postgres import migrate

    env.setenv("PAPERBOY_DATABASE", postgres_url)

    code, lines, _ = await doctor(capsys)

    assert code == 0, lines
    assert lines["database"].endswith("is empty; Paperboy creates its tables at first start")
    await migrated_database(postgres_url)
    count = len(migrate.migrations())
    code, lines, _ = await doctor(capsys)
    assert code == 0, lines
    assert f"schema version {count}, no migration pending" in lines["database"]
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("DELETE FROM schema_version WHERE version = $1", count)
        code, lines, _ = await doctor(capsys)
        assert code == 1
        assert f"lacks 1 migration(s) ({migrate.migrations()[-1].name})" in lines["database"]
        assert await migrate.schema_version(conn) == count - 1, "doctor must not migrate"
    finally:
        await conn.close()


async def test_hugging_face_not_answering_fails(env, fake_hf, capsys):
    await fake_hf.stop()

    code, lines, _ = await doctor(capsys)

    assert code == 1
    assert lines["Hugging Face"].startswith("✗ Hugging Face: cannot reach Hugging Face at")
    assert "PAPERBOY_HF_API_URL" in lines["Hugging Face"]


async def test_a_bad_setting_is_one_line_not_a_traceback(env, capsys):
    env.setenv("PAPERBOY_POLL_INTERVAL", "soon")

    code, lines, err = await doctor(capsys)

    assert code == 1
    assert list(lines) == ["settings"]
    assert lines["settings"].startswith("✗ settings: bad setting PAPERBOY_POLL_INTERVAL")
    assert "Traceback" not in err


async def test_each_installed_platform_brings_its_own_check(env, capsys, monkeypatch):
    # Two platforms that live in no file of Paperboy: the doctor asks each the same way as the built-in ones.
    from bot.runtime import doctor as doctor_module
    from bot.runtime.doctor import Finding
    from bot.ports.platforms import platforms

    class Pigeon:
        name, title, switches = "pigeon", "Pigeon", ("PIGEON_TOKEN",)

        def configured(self, settings) -> bool:
            return True

        async def doctor_check(self, settings) -> list[Finding]:
            return [Finding("Pigeon", False, "the loft refuses PIGEON_TOKEN; reset it")]

    class Idle(Pigeon):
        name, title, switches = "idle", "Idle", ("IDLE_A", "IDLE_B")

        def configured(self, settings) -> bool:
            return False

    monkeypatch.setattr(doctor_module, "platforms", lambda: (*platforms(), Pigeon(), Idle()))
    code, lines, _ = await doctor(capsys)

    assert code == 1, lines
    assert lines["Pigeon"] == "✗ Pigeon: the loft refuses PIGEON_TOKEN; reset it"
    assert lines["Idle"] == "– Idle: not configured (IDLE_A and IDLE_B are not set)"
    assert lines["Discord"] == "– Discord: not configured (DISCORD_TOKEN is not set)"
