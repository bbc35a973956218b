"""Paperboy's Postgres backend: `bot.ports.store.Store` on a database any number of Paperboy processes share.

Found by ``bot.ports.store.open_store`` through the ``paperboy.storage`` entry point ``postgresql``.
"""

from __future__ import annotations

from typing import Any

from storage.postgres.store import PostgresStore

__all__ = ["PostgresStore", "open_store"]


async def open_store(database: str, *, exclusive: bool = False, **ignored: Any) -> PostgresStore:
    """Open the Postgres database at the ``postgresql://`` URL *database*, migrated to the latest schema.

    *exclusive* changes nothing: processes sharing a Postgres database coordinate through it.
    Options meant for SQLite (busy timeout, readers) are ignored; ``search_budget`` is used.
    """
    options = {k: v for k, v in ignored.items() if k in ("search_budget", "apply_migrations", "claim_lease")}
    return await PostgresStore.open(database, **options)
