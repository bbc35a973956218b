"""The testing kit (`paperboy_testing`) is a library a platform's tests can rely on, apart from tests/."""

from __future__ import annotations

import ast
import contextlib
import tomllib
from pathlib import Path

import pytest

from paperboy_testing import check_conformance, memory_driver, running_core

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "paperboy_testing"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_kit_needs_neither_the_tests_folder_nor_pytest_and_nothing_shipped_needs_the_kit():
    for path in KIT.rglob("*.py"):
        assert not _imports(path) & {"tests", "pytest"}, path
    for package in ("bot", "adapters", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            assert "paperboy_testing" not in _imports(path), path


def test_the_kit_and_its_seed_are_packaged():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "paperboy_testing*" in setuptools["packages"]["find"]["include"]
    shipped = {p.name for pattern in setuptools["package-data"]["paperboy_testing"] for p in KIT.glob(pattern)}
    assert {"trending-seed.txt", "hf-paper-2509.04664.json"} <= shipped


async def test_check_conformance_names_the_check_an_adapter_fails(tmp_path):
    @contextlib.asynccontextmanager
    async def open_driver():
        folder = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        async with running_core(folder) as core, memory_driver(core) as driver:
            send = driver.adapter.send
            driver.adapter.edit = lambda channel, ref, post: send(channel, post)  # posts anew: not an edit
            yield driver

    with pytest.raises(AssertionError) as failed:
        await check_conformance(open_driver)
    assert "a_post_arrives_is_found_again_and_edited_in_place" in str(failed.value)
    assert "help_is_answered_through_the_platforms_own_path" not in str(failed.value)
