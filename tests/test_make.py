"""`make run` installs only what running needs and says so; `make test` adds the test tools.

Make itself runs, on a copy of the Makefile and pyproject.toml in a temporary folder, with a stand-in
``python3`` that records what it is asked to do and creates the files a venv would have (installing
for real needs the package index: `make run` on a fresh clone was timed by hand, about a minute).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Records each call; `-m venv DIR` makes DIR/bin/python, a copy of itself that records too.
FAKE_PYTHON = """#!/bin/sh
echo "$0 $*" >> "$MAKE_LOG"
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && cp "$0" "$3/bin/paperboy"; fi
"""


@pytest.fixture
def checkout(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed here")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    python = tmp_path / "fake-python3"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path


def make(checkout: Path, *targets: str) -> tuple[str, list[str]]:
    """Run make; return what it printed and the calls the stand-in python got (pip's words only)."""
    log = checkout / "calls.log"
    log.write_text("")
    done = subprocess.run(["make", "--no-print-directory", *targets, f"PYTHON={checkout / 'fake-python3'}"],
                          cwd=checkout, env=os.environ | {"MAKE_LOG": str(log)}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    calls = [line.split(" ", 1)[1] for line in log.read_text().splitlines()]
    return done.stdout, [c for c in calls if " pip " in f" {c}" or c.startswith("-m venv")]


def test_make_run_installs_paperboy_alone_and_says_so_on_the_first_run(checkout):
    out, calls = make(checkout, "run")
    assert out.splitlines()[0] == "First run: installing Paperboy into .venv (about a minute)…"
    assert calls[0] == "-m venv .venv"
    assert "-m pip --quiet --disable-pip-version-check install -e ." in calls
    assert not any("[dev]" in call for call in calls), "running needs no test tools"

    out, calls = make(checkout, "run")
    assert calls == [] and "installing" not in out.lower(), "nothing to install the second time"


def test_make_test_adds_the_test_tools_and_then_make_run_has_nothing_to_do(checkout):
    make(checkout, "run")
    out, calls = make(checkout, "test")
    assert "Installing Paperboy and its test tools (pytest, hypothesis, pgserver…) into .venv…" in out
    assert calls == ["-m pip --quiet --disable-pip-version-check install -e .[dev]"]
    assert make(checkout, "run")[1] == []
    assert make(checkout, "test")[1] == []


def test_make_test_first_satisfies_make_run_and_a_changed_pyproject_installs_again(checkout):
    out, calls = make(checkout, "test")
    assert out.startswith("First run: installing Paperboy and its test tools")
    assert make(checkout, "run")[1] == []
    os.utime(checkout / "pyproject.toml", (2_000_000_000, 2_000_000_000))  # changed after the install
    assert make(checkout, "run")[1] == ["-m pip --quiet --disable-pip-version-check install -e ."]


def test_the_editable_install_is_a_plain_path_entry_without_a_warning_box(tmp_path):
    """setuptools prints its "Editable installation" box for a layout it must map with a meta path finder;
    with the packages declared at the top of the checkout, it writes one .pth line instead. Built here by
    setuptools' own backend, as pip does, offline."""
    built = subprocess.run([sys.executable, "-W", "always", "-c",
                            f"from setuptools import build_meta; print(build_meta.build_editable({str(tmp_path)!r}))"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr[-2000:]
    output = built.stdout + built.stderr
    assert "Please be careful with folders" not in output and "BuildBackendWarning" not in output
    wheel = tmp_path / built.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as contents:
        [pth] = [name for name in contents.namelist() if name.endswith(".pth")]
        assert contents.read(pth).decode().strip() == str(ROOT)
