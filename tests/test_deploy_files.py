"""The deploy files say what a deploy needs, read as files (tests/test_container.py builds and runs the image).

compose.yaml is read with a small indentation walk (PyYAML is no dependency of Paperboy): enough for
its plain block style, and a layout it cannot follow fails the test rather than passing it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip())


def entry(yaml_text: str, *path: str) -> tuple[str, list[str]]:
    """The inline value of the key at *path* and the lines nested under it (comments dropped)."""
    lines = [re.sub(r"\s+#.*$", "", line) for line in yaml_text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    value = ""
    for key in path:
        assert lines, f"nothing under {path[:path.index(key)]}"
        top = _depth(lines[0])
        for i, line in enumerate(lines):
            name, colon, rest = line.strip().partition(":")
            if _depth(line) == top and colon and name.strip("'\"") == key:
                value = rest.strip().strip("'\"")
                after = lines[i + 1:]
                end = next((j for j, nested in enumerate(after) if _depth(nested) <= top), len(after))
                lines = after[:end]
                break
        else:
            raise AssertionError(f"compose.yaml has no {'.'.join(path)}")
    return value, lines


def items(lines: list[str]) -> list[str]:
    """The ``- item`` entries of a block list."""
    return [line.strip()[2:].strip().strip("'\"") for line in lines if line.strip().startswith("- ")]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions((ROOT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> str:
    return (ROOT / "compose.yaml").read_text(encoding="utf-8")


def test_the_image_is_slim_python_and_runs_as_a_user_of_its_own(dockerfile):
    assert dockerfile[0] == ("ARG", "BASE=python:3.11-slim")
    # Every stage starts from the base; the image is the last (the first only lists the dependencies).
    assert [args for word, args in dockerfile if word == "FROM"] == ["${BASE} AS deps", "${BASE}"]
    users = [i for i, (word, _) in enumerate(dockerfile) if word == "USER"]
    assert users, "no USER: the bot would run as root"
    assert dockerfile[users[-1]][1].split(":")[0] not in ("root", "0")
    installs = [i for i, (word, args) in enumerate(dockerfile) if word == "RUN" and "pip install" in args]
    assert installs and installs[-1] < users[-1], "install as root, then drop to the user"
    assert dockerfile[-1][0] == "CMD" and "paperboy" in dockerfile[-1][1]
    # Exec form behind tini: SIGTERM reaches Paperboy, whatever command the container runs.
    assert dockerfile[-2] == ("ENTRYPOINT", '["tini", "--"]')
    assert dockerfile[-1][1].startswith("[")


def test_the_user_and_group_have_fixed_ids(dockerfile):
    [users] = [args for word, args in dockerfile if word == "RUN" and "useradd" in args]
    assert "groupadd --gid 10001 paperboy" in users
    assert "--uid 10001 --gid paperboy" in users
    assert "--system" not in users, "a system user with uid 10001 makes useradd warn and picks another gid"


def test_the_image_copies_what_the_package_build_reads(dockerfile):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {project["project"]["readme"], "pyproject.toml"}
    needed |= {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {source for word, args in dockerfile if word == "COPY" for source in args.split()[:-1]}
    assert needed <= copied, f"the build needs {sorted(needed - copied)}"
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert not needed & set(ignored), "a file the build needs is kept out of the context"


def test_the_image_checks_its_health_without_curl(dockerfile):
    [healthcheck] = [args for word, args in dockerfile if word == "HEALTHCHECK"]
    command = healthcheck.partition(" CMD ")[2]
    assert command.startswith("python -c") and "urllib.request" in command
    assert "http://127.0.0.1:${PAPERBOY_HEALTH_PORT}/healthz" in command
    assert "curl" not in healthcheck
    env = " ".join(args for word, args in dockerfile if word == "ENV")
    assert re.search(r"\bPAPERBOY_HEALTH_PORT=8080\b", env)


def test_secrets_and_local_state_stay_out_of_the_build_context():
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".venv", ".git", ".env", "**/*.db", "**/__pycache__", ".pytest_cache"} <= ignored


def test_compose_runs_paperboy_on_postgres_with_a_named_volume(compose):
    url, _ = entry(compose, "services", "paperboy", "environment", "PAPERBOY_DATABASE")
    # The password stays out of the URL (characters such as @:/#% would break it): libpq's PGPASSWORD.
    assert url == "postgresql://paperboy@db:5432/paperboy", url
    given, _ = entry(compose, "services", "paperboy", "environment", "PGPASSWORD")
    password, _ = entry(compose, "services", "db", "environment", "POSTGRES_PASSWORD")
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", password), "no default password: compose asks for one"
    assert given == password, "Paperboy must log in with the password db is given"
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert re.search(r"^POSTGRES_PASSWORD=$", example, flags=re.M), ".env.example must name POSTGRES_PASSWORD"
    assert entry(compose, "services", "db", "image")[0] == "postgres:16"
    assert entry(compose, "services", "db", "environment", "POSTGRES_USER")[0] == "paperboy"
    assert entry(compose, "services", "db", "environment", "POSTGRES_DB")[0] == "paperboy"
    [mount] = items(entry(compose, "services", "db", "volumes")[1])
    name, _, target = mount.partition(":")
    assert target == "/var/lib/postgresql/data"
    assert entry(compose, "volumes", name) == ("", []), f"{name} is not a named volume"


def test_compose_starts_paperboy_once_postgres_is_ready(compose):
    assert entry(compose, "services", "paperboy", "depends_on", "db", "condition")[0] == "service_healthy"
    test, _ = entry(compose, "services", "db", "healthcheck", "test")
    # Without -h, pg_isready asks the socket, which the image's first-start server (no TCP) answers.
    assert "pg_isready -h 127.0.0.1 " in test
    assert entry(compose, "services", "paperboy", "env_file")[0] == ".env"
    assert entry(compose, "services", "paperboy", "environment", "PAPERBOY_HEALTH_PORT")[0] == "8080"


def test_env_example_leaves_the_image_settings_alone():
    """Copied to .env for `docker run --env-file`, it must not undo the image's log and health settings."""
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in ("PAPERBOY_LOG_FILE", "PAPERBOY_HEALTH_PORT"):
        assert not re.search(rf"^{name}=", example, flags=re.M), f"{name} is set in .env.example"
        assert re.search(rf"^# {name}=", example, flags=re.M), f"{name} is not shown, commented out"


def test_the_readme_systemd_unit_runs_paperboy_as_its_own_user():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    units = [block for block in re.findall(r"```ini\n(.*?)```", readme, flags=re.S) if "[Service]" in block]
    assert len(units) == 1, "the Deploy section has one systemd unit (an ```ini block)"
    settings = dict(line.split("=", 1) for line in units[0].splitlines() if "=" in line and line[0].isalpha())
    assert re.fullmatch(r"\S*/paperboy run", settings["ExecStart"]), settings["ExecStart"]
    assert settings["User"] not in ("root", "0")
    assert settings["EnvironmentFile"].startswith("/")
    assert settings["Restart"] == "on-failure"
