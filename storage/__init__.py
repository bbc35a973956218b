"""Paperboy's SQLite storage: `Store` and the rows it returns."""

from storage.db import SchemaTooNewError, latest_version, migrate
from storage.models import Channel, Delivery, Topic
from storage.store import Store

__all__ = ["Channel", "Delivery", "SchemaTooNewError", "Store", "Topic", "latest_version", "migrate"]
