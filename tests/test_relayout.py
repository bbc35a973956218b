"""scripts/relayout.py on a small checkout of the old layout: it moves, rewrites every reference, and is idempotent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "relayout.py"

OLD_LAYOUT = {
    "bot/__init__.py": '"""The core."""\n',
    "bot/ports/adapter.py": "class DeliveryResult:\n    pass\n",
    "bot/commands/registry.py": "COMMANDS: dict = {}\n",
    "bot/delivery/worker.py": (
        "import logging\n\n"
        "from bot.commands.registry import COMMANDS  # noqa: F401\n"
        "from bot.ports.adapter import DeliveryResult\n"
        "from bot.ranking.interest.model import Model\n\n"
        'log = logging.getLogger("bot.delivery.worker")  # see bot/ports/adapter.py\n'
    ),
    "bot/runtime/app.py": "from bot import delivery, worker as w\nfrom .commands import COMMANDS\n",
    "bot/ranking/interest/__init__.py": "",
    "bot/ranking/interest/model.py": "class Model:\n    pass\n",
    "bot/stray.py": '"""Nobody mapped me."""\n',
    "storage/__init__.py": "from storage.sqlite.db import Store\n\n\nasync def open_store(url):\n    return Store()\n",
    "storage/sqlite/db.py": "class Store:\n    pass\n",
    "storage/schema.py": "SHARED = 1\n",
    "storage/sqlite/migrations/0001_initial.sql": "CREATE TABLE t (x);\n",
    "storage/postgres/__init__.py": "from storage import schema\nfrom storage.sqlite.db import Store\n",
    "tests/test_x.py": (
        "import bot.runtime.app\nfrom storage import Store, schema\n\n\n"
        "def test_it(monkeypatch):\n"
        '    monkeypatch.setattr("bot.delivery.worker.log", None)\n'
        "    assert bot.runtime.app.w and Store and schema\n"
    ),
    "pyproject.toml": (
        '[project.scripts]\npaperboy = "bot.runtime.app:entry"\n\n'
        '[project.entry-points."paperboy.storage"]\nsqlite = "storage.sqlite:open_store"\n\n'
        '[tool.setuptools.package-data]\nstorage = ["migrations/*.sql", "postgres/migrations/*.sql"]\n'
    ),
    "README.md": "The contract is bot/ports/adapter.py; the model is in `bot/ranking/interest/`; SQL in storage/sqlite/migrations/.\n",
}


def make_checkout(root: Path) -> None:
    for name, text in OLD_LAYOUT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)


def relayout(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT)], cwd=root, capture_output=True, text=True, timeout=60)


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def test_relayout_moves_rewrites_reports_and_runs_twice_to_no_change(tmp_path: Path) -> None:
    make_checkout(tmp_path)

    first = relayout(tmp_path)

    assert first.returncode == 1, first.stderr  # a leftover flat file is reported
    assert "LEFT FLAT (not in the mapping of scripts/relayout.py): bot/stray.py" in first.stdout
    files = snapshot(tmp_path)
    assert "bot/stray.py" in files and "bot/ports/adapter.py" not in files and "bot/commands/registry.py" not in files
    assert files["bot/delivery/worker.py"] == (
        "import logging\n\n"
        "from bot.commands.registry import COMMANDS  # noqa: F401\n"
        "from bot.ports.adapter import DeliveryResult\n"
        "from bot.ranking.interest.model import Model\n\n"
        'log = logging.getLogger("bot.delivery.worker")  # see bot/ports/adapter.py\n'
    )
    assert files["bot/runtime/app.py"] == (
        "from bot.ports import adapter as delivery\nfrom bot.ports.adapter import worker as w\n"
        "from bot.commands.registry import COMMANDS\n"
    )
    assert files["storage/sqlite/__init__.py"].startswith("from storage.sqlite.db import Store\n")
    assert files["storage/__init__.py"].startswith('"""')  # the shared package, SQLite's open_store gone from it
    assert files["storage/postgres/__init__.py"] == "from storage import schema\nfrom storage.sqlite.db import Store\n"
    assert "storage/sqlite/migrations/0001_initial.sql" in files and "storage/schema.py" in files
    assert files["tests/test_x.py"] == (
        "import bot.runtime.app\nfrom storage.sqlite import Store\nfrom storage import schema\n\n\n"
        "def test_it(monkeypatch):\n"
        '    monkeypatch.setattr("bot.delivery.worker.log", None)\n'
        "    assert bot.runtime.app.w and Store and schema\n"
    )
    assert 'paperboy = "bot.runtime.app:entry"' in files["pyproject.toml"]
    assert 'sqlite = "storage.sqlite:open_store"' in files["pyproject.toml"]
    assert 'storage = ["sqlite/migrations/*.sql", "postgres/migrations/*.sql"]' in files["pyproject.toml"]
    assert files["README.md"] == ("The contract is bot/ports/adapter.py; the model is in `bot/ranking/interest/`; "
                                  "SQL in storage/sqlite/migrations/.\n")
    for name, text in files.items():
        if name.endswith(".py"):
            compile(text, name, "exec")

    second = relayout(tmp_path)

    assert snapshot(tmp_path) == files
    assert [line for line in second.stdout.splitlines() if not line.startswith("LEFT FLAT")] == []
