"""Postgres's side of the portable row form `paperboy db copy` moves (columns as in `storage.sqlite.portable`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from storage.sqlite.portable import columns, order_by

# Tables whose id is an identity column, whose sequence must follow ids loaded as they were.
IDENTITY_TABLES = frozenset({"channels", "topics", "deliveries", "outbox", "feeds"})


def select_sql(table: str) -> str:
    names = ", ".join(_select_expr(table, name) for name in columns(table))
    order = order_by(table)
    return f"SELECT {names} FROM {table} ORDER BY {order}"  # names come from storage.sqlite.portable only


def insert_sql(table: str) -> str:
    names = list(columns(table))
    values = ", ".join(_insert_expr(table, name, i) for i, name in enumerate(names, start=1))
    override = " OVERRIDING SYSTEM VALUE" if table in IDENTITY_TABLES else ""
    return f"INSERT INTO {table} ({', '.join(names)}){override} VALUES ({values})"


def _select_expr(table: str, name: str) -> str:
    return "data::text AS data" if (table, name) == ("papers", "data") else name


def _insert_expr(table: str, name: str, position: int) -> str:
    return f"${position}::jsonb" if (table, name) == ("papers", "data") else f"${position}"


def from_postgres(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """Turn one row of *table* into the portable form: text dates, lists of ids, the rest as asyncpg gives them."""
    out: dict[str, Any] = {}
    for name, kind in columns(table).items():
        value = row[name]
        if value is not None:
            if kind == "text" and isinstance(value, date):
                value = value.isoformat()  # papers.daily_date is a date here, text in the portable form
            elif kind == "ids":
                value = list(value)
        out[name] = value
    return out


def to_postgres(table: str, row: Mapping[str, Any]) -> tuple:
    """Turn one portable row into the values of `insert_sql`."""
    values = []
    for name, kind in columns(table).items():
        value = row.get(name)
        if value is not None:
            if (table, name) == ("papers", "daily_date"):
                value = date.fromisoformat(value)
            elif kind == "ids":
                value = list(value)
            elif kind == "bool":
                value = bool(value)
        values.append(value)
    return tuple(values)
