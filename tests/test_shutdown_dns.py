"""SIGTERM ends Paperboy within its grace period whatever the database's DNS does.

The bot runs as a subprocess on the tests' Postgres, reached over TCP (a small proxy on 127.0.0.1
in front of pgserver's socket) under a host name. The name service is the one thing outside this
machine, so it is the one thing stood in for: the subprocess's ``socket.getaddrinfo`` resolves the
name to 127.0.0.1 until a flag file appears, then hangs in the look-up as an unanswering DNS server
does. The test cuts the proxy (the database host "goes away"), lets the reconnects get stuck in the
resolver, sends SIGTERM, and times the exit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg

from bot.delivery.worker import STOP_GRACE

ROOT = Path(__file__).resolve().parents[1]
HOST = "db.paperboy.test"
HANG = 120.0
"""How long the stood-in resolver hangs: far past the grace, as a DNS server that never answers."""

RESOLVER = f'''
import os, socket, time

_real = socket.getaddrinfo


def getaddrinfo(host, *args, **kwargs):
    if host == {HOST!r}:
        if os.path.exists(os.environ["PAPERBOY_TEST_DNS_HANG"]):
            time.sleep({HANG})
        host = "127.0.0.1"
    return _real(host, *args, **kwargs)


socket.getaddrinfo = getaddrinfo
'''


class Proxy:
    """TCP on 127.0.0.1 to a Unix socket; `cut` closes the listener and every connection through it."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        except OSError:
            writer.close()
            return
        self.writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def cut(self) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()


async def test_sigterm_exits_within_the_grace_while_the_database_host_does_not_resolve(tmp_path, postgres_url):
    parts = urlsplit(postgres_url)
    socket_dir = parse_qs(parts.query).get("host", [None])[0]
    if socket_dir is None:
        import pytest

        pytest.skip("the proxy needs the tests' own pgserver (a Unix socket)")
    proxy = Proxy(f"{socket_dir}/.s.PGSQL.{parts.port or 5432}")
    port = await proxy.start()
    url = f"postgresql://postgres@{HOST}:{port}{parts.path}"
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(RESOLVER))
    flag = tmp_path / "dns-hangs"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))}
    env |= {"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "HOME": str(tmp_path), "PAPERBOY_DATABASE": url,
            "PAPERBOY_HF_API_URL": "http://127.0.0.1:9", "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9",
            "PAPERBOY_POLL_INTERVAL": "1", "PAPERBOY_LOG_FILE": "-", "PAPERBOY_TEST_DNS_HANG": str(flag)}
    log = tmp_path / "bot.log"
    with log.open("wb") as errors:
        bot = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "poll", env=env, cwd=tmp_path,
                                                   stdin=asyncio.subprocess.DEVNULL, stdout=errors, stderr=errors)
    try:
        await _until_polled(postgres_url)
        flag.touch()  # from now on the name does not resolve: look-ups hang
        await proxy.cut()  # and the connections the bot had are gone: it reconnects, into the resolver
        await _until(lambda: "database failing" in log.read_text(), timeout=15)
        await asyncio.sleep(1.0)  # the pool's reconnects are in the resolver now
        started = time.monotonic()
        bot.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(bot.wait(), STOP_GRACE + 10)
        except asyncio.TimeoutError:
            raise AssertionError(f"no exit within {STOP_GRACE + 10} s\n{log.read_text()[-3000:]}") from None
        took = time.monotonic() - started
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    text = log.read_text()
    assert took < STOP_GRACE + 2, f"stopping took {took:.1f} s\n{text[-3000:]}"
    assert code == 0, text[-3000:]
    assert "Traceback" not in text


async def _until_polled(url: str) -> None:
    async def polled() -> bool:
        conn = await asyncpg.connect(url)
        try:
            exists = await conn.fetchval("SELECT to_regclass('state') IS NOT NULL")
            return exists and bool(await conn.fetchval("SELECT value FROM state WHERE key = 'poll.started_at' "
                                                       "OR key = 'poll.next_at' LIMIT 1"))
        finally:
            await conn.close()

    deadline = time.monotonic() + 30
    while not await polled():
        assert time.monotonic() < deadline, "no poll within 30 s"
        await asyncio.sleep(0.2)


async def _until(check, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_stop_that_hangs_anyway_is_cut_short_after_the_grace_and_a_margin(tmp_path):
    """The last resort, for whatever else may hang in a stop: the process ends, its log line written."""
    code = ("import logging, time\n"
            "from bot.runtime.runner import arm_hard_stop\n"
            "logging.basicConfig(level=logging.INFO)\n"
            "arm_hard_stop(0.5)\n"
            "time.sleep(60)\n")
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, cwd=ROOT,
                                                   stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 1 and time.monotonic() - started < 10
    assert "still stopping after 2 s; quitting now" in err.decode()
