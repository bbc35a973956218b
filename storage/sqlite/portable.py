"""The portable row form `paperboy db copy` moves between backends, and SQLite's side of it.

Columns are listed per table, with how SQLite stores each: ``time`` as ISO-8601 text,
``bool`` as 0/1, ``ids`` (a list of paper ids) as a JSON array; the rest as they are.
"""

from __future__ import annotations

import json
from typing import Any

from storage.sqlite.db import from_db, to_db

COLUMNS: dict[str, dict[str, str]] = {
    "channels": {
        "id": "int", "platform": "text", "workspace": "text", "channel": "text", "realtime": "bool",
        "digest_time": "text", "timezone": "text", "top_n": "int", "min_upvotes": "int",
        "paused_reason": "text", "last_digest_at": "time", "created_at": "time", "threads": "bool",
        "leaderboard_schedule": "text", "digest_days": "text", "digest_rank": "text", "picks": "int",
        "last_picks_at": "time",
    },
    "topics": {
        "id": "int", "channel_id": "int", "query": "text", "added_by": "text", "added_at": "time",
        "baseline_taken": "bool", "added_by_id": "text", "number": "int", "notify": "text", "notify_name": "text",
    },
    "papers": {
        "id": "text", "title": "text", "source": "text", "upvotes": "int", "daily_date": "text",
        "published_at": "time", "data": "text",
    },
    "paper_lists": {"name": "text", "paper_ids": "ids", "saved_at": "time"},
    "deliveries": {
        "id": "int", "channel_id": "int", "paper_id": "text", "state": "text", "why": "text",
        "topic_id": "int", "attempts": "int", "next_attempt_at": "time", "last_error": "text",
        "message_ref": "text", "created_at": "time", "sent_at": "time", "posted_state": "text",
    },
    "outbox": {
        "id": "int", "channel_id": "int", "kind": "text", "tag": "text", "paper_ids": "ids", "title": "text",
        "target_ref": "text", "state": "text", "attempts": "int", "next_attempt_at": "time",
        "last_error": "text", "message_ref": "text", "created_at": "time", "sent_at": "time", "mention": "text",
    },
    "state": {"key": "text", "value": "text"},
    "installations": {
        "kind": "text", "enterprise_id": "text", "team_id": "text", "user_id": "text", "data": "text",
        "installed_at": "time",
    },
    "oauth_states": {"state": "text", "expires_at": "time"},
    "saves": {
        "platform": "text", "workspace": "text", "user_id": "text", "paper_id": "text", "channel_id": "int",
        "saved_at": "time",
    },
    "votes": {"channel_id": "int", "paper_id": "text", "user_id": "text", "voted_at": "time"},
    "downvotes": {"channel_id": "int", "paper_id": "text", "user_id": "text", "voted_at": "time"},
    "feeds": {"id": "int", "owner": "text", "generation": "int", "created_at": "time"},
}

_ORDER: dict[str, str] = {
    "installations": "kind, enterprise_id, team_id, user_id",
    "saves": "platform, workspace, user_id, paper_id",
    "votes": "channel_id, paper_id, user_id",
    "downvotes": "channel_id, paper_id, user_id",
}
"""How tables without an ``id`` are dumped: by their whole primary key, so a dump's order is stable."""


def columns(table: str) -> dict[str, str]:
    """Return *table*'s portable columns and their kinds; KeyError names a table that is not portable."""
    try:
        return COLUMNS[table]
    except KeyError:
        raise KeyError(f"{table!r} is not a table paperboy db copy moves") from None


def order_by(table: str) -> str:
    """Return the ORDER BY list that dumps *table* in a stable order (its key)."""
    return "id" if "id" in columns(table) else _ORDER.get(table, next(iter(columns(table))))


def select_sql(table: str) -> str:
    names = ", ".join(columns(table))
    order = order_by(table)
    return f"SELECT {names} FROM {table} ORDER BY {order}"  # names come from COLUMNS only


def insert_sql(table: str) -> str:
    names = list(columns(table))
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"


def from_sqlite(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """Turn one SQLite row of *table* into the portable form."""
    out: dict[str, Any] = {}
    for name, kind in columns(table).items():
        value = row.get(name)
        if value is not None:
            if kind == "time":
                value = from_db(value)
            elif kind == "bool":
                value = bool(value)
            elif kind == "ids":
                value = list(json.loads(value))
        out[name] = value
    return out


def to_sqlite(table: str, row: Any) -> tuple:
    """Turn one portable row of *table* into SQLite's values, in `insert_sql`'s order."""
    values = []
    for name, kind in columns(table).items():
        value = row.get(name)
        if value is not None:
            if kind == "time":
                value = to_db(value)
            elif kind == "bool":
                value = int(value)
            elif kind == "ids":
                value = json.dumps(list(value))
        values.append(value)
    return tuple(values)
