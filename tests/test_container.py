"""The image, built and run in a real container engine (podman or docker): what an operator does.

Skipped, with one line saying why, on a machine without an engine. The base image comes from
``PAPERBOY_TEST_BASE_IMAGE`` (``python:3.11-slim`` where a registry answers), else from
``scripts/base-image.sh`` (debootstrap, root): the engine keeps it, and the dependency layer of the
build (until pyproject.toml's dependency list changes), across runs, so only the first run on a machine
is slow. The containers share the host's network, so the fake Hugging Face on 127.0.0.1 answers them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tomllib
import tempfile
import time
from collections.abc import Iterator
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = shutil.which("podman") or shutil.which("docker")
IMAGE = "localhost/paperboy:test"
UNATTENDED = "no platform is configured"
PASSWORD = "p@ss:w/rd#%?&= x"  # every character that breaks a URL

if ENGINE is None:  # one line for the whole file
    pytest.skip("no container engine (podman or docker) on PATH", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _base_image() -> str:
    given = os.environ.get("PAPERBOY_TEST_BASE_IMAGE")
    if given:
        return given
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        pytest.skip("the base image needs root and debootstrap (scripts/base-image.sh), "
                    "or PAPERBOY_TEST_BASE_IMAGE=python:3.11-slim")
    made = subprocess.run([str(ROOT / "scripts" / "base-image.sh"), ENGINE], capture_output=True, text=True,
                          timeout=900)
    assert made.returncode == 0, f"scripts/base-image.sh failed:\n{made.stderr[-3000:]}"
    return made.stdout.strip()


def _packages() -> list[str]:
    """The top-level packages the build installs (pyproject's ``find`` include), so a new one is never missed."""
    found = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]["find"]
    return sorted({pattern.split(".")[0].rstrip("*") for pattern in found["include"]})


def _context(folder: Path) -> Path:
    """What the build reads, copied with one fixed time and mode on every file.

    buildah (podman) keys its layer cache on the copied files' metadata too: a fresh clone in CI, or
    another umask, would miss it and install every dependency again.
    """
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, folder / name)
    for package in _packages():
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
        os.utime(path, (946684800, 946684800))
    return folder


