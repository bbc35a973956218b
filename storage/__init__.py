"""Paperboy's SQLite storage: `Store` and the rows it returns."""

from storage.db import CorruptDatabase, ReadOnlyDatabase, SchemaTooNewError, UnusableDatabase, latest_version, migrate
from storage.models import Channel, Delivery, Topic
from storage.papers import MAX_SEARCH_TERMS, SearchTooBroad
from storage.store import Store

__all__ = [
    "MAX_SEARCH_TERMS", "Channel", "CorruptDatabase", "Delivery", "ReadOnlyDatabase", "SchemaTooNewError",
    "SearchTooBroad", "Store", "Topic", "UnusableDatabase", "latest_version", "migrate",
]
