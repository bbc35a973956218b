"""SQLite's schema versions: its migrations (``storage/sqlite/migrations``), applied in order, each in one transaction."""

from __future__ import annotations

from functools import lru_cache

import aiosqlite

from bot.ports.store_errors import SchemaTooNewError
from storage.schema import Migration, read_migrations


@lru_cache(maxsize=1)
def migrations() -> tuple[Migration, ...]:
    """Return SQLite's migrations (``storage/sqlite/migrations``) in order."""
    return read_migrations(__package__)


def latest_version() -> int:
    """Return the schema version this code knows, the number of the last migration."""
    return migrations()[-1].version


async def schema_version(conn: aiosqlite.Connection) -> int:
    """Return the database's ``PRAGMA user_version``."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0])


async def migrate(conn: aiosqlite.Connection, *, target: int | None = None) -> int:
    """Apply every migration above the database's version up to *target* (default: the latest).

    Each migration and its ``user_version`` bump run in one transaction, so a failed
    migration leaves the database exactly as it was. Returns the version reached.
    """
    known = latest_version()
    target = known if target is None else target
    current = await schema_version(conn)
    if current > known:
        raise SchemaTooNewError(
            f"the database is at schema version {current}, but this Paperboy only knows versions up to "
            f"{known}; run a newer Paperboy or restore a backup"
        )
    if not 0 <= target <= known:
        raise ValueError(f"target version must be between 0 and {known}, not {target}")
    if target < current:
        raise ValueError(f"cannot migrate down from version {current} to {target}")
    for migration in migrations()[current:target]:
        # executescript commits anything pending first and runs the script as written, so the
        # explicit BEGIN/COMMIT make the migration and its version bump one transaction.
        script = f"BEGIN;\n{migration.sql}\n;PRAGMA user_version = {migration.version};\nCOMMIT;"
        try:
            await conn.executescript(script)
        except BaseException:
            if conn.in_transaction:
                await conn.rollback()
            raise
    return target
