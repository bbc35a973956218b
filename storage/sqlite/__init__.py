"""Paperboy's storage backends: SQLite (this package, the default) and Postgres (`storage.postgres`).

Each implements the core's `bot.ports.store.Store` Protocol; `bot.ports.store.open_store` picks one by the
scheme of ``PAPERBOY_DATABASE`` through the ``paperboy.storage`` entry points.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from bot.model.rows import Channel, Delivery, Topic
from bot.ports.store_errors import (
    CorruptDatabase, DatabaseInUse, ReadOnlyDatabase, SchemaTooNewError, UnusableDatabase,
)
from storage.sqlite.db import storage_reason
from storage.sqlite.versions import latest_version, migrate
from storage.sqlite.papers import MAX_SEARCH_TERMS, SearchTooBroad
from storage.sqlite.store import Store

__all__ = [
    "MAX_SEARCH_TERMS", "Channel", "CorruptDatabase", "DatabaseInUse", "Delivery", "ReadOnlyDatabase",
    "SchemaTooNewError", "SearchTooBroad", "Store", "Topic", "UnusableDatabase", "latest_version", "migrate",
    "open_store",
]


async def open_store(database: str, **options: Any) -> Store:
    """Open the SQLite file *database* for the core (options as `Store.open`'s).

    An SQLite error at opening becomes `UnusableDatabase` with a short reason, so the core
    needs to know nothing of SQLite.
    """
    options.pop("claim_lease", None)  # one process per file: no other process's claims to wait out
    try:
        return await Store.open(database, **options)
    except sqlite3.Error as error:
        reason = storage_reason(error)
        if reason is not None and reason != "the database file is damaged":
            raise UnusableDatabase(f"{reason} ({error})") from None
        raise CorruptDatabase(f"SQLite cannot open it ({error})") from None
