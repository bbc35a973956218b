"""A real Postgres for the tests: `PAPERBOY_TEST_POSTGRES_URL` when set, else one the tests start.

pgserver (a `dev` extra) ships PostgreSQL as a wheel and starts it on a Unix socket in about a
second, so `make test` on a fresh machine runs every Postgres test. Each test gets a database of
its own, made fresh and dropped after.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import pytest


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a Postgres server the whole run shares (its ``postgres`` database)."""
    given = os.environ.get("PAPERBOY_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    import pgserver

    folder = tempfile.mkdtemp(prefix="paperboy-pg-")
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def with_database(url: str, name: str) -> str:
    """Return *url* pointing at database *name* on the same server (the ``?host=`` form included)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
async def postgres_url(postgres_server: str) -> AsyncIterator[str]:
    """A new, empty database on the shared server, dropped after the test."""
    async with fresh_database(postgres_server) as url:
        yield url


@asynccontextmanager
async def fresh_database(postgres_server: str) -> AsyncIterator[str]:
    """Make a new, empty database on *postgres_server*; yield its URL; drop it after."""
    name = f"t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield with_database(postgres_server, name)
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _pgdata(server_url: str) -> Path:
    """The data folder of the pgserver the tests started (its socket folder); skip for a server given from outside."""
    if os.environ.get("PAPERBOY_TEST_POSTGRES_URL"):
        pytest.skip("stopping Postgres needs the server the tests start themselves (PAPERBOY_TEST_POSTGRES_URL is set)")
    folder = Path(parse_qs(urlsplit(server_url).query)["host"][0])
    assert (folder / "PG_VERSION").exists(), folder
    return folder


@contextmanager
def server_stopped(server_url: str) -> Iterator[None]:
    """Stop the tests' Postgres server (as a restart or a failover does) for the block, then start it again.

    It comes back on the same socket, so every URL still works; the restart happens whatever the block does,
    as the later tests of this worker use the same server.
    """
    from pgserver._commands import pg_ctl

    folder = _pgdata(server_url)
    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs it as this user when the tests are root
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=folder, user=user, timeout=30)
    try:
        yield
    finally:
        pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {folder}", "-l", str(folder / "log"), "start"],
               pgdata=folder, user=user, timeout=30)
