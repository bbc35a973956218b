"""The boundaries the code promises: the core imports no backend and no platform library."""

from __future__ import annotations

import ast
import re
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
    # The command line is where the process is put together: the console is its own; the chat platforms
    # it finds through their entry points (bot.ports.platforms). The dry run uses the in-memory recorder as its platform. Neither imports a storage backend.
    allowed = {"cli.py": {"adapters.console"}, "dry_run.py": {"adapters.memory"}}.get(path.name, set())
    bad = {m for m in imported_modules(path) if m.split(".")[0] in CORE_MAY_NOT_IMPORT and m not in allowed}
    assert not bad, f"{path.name} imports {sorted(bad)}"


PLATFORM_NAMES = re.compile(r"discord|slack", re.IGNORECASE)


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings (of a module, class or function, or of an attribute)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        for statement in getattr(node, "body", []) if isinstance(getattr(node, "body", None), list) else []:
            if (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
                    and isinstance(statement.value.value, str)):
                found.add(id(statement.value))
    return found


def platform_names(path: Path) -> list[str]:
    """Where the code of *path* names a platform: an identifier, an import or a string that is not a docstring.

    Prose (comments and docstrings) may give a platform as an example; code may not act on one.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prose = docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            words = [node.value]
        elif isinstance(node, ast.JoinedStr):
            continue  # its literal parts are Constants, checked on their own
        else:
            words = [node.id] if isinstance(node, ast.Name) else []
            words += [getattr(node, field) for field in ("attr", "name", "arg", "module")
                      if isinstance(getattr(node, field, None), str)]
        found += [f"line {node.lineno}: {word!r}" for word in words if PLATFORM_NAMES.search(word)]
    return sorted(set(found), key=lambda line: int(line.split()[1].rstrip(":")))


@pytest.mark.parametrize("path", sorted((ROOT / "bot").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_names_no_platform(path):
    assert platform_names(path) == []


def test_the_platform_rule_sees_code_and_not_prose(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('''"""Posts to Slack."""
# Discord too.
import adapters.slack
x = settings.discord_token
def f(slack_client):
    """Slack's client."""
    return "discord"
''')
    assert [line.split(":")[0] for line in platform_names(module)] == ["line 3", "line 4", "line 5", "line 7"]


def test_the_platforms_are_found_through_their_entry_points_and_own_their_settings_and_commands():
    from bot.runtime.cli import build_parser
    from bot.ports.platforms import Platform, platforms
    from bot.runtime.settings import Settings

    found = {platform.name: platform for platform in platforms()}
    assert set(found) == {"discord", "matrix", "slack"}
    assert all(isinstance(platform, Platform) for platform in found.values())
    for platform in found.values():  # each one's settings join Paperboy's, under the same names
        assert set(platform.settings.model_fields) <= set(Settings.model_fields)
        assert not platform.configured(Settings(_env_file=None))
    assert found["slack"].configured(Settings(_env_file=None, slack_client_id="1.2"))
    assert found["matrix"].configured(Settings(_env_file=None, matrix_homeserver="https://matrix.example.org"))
    help_text = build_parser().format_help()
    assert "discord" in help_text and "slack" in help_text  # their `paperboy <platform> …` helpers


async def test_the_sqlite_store_is_a_store_as_the_core_defines_it(tmp_path):
    from bot.ports.store import Store as StoreProtocol
    from bot.ports.store import open_store

    store = await open_store(str(tmp_path / "p.db"))
    try:
        assert isinstance(store, StoreProtocol)
        missing = [name for name in dir(StoreProtocol) if not name.startswith("_") and not hasattr(store, name)]
        assert missing == []
    finally:
        await store.close()
