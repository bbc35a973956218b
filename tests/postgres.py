"""A real Postgres for the tests: `PAPERBOY_TEST_POSTGRES_URL` when set, else one the tests start.

pgserver (a `dev` extra) ships PostgreSQL as a wheel and starts it on a Unix socket in about a
second, so `make test` on a fresh machine runs every Postgres test. Each test gets a database of
its own, made fresh and dropped after: empty (`postgres_url`), or, for the contract tests, a copy of
one database migrated once per run (`postgres_template`): copying is a file copy, migrating takes
a few hundred statements, and the store's own migration check still runs on the copy.
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
    # A throwaway server needs no disk flushes (the tests kill clients, never the machine): without them,
    # making and dropping a database per test takes a tenth of the time. Taken on a reload, no restart.
    server.psql("ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off; "
                "ALTER SYSTEM SET full_page_writes = off; SELECT pg_reload_conf();")
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


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """The name of a database on the shared server that Paperboy migrated to its latest schema, for copies."""
    import asyncio

    name = f"template_{secrets.token_hex(6)}"  # its own name: a server given from outside may serve both workers

    async def make() -> None:
        from bot.ports.store import open_store

        await _admin(postgres_server, f'CREATE DATABASE "{name}"')
        store = await open_store(with_database(postgres_server, name))
        await store.close()  # a template takes no connections, or copying it fails

    asyncio.run(make())
    yield name
    asyncio.run(_admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(postgres_server: str, statement: str) -> None:
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@asynccontextmanager
async def fresh_database(postgres_server: str, template: str | None = None) -> AsyncIterator[str]:
    """Make a new database on *postgres_server*, empty or a copy of *template*; yield its URL; drop it after."""
    name = f"t_{secrets.token_hex(6)}"
    await _admin(postgres_server, f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    yield with_database(postgres_server, name)
    await _admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
