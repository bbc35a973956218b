"""The boundaries the code promises: the core imports no backend and no platform library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE_MAY_NOT_IMPORT = ("storage", "adapters", "discord", "slack_bolt", "slack_sdk", "aiosqlite", "asyncpg", "sqlite3")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "bot").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_no_backend_and_no_platform(path):
    # The command line is where the process is put together: it alone picks the platforms it runs.
    # The dry run uses the in-memory recorder as its platform. Neither imports a storage backend.
    allowed = {"cli.py": {"adapters.console", "adapters.discord", "adapters.slack"},
               "cli_helpers.py": {"adapters.discord", "adapters.slack"},
               "dry_run.py": {"adapters.memory"}}.get(path.name, set())
    bad = {m for m in imported_modules(path) if m.split(".")[0] in CORE_MAY_NOT_IMPORT and m not in allowed}
    assert not bad, f"{path.name} imports {sorted(bad)}"


async def test_the_sqlite_store_is_a_store_as_the_core_defines_it(tmp_path):
    from bot.store import Store as StoreProtocol
    from bot.store import open_store

    store = await open_store(str(tmp_path / "p.db"))
    try:
        assert isinstance(store, StoreProtocol)
        missing = [name for name in dir(StoreProtocol) if not name.startswith("_") and not hasattr(store, name)]
        assert missing == []
    finally:
        await store.close()
