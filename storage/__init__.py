"""Paperboy's storage backends, each behind the core's `bot.ports.store` Protocols: SQLite (`storage.sqlite`, the default) and Postgres (`storage.postgres`); `schema` is what both share."""
