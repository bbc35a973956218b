"""`PostgresStore`: the core's `bot.ports.store.Store` on a Postgres database shared by any number of processes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import asyncpg

from bot.model.paper import Paper
from storage.sqlite.papers import SEARCH_BUDGET
from storage.postgres import migrate, portable
from storage.postgres.bulk_enqueue import BulkEnqueueQueries
from storage.postgres.channels import ChannelQueries
from storage.postgres.community import CommunityQueries
from storage.postgres.connection import create_pool, storage_reason, unreachable
from storage.postgres.coordination import CLAIM_LEASE, Coordination
from storage.postgres.feeds import FeedQueries
from storage.postgres.history import HistoryQueries
from storage.postgres.installations import InstallationQueries
from storage.postgres.ledger import LedgerQueries
from storage.postgres.outbox import OutboxQueries
from storage.postgres.papers import PaperQueries
from storage.postgres.signals import SignalQueries
from storage.schema import pending_names


class PostgresStore(PaperQueries, ChannelQueries, LedgerQueries, OutboxQueries, InstallationQueries, CommunityQueries,
                    SignalQueries, Coordination, BulkEnqueueQueries, FeedQueries,
                    HistoryQueries):
    """Paperboy's Postgres database. Open it with ``await PostgresStore.open(url)``.

    Methods borrow connections from a pool; one more connection, kept for the store's life,
    holds its presence lock and the roles it leads (see `storage.postgres.coordination`).
    """

    def __init__(self, pool: asyncpg.Pool, database: str) -> None:
        super().__init__(pool)
        self._database = database
        self._session_lock = asyncio.Lock()
        self._roles = set()

    @classmethod
    async def open(cls, database: str, *, search_budget: float = SEARCH_BUDGET, pool_size: int = 10,
                   apply_migrations: bool = True, claim_lease: float = CLAIM_LEASE) -> PostgresStore:
        """Connect to *database*, migrate it to the latest schema, and take this store's presence lock.

        Without *apply_migrations* the schema is left as it is, for `pending_migrations` to report.

        Raises `DatabaseUnreachable` when the server cannot be reached or refuses the login, and
        `SchemaTooNewError` when a newer Paperboy wrote the database.
        """
        pool = await create_pool(database, max_size=pool_size)
        store = cls(pool, database)
        store._search_budget = search_budget
        store.claim_lease = claim_lease
        try:
            async with pool.acquire() as conn:
                if apply_migrations:
                    await migrate.migrate(conn)
                else:  # still find out now whether the server answers
                    await conn.fetchval("SELECT 1")
            await store._open_session()
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            await store.close()
            if storage_reason(error) is None and isinstance(error, asyncpg.PostgresError):
                raise  # bad SQL in a migration is a bug, not an unreachable server
            raise unreachable(database, error) from None
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        """Let go of the channels being delivered, close the session connection (presence, roles), then the pool.

        While the server is failing, none of that can be said to it: the connections are dropped at once
        (the server lets go of their locks, the leases run out), so a stop is not held up by it.
        """
        if self.trouble is not None:
            session, self._session = self._session, None
            if session is not None:
                session.terminate()
            self._pool.terminate()
            return
        if self.owner:
            try:
                await asyncio.wait_for(self.release_channels(), timeout=5)
            except Exception:  # closing anyway: the leases run out by themselves
                pass
        await self._close_session()
        try:
            await asyncio.wait_for(self._pool.close(), timeout=10)
        except (asyncio.TimeoutError, OSError, asyncpg.InterfaceError):
            self._pool.terminate()

    async def __aenter__(self) -> PostgresStore:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def schema_version(self) -> int:
        async with self._translated(), self._pool.acquire() as conn:
            return await migrate.schema_version(conn)

    async def pending_migrations(self) -> list[str]:
        """Return the names of the migrations this Paperboy has that the database lacks; it changes nothing."""
        return pending_names(migrate.migrations(), await self.schema_version())

    async def get_state(self, key: str) -> str | None:
        return await self._fetchval("SELECT value FROM state WHERE key = $1", key)

    async def set_state(self, key: str, value: str | None) -> None:
        """Store *value* under *key*; None deletes the key."""
        if value is None:
            await self._execute("DELETE FROM state WHERE key = $1", key)
        else:
            await self._execute(
                "INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                key, value)

    async def dump_table(self, table: str) -> list[dict[str, Any]]:
        """Return every row of *table* (one of `bot.ports.store.PORTABLE_TABLES`) in the portable form."""
        rows = await self._fetch(portable.select_sql(table))
        return [portable.from_postgres(table, row) for row in rows]

    async def load_table(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert *rows* (portable form, ids kept) into *table* in one transaction, then move its id sequence past them."""
        if not rows:
            return
        if table == "papers":  # through the upsert, which also writes the search index
            await self.save_papers([Paper.model_validate_json(row["data"]) for row in rows])
            return
        sql = portable.insert_sql(table)
        async with self._transaction() as conn:
            await conn.executemany(sql, [portable.to_postgres(table, row) for row in rows])
            if table in portable.IDENTITY_TABLES:
                # The next id the database hands out must not be one just loaded.
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table} HAVING max(id) > 0")
