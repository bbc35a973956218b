"""Issue 24: no Python file in the repository is over 400 lines; a longer one is split by what its parts hold."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400


def tracked_python_files() -> list[Path]:
    """The .py files git tracks (untracked scratch files and the virtualenv are not the repository's)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no list of tracked files")
    listed = subprocess.run(["git", "ls-files", "-z", "--", "*.py"], cwd=ROOT, capture_output=True, check=True)
    return [ROOT / name for name in listed.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def line_count(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for _ in lines)


def test_every_tracked_python_file_is_at_most_400_lines():
    files = tracked_python_files()
    assert len(files) > 100, "git listed too few files: the check would be checking nothing"
    too_long = {str(p.relative_to(ROOT)): n for p in files if (n := line_count(p)) > MAX_LINES}
    assert not too_long, f"over {MAX_LINES} lines (split by what the parts hold): {too_long}"


def test_the_line_count_counts_a_last_line_without_a_newline(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("a = 1\nb = 2")
    assert line_count(path) == 2
