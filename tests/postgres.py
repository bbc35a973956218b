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
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

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
