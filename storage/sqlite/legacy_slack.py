"""Slack installations as slack_sdk's own sqlite3 store kept them, before migration 0005.

Paperboy used to hand Slack's "Add to Slack" records to slack_sdk's ``SQLite3InstallationStore``,
which made its tables ``slack_installations`` and ``slack_bots`` in Paperboy's own file. Those
tables are left as they were (nothing is dropped); this reads them back as plain rows, so the
Slack adapter can turn them into records of the ``installations`` table once.
"""

from __future__ import annotations

from typing import Any

from storage.sqlite.db import Queries

LEGACY_TABLES = {"installation": "slack_installations", "bot": "slack_bots"}
"""Each kind of record, and the table slack_sdk's sqlite3 store kept it in."""


class LegacySlackQueries(Queries):
    """Read the rows of slack_sdk's old sqlite3 installation store, where the file still has them."""

    async def legacy_slack_installations(self) -> list[tuple[str, dict[str, Any]]]:
        """Return every row of ``slack_installations`` and ``slack_bots`` as (kind, {column: value}), newest last.

        Values are as SQLite holds them (``installed_at`` is text such as ``2024-03-01 12:00:00``,
        ``bot_scopes`` comma-separated text); [] when the file never had those tables.
        """
        present = {
            row["name"] for row in await self._fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
                tuple(LEGACY_TABLES.values()),
            )
        }
        found: list[tuple[str, str, int, int, dict[str, Any]]] = []
        for order, (kind, table) in enumerate(LEGACY_TABLES.items()):
            if table not in present:
                continue
            # The table name is one of ours, not input. SELECT *: tables made by an older slack_sdk lack columns.
            for row in await self._fetchall(f"SELECT * FROM {table}", slow=True):
                record = dict(row)
                # An installation before the bot it brought: slack_sdk wrote them in that order.
                found.append((str(record.get("installed_at") or ""), kind, order, int(record.get("id") or 0), record))
        found.sort(key=lambda item: (item[0], item[2], item[3]))
        return [(kind, record) for _, kind, _, _, record in found]
