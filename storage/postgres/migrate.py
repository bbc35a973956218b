"""The numbered ``.sql`` files of ``storage/postgres/migrations`` and applying them exactly once."""

from __future__ import annotations

from functools import lru_cache

import asyncpg

from bot.ports.store_errors import SchemaTooNewError
from storage.schema import Migration, read_migrations

MIGRATION_LOCK = 0x70617065  # "pape": any constant, the same in every Paperboy process
"""The advisory lock key under which one process at a time looks at and applies migrations."""

@lru_cache(maxsize=1)
def migrations() -> tuple[Migration, ...]:
    """Return Postgres's migrations (``storage/postgres/migrations``) in order."""
    return read_migrations(__package__)


def latest_version() -> int:
    return migrations()[-1].version


async def schema_version(conn: asyncpg.Connection) -> int:
    """Return the database's version, 0 for a database Paperboy has never migrated."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    return await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")


async def migrate(conn: asyncpg.Connection) -> int:
    """Bring the database to the latest version in one transaction; return the version reached.

    The transaction-scoped advisory lock makes processes starting together on an empty
    database wait for each other: the first applies everything, the others then find it done.
    """
    known = latest_version()
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY,"
                           " applied_at timestamptz NOT NULL DEFAULT now())")
        current = await schema_version(conn)
        if current > known:
            raise SchemaTooNewError(
                f"the database is at schema version {current}, but this Paperboy only knows versions up to "
                f"{known}; run a newer Paperboy or restore a backup"
            )
        for migration in migrations()[current:]:
            await conn.execute(migration.sql)
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", migration.version)
    return known
