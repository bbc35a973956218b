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
