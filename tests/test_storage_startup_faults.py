"""Storage faults at start-up on real SQLite files: a file that is not a database, a damaged one, a read-only
one; the store refuses it and `paperboy` says so in one line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.sqlite import CorruptDatabase, ReadOnlyDatabase, Store
from tests.test_cli import env  # noqa: F401  (a fixture)
from tests.test_cli import paperboy as run_paperboy
from tests.test_storage_faults import papers, read_only


# --- start-up ---------------------------------------------------------------------------------------


def write_garbage(path: Path) -> bytes:
    data = (b"this is not a database, just some text a careless copy left here\n" * 200)[:8192]
    path.write_bytes(data)
    return data


async def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "garbage.db"
    data = write_garbage(path)
    with pytest.raises(CorruptDatabase, match="not an SQLite database"):
        await Store.open(path)
    assert path.read_bytes() == data  # left as it was


async def test_a_damaged_database_is_refused_by_quick_check(tmp_path):
    path = tmp_path / "damaged.db"
    async with await Store.open(path) as store:
        await store.save_papers(papers(92))
    with sqlite3.connect(path) as raw:
        page_size = raw.execute("PRAGMA page_size").fetchone()[0]
        root = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'papers'").fetchone()[0]
    pages = path.stat().st_size // page_size
    assert pages > root + 4
    with path.open("r+b") as file:  # scribble over a run of the papers table's pages, past the schema
        file.seek(root * page_size)
        file.write(bytes(range(256)) * (page_size * 3 // 256))
    with pytest.raises(CorruptDatabase, match="damaged|not an SQLite database"):
        await Store.open(path)


async def test_a_read_only_database_is_refused_at_open(tmp_path):
    path = tmp_path / "ro.db"
    async with await Store.open(path) as store:
        await store.set_state("k", "v")
    before = path.read_bytes()
    with read_only(path):
        with pytest.raises(ReadOnlyDatabase, match="SQLite can only read it"):
            await Store.open(path)
    assert path.read_bytes() == before


async def test_open_core_turns_a_read_only_database_into_one_startup_line(tmp_path, settings, monkeypatch):
    """Past `check_database` (which sees most read-only files first), the store's own check still names the fix."""
    import bot.runtime.app
    from bot.runtime.settings import StartupError

    async with await Store.open(settings.database) as store:
        await store.set_state("k", "v")
    monkeypatch.setattr(bot.runtime.app, "check_database", lambda path: None)
    with read_only(Path(settings.database)):
        with pytest.raises(StartupError) as caught:
            async with bot.runtime.app.open_core(settings):
                pass
    line = str(caught.value)
    assert "\n" not in line and f"PAPERBOY_DATABASE={settings.database}" in line
    assert "read-only" in line and "writable" in line


async def test_open_core_turns_a_damaged_database_into_one_startup_line(settings):
    from bot.runtime.app import open_core
    from bot.runtime.settings import StartupError

    write_garbage(Path(settings.database))
    with pytest.raises(StartupError) as caught:
        async with open_core(settings):
            pass
    line = str(caught.value)
    assert "\n" not in line and f"PAPERBOY_DATABASE={settings.database}" in line
    assert "not an SQLite database" in line and "restore a backup" in line


def one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert err.startswith("paperboy: ") and "Traceback" not in err
    return err


async def test_paperboy_refuses_a_damaged_database_in_one_line(env, tmp_path):
    path = tmp_path / "garbage.db"
    data = write_garbage(path)
    code, out, err = await run_paperboy("console", env=env | {"PAPERBOY_DATABASE": str(path)}, cwd=tmp_path)
    line = one_line(err)
    assert code == 1 and out == ""
    assert f"PAPERBOY_DATABASE={path}" in line and "not an SQLite database" in line
    assert "restore a backup" in line
    assert path.read_bytes() == data


async def test_paperboy_refuses_a_read_only_database_in_one_line(env, tmp_path):
    path = tmp_path / "ro.db"
    async with await Store.open(path) as store:
        await store.set_state("k", "v")
    with read_only(path):
        code, out, err = await run_paperboy("console", env=env | {"PAPERBOY_DATABASE": str(path)}, cwd=tmp_path)
    line = one_line(err)
    assert code in (1, 2) and out == ""
    assert "PAPERBOY_DATABASE" in line and str(path) in line and "read-only" in line and "writable" in line
