"""`paperboy db copy`: move everything Paperboy keeps from one database to another, and check the counts."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bot.runtime.settings import SettingsError, check_database
from bot.ports.platforms import platforms
from bot.ports.store import PORTABLE_TABLES, Store, backend_name, describe_database
from bot.model.wording import plural

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
"""A target without a URL scheme must name an SQLite file so: a typo is refused, not made into a file."""


class CopyRefused(Exception):
    """The copy cannot start or did not check out; ``str(error)`` says why in one line."""


@dataclass(frozen=True, slots=True)
class TableCopied:
    table: str
    source_rows: int
    target_rows: int


def check_target(target: str, source: str) -> None:
    """Raise `SettingsError` naming ``--to`` unless *target* is a postgresql:// URL, or an SQLite file whose
    name ends in .db or .sqlite that Paperboy can create, other than the *source* database."""
    shown = describe_database(target)
    if "://" in target:
        if backend_name(target) != "postgresql":
            raise SettingsError(f"--to {shown!r}: only a postgresql:// URL or an SQLite file works, "
                                f"not {target.split('://', 1)[0]}://")
    elif not target.strip().lower().endswith(SQLITE_SUFFIXES):
        raise SettingsError(f"--to {target!r}: give a postgresql://user:password@host:5432/dbname URL, "
                            "or an SQLite file whose name ends in .db or .sqlite, such as --to copy.db")
    else:
        check_database(target, "--to")
    if _same_database(target, source):
        raise SettingsError(f"--to {shown!r} is the database being copied (PAPERBOY_DATABASE); name another one")


def _same_database(target: str, source: str) -> bool:
    if "://" in target or "://" in source:
        return target == source
    return os.path.abspath(target) == os.path.abspath(source) or (
        os.path.exists(target) and os.path.exists(source) and os.path.samefile(target, source))


async def copy_database(source: Store, target: Store) -> list[TableCopied]:
    """Copy every portable table of *source* into the empty *target*, parents first, ids kept.

    Raises `CopyRefused` when *target* already holds channels, topics, papers or a ledger
    (copying into it would mix two bots' histories), when a platform has data of its own still to bring
    over (`Platform.unfinished_migration`), or when a table's count differs afterwards.
    """
    for platform in platforms():
        if (unfinished := await platform.unfinished_migration(source)) is not None:
            raise CopyRefused(unfinished)
    for table in PORTABLE_TABLES:
        if table != "state" and await target.dump_table(table):
            raise CopyRefused(f"the target already has rows in {table}; copy into an empty database")
    copied = []
    for table in PORTABLE_TABLES:
        rows = await source.dump_table(table)
        if table == "state":
            await _clear_state(target)
        await target.load_table(table, rows)
        landed = len(await target.dump_table(table))
        copied.append(TableCopied(table, len(rows), landed))
        if landed != len(rows):
            raise CopyRefused(f"{table}: {plural(len(rows), 'row')} in the source but {landed} in the target")
    return copied


async def _clear_state(target: Store) -> None:
    # A new database writes a little state at start (its own poll times); the source's wins.
    for row in await target.dump_table("state"):
        await target.set_state(row["key"], None)