def _build(context: Path, tag: str) -> str:
    """Build *context* as the README says (podman: --format docker, or the HEALTHCHECK is dropped); its output."""
    command = [ENGINE, "build", "--build-arg", f"BASE={_base_image()}", "-t", tag]
    if Path(ENGINE).name == "podman":
        command += ["--format", "docker"]
    ca = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    if os.path.exists(ca):  # a proxy that re-signs TLS: pip inside the build trusts what this host trusts
        command += ["--secret", f"id=pip_cert,src={ca}"]
    built = subprocess.run([*command, str(context)], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, f"the build failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    return built.stdout + built.stderr


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    context = _context(tmp_path_factory.mktemp("context"))
    before = _image_id(IMAGE)
    started = time.monotonic()
    assert "useradd warning" not in _build(context, IMAGE)
    if before and before != _image_id(IMAGE):  # the last run's image, now untagged: do not pile them up
        subprocess.run([ENGINE, "rmi", before], capture_output=True)
    print(f"image built in {time.monotonic() - started:.0f} s")
    return IMAGE


def _steps(output: str) -> list[tuple[str, bool, str]]:
    """The steps of a podman build, in order: each one's instruction, whether its layer came from the cache,
    and the layer's image id."""
    steps: list[tuple[str, bool, str]] = []
    for line in output.splitlines():
        if re.match(r"(\[\d+/\d+\] )?STEP \d+/\d+: ", line):
            steps.append((line.split(": ", 1)[1], False, ""))
        elif steps and line.startswith("--> Using cache"):
            steps[-1] = (steps[-1][0], True, steps[-1][2])
        elif steps and re.fullmatch(r"--> [0-9a-f]+", line):
            steps[-1] = (*steps[-1][:2], line.removeprefix("--> "))
    return steps


def test_a_pyproject_change_outside_the_dependencies_keeps_the_dependency_layer(image, tmp_path):
    """Only the dependency list keys the slow `pip install` layer (a minute and a half here), not the whole
    pyproject.toml: a changed tool setting reruns the small stage that lists them and the code's layers, in seconds."""
    if Path(ENGINE).name != "podman":
        pytest.skip("reads podman's build output")
    context = _context(tmp_path)
    pyproject = context / "pyproject.toml"
    # A value of this run's own: a pyproject.toml this engine has never built, so nothing of it is cached.
    pyproject.write_text(pyproject.read_text(encoding="utf-8")
                         + f'\n[tool.paperboy-image-test]\nrun = "{os.urandom(8).hex()}"\n', encoding="utf-8")
    os.utime(pyproject, (946684800, 946684800))  # as _context leaves every file
    tag = f"{IMAGE}-cache"
    started = time.monotonic()
    steps = []
    try:
        steps = _steps(_build(context, tag))
    finally:  # the image and this run's layers, the first stage's too (no later run can use them)
        new = [layer for _, cached, layer in reversed(steps) if layer and not cached]  # the children first
        subprocess.run([ENGINE, "rmi", "--ignore", tag, *new], capture_output=True)
    print(f"rebuilt in {time.monotonic() - started:.0f} s")
    [dependencies] = [cached for step, cached, _ in steps if "-r /tmp/requirements.txt" in step]
    [code] = [cached for step, cached, _ in steps if "--no-deps" in step]
    assert dependencies, f"the dependencies were installed again:\n{steps}"
    assert not code, "the changed pyproject.toml never reached the build"


def _image_id(name: str) -> str:
    found = subprocess.run([ENGINE, "image", "inspect", "--format", "{{.Id}}", name], capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else ""


async def engine(*args: str, stdin: bytes | None = None, timeout: float = 120) -> tuple[int, str, str]:
    """Run the engine with *args*; return its exit status, standard output and error (engine noise dropped)."""
    process = await asyncio.create_subprocess_exec(
        ENGINE, *args, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    return process.returncode, out.decode(), _ours(err.decode())


def _ours(err: str) -> str:
    # podman without systemd logs that it cannot set a timer for the HEALTHCHECK: not the container's output.
    return "\n".join(line for line in err.splitlines() if "level=" not in line)


def on_host_network(fake_hf) -> list[str]:
    return ["--network", "host", "-e", f"PAPERBOY_HF_API_URL={fake_hf.base_url}",
            "-e", f"PAPERBOY_ARXIV_API_URL={fake_hf.base_url}"]


async def test_the_image_answers_its_version_as_a_user_of_its_own(image):
    code, out, err = await engine("run", "--rm", image, "sh", "-c", "paperboy --version; id")
    assert code == 0, err
    version, ids = out.splitlines()
    assert version == f"paperboy {metadata.version('paperboy')}"
    assert ids.startswith("uid=10001(paperboy) gid=10001(paperboy)")
    assert await _inspect(image, "Entrypoint") == ["tini", "--"], "PID 1 must pass SIGTERM on and reap"
    assert "/healthz" in await _healthcheck(image), "the engine dropped the HEALTHCHECK"


async def test_the_readme_docker_run_route_with_env_example(image):
    """`--env-file .env.example` keeps the image's log and health settings, and no token means one line, exit 1."""
    env_file = str(ROOT / ".env.example")
    code, out, err = await engine("run", "--rm", "--env-file", env_file, image,
                                  "sh", "-c", 'echo "$PAPERBOY_LOG_FILE $PAPERBOY_HEALTH_PORT"')
    assert (code, out.strip()) == (0, "- 8080"), err
    code, out, err = await engine("run", "--rm", "--env-file", env_file, image)  # no -i: stdin is /dev/null
    assert code == 1, (out, err)
    [line] = err.splitlines()
    assert line.startswith(f"paperboy: {UNATTENDED}") and "paperboy console" in line
    assert out == ""


async def test_doctor_in_the_container_passes_a_fresh_and_an_empty_database(image, fake_hf):
    code, out, err = await engine("run", "--rm", *on_host_network(fake_hf), image, "paperboy", "doctor")
    assert code == 0, out + err
    assert "✓ database: /data/paperboy.db does not exist yet" in out
    assert f"✓ Hugging Face: {fake_hf.base_url} answers" in out
    code, out, err = await engine("run", "--rm", *on_host_network(fake_hf), image,
                                  "sh", "-c", "touch /data/paperboy.db && paperboy doctor")
    assert code == 0, out + err
    assert "✓ database: /data/paperboy.db is empty; Paperboy creates its tables at first start" in out


async def test_a_console_command_piped_into_the_container(image, fake_hf):
    code, out, err = await engine("run", "-i", "--rm", *on_host_network(fake_hf), image, "paperboy", "console",
                                  stdin=b"/papers trending 2\n")
    assert code == 0, err
    assert fake_hf.items[fake_hf.trending_ids[0]]["paper"]["title"] in out
    assert "Traceback" not in err


async def test_healthy_then_stopped_by_sigterm_within_seconds(image, fake_hf):
    name, port = f"paperboy-test-{os.getpid()}", free_port()
    bot = await asyncio.create_subprocess_exec(  # -i: console input stays open, so the bot serves
        ENGINE, "run", "-i", "--rm", "--name", name, *on_host_network(fake_hf),
        "-e", f"PAPERBOY_HEALTH_PORT={port}", image,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await _until_healthy(f"http://127.0.0.1:{port}/healthz", bot)
        code, out, err = await engine("exec", name, "sh", "-c", await _healthcheck(image))
        assert code == 0, f"the image's HEALTHCHECK fails on a healthy bot: {out}{err}"
        started = time.monotonic()
        code, _, err = await engine("stop", "-t", "30", name, timeout=60)
        stopped = time.monotonic() - started
        assert code == 0, err
        status = await asyncio.wait_for(bot.wait(), 30)
        print(f"stopped in {stopped:.1f} s")
        assert stopped < 5, f"SIGTERM took {stopped:.1f} s: did PID 1 pass it on?"
        assert status == 0, _ours((await bot.stderr.read()).decode())
        assert "Traceback" not in (await bot.stderr.read()).decode()
    finally:
        if bot.returncode is None:
            await engine("rm", "-f", name)
            await bot.wait()


async def _inspect(image: str, field: str):
    # One field at a time: podman leaves Healthcheck out of {{json .Config}} but answers {{json .Config.Healthcheck}}.
    code, out, err = await engine("image", "inspect", "--format", f"{{{{json .Config.{field}}}}}", image)
    assert code == 0, err
    return json.loads(out)


async def _healthcheck(image: str) -> str:
    """The shell command of the image's HEALTHCHECK."""
    found = await _inspect(image, "Healthcheck")
    assert found and found["Test"][0] == "CMD-SHELL", f"no HEALTHCHECK in the image: {found}"
    return found["Test"][1]


async def _until_healthy(url: str, bot: asyncio.subprocess.Process, *, within: float = 90) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert bot.returncode is None, _ours((await bot.stderr.read()).decode())
        try:
            with await asyncio.to_thread(urllib.request.urlopen, url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise AssertionError(f"{url} never answered 200 within {within:.0f} s")


class PasswordPostgres:
    """A Postgres of its own on 127.0.0.1 that asks for a password (pgserver's binaries; scram-sha-256)."""

    def __init__(self) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        self.bin = Path(POSTGRES_BIN_PATH)
        self.folder = Path(tempfile.mkdtemp(prefix="paperboy-pgpass-"))
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:  # Postgres refuses root: run it as pgserver's own user
            from pgserver.utils import ensure_user_exists

            self.user = ensure_user_exists("pgserver").pw_name
            self.folder.chmod(0o755)
            shutil.chown(self.folder, self.user)
        (self.folder / "pw").write_text(PASSWORD)
        self._run("initdb", "-D", str(self.folder / "data"), "-U", "paperboy", "--auth=scram-sha-256",
                  f"--pwfile={self.folder / 'pw'}")
        self.start()

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([str(self.bin / program), *args], user=self.user, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, f"{program}: {done.stderr}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-w", "-l", str(self.folder / "log"), "-o",
                  f"-h 127.0.0.1 -p {self.port} -k {self.folder}", "start")
        self.running = True

    def stop(self, *, wait: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w" if wait else "-W", "stop")
        self.running = False

    async def fresh_database(self) -> str:
        """A new, empty database (the server started again if a test stopped it); return its URL."""
        import asyncpg

        if not self.running:
            self.start()
        name = f"t_{os.urandom(6).hex()}"
        admin = await asyncpg.connect(host="127.0.0.1", port=self.port, user="paperboy", password=PASSWORD,
                                      database="postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        return f"postgresql://paperboy@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="module")
def password_server() -> Iterator[PasswordPostgres]:
    server = PasswordPostgres()
    try:
        yield server
    finally:
        if server.running:
            server.stop(wait=False)
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
async def password_postgres(password_server: PasswordPostgres) -> str:
    """The URL of a new, empty database on a Postgres that asks for PASSWORD."""
    return await password_server.fresh_database()


async def test_doctor_logs_in_to_postgres_with_pgpassword_of_any_characters(image, fake_hf, password_postgres):
    """compose.yaml's way: the URL without the password, PGPASSWORD beside it; a fresh database passes."""
    database = ["-e", f"PAPERBOY_DATABASE={password_postgres}"]
    code, out, err = await engine("run", "--rm", *on_host_network(fake_hf), *database, "-e", f"PGPASSWORD={PASSWORD}",
                                  image, "paperboy", "doctor")
    assert code == 0, out + err
    assert f"✓ database: {password_postgres} is empty; Paperboy creates its tables at first start" in out
    code, out, _ = await engine("run", "--rm", *on_host_network(fake_hf), *database, "-e", "PGPASSWORD=wrong",
                                image, "paperboy", "doctor")
    assert code == 1 and "✗ database:" in out, "the server must really check the password"


@pytest.fixture
def silent_dns() -> Iterator[str]:
    """A DNS server that never answers (port 53 of 127.0.0.2, so root only): look-ups wait out their timeouts."""
    if os.geteuid() != 0:
        pytest.skip("a silent DNS server needs port 53: root only")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.2", 53))
        yield "127.0.0.2"


@pytest.mark.parametrize("gone", ["server", "host name"])
async def test_stopped_within_the_grace_period_when_its_database_is_gone(image, fake_hf, password_server, gone,
                                                                        silent_dns):
    """The database container stopped first (compose down, a crash): SIGTERM still ends Paperboy in time.

    With "host name", its name stops resolving too and the DNS server stays silent, as a compose
    network's does for a stopped service: look-ups hang in the resolver's threads.
    """
    name, port = f"paperboy-test-db-{os.getpid()}", free_port()
    url = (await password_server.fresh_database()).replace("127.0.0.1", "db")
    bot = await asyncio.create_subprocess_exec(
        ENGINE, "run", "-i", "--rm", "--name", name, *on_host_network(fake_hf), "--add-host", "db:127.0.0.1",
        "--dns", silent_dns, "-e", f"PAPERBOY_HEALTH_PORT={port}", "-e", f"PAPERBOY_DATABASE={url}",
        "-e", f"PGPASSWORD={PASSWORD}", image,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await _until_healthy(f"http://127.0.0.1:{port}/healthz", bot)
        password_server.stop()
        if gone == "host name":
            code, _, err = await engine("exec", "-u", "0", name, "sh", "-c",
                                        "grep -v '[[:space:]]db$' /etc/hosts > /tmp/hosts; cat /tmp/hosts > /etc/hosts")
            assert code == 0, err
            await asyncio.sleep(3)  # the bot notices and starts reconnecting
        started = time.monotonic()
        code, _, err = await engine("stop", "-t", "30", name, timeout=60)
        stopped = time.monotonic() - started
        assert code == 0, err
        await asyncio.wait_for(bot.wait(), 30)
        print(f"stopped in {stopped:.1f} s with the database {gone} gone")
        assert stopped < 15, f"SIGTERM took {stopped:.1f} s with the database {gone} gone (grace: 10 s)"
    finally:
        if bot.returncode is None:
            await engine("rm", "-f", name)
            await bot.wait()
