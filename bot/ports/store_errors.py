"""What the core hears from storage when the database itself is in trouble (any backend raises these)."""

from __future__ import annotations


class StorageUnavailable(Exception):
    """A read or write failed for a reason that may pass (disk full, read-only file, lock held).

    ``str(error)`` is a short reason fit for ``status`` and the log. Nothing half-written is kept:
    the caller retries later with backoff.
    """


class StorageLost(Exception):
    """The database is gone or was replaced under us (file deleted, moved, swapped).

    Writing on would lose everything silently, so Paperboy stops, naming the database.
    """


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer Paperboy than this one."""


class UnusableDatabase(RuntimeError):
    """At start-up, the database cannot be used as it is; ``str(error)`` says why, in a few words."""


class CorruptDatabase(UnusableDatabase):
    """The file is not an SQLite database, or ``PRAGMA quick_check`` found it damaged."""


class ReadOnlyDatabase(UnusableDatabase):
    """The database could be opened only for reading (file, folder or file system read-only)."""


class DatabaseInUse(UnusableDatabase):
    """Another Paperboy process already runs on this SQLite file, which one process must own."""


class DatabaseUnreachable(UnusableDatabase):
    """The Postgres server at ``PAPERBOY_DATABASE`` cannot be reached, or refuses Paperboy's login."""
