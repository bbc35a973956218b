"""Platform installations (Slack's "Add to Slack") and one-time OAuth states, kept as opaque JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from storage.sqlite.db import Queries, from_db, to_db

_KINDS = frozenset({"bot", "installation"})


def _check_kind(kind: str) -> None:
    if kind not in _KINDS:
        raise ValueError(f"installation kind must be one of {sorted(_KINDS)}, not {kind!r}")


class InstallationQueries(Queries):
    """Save, find and delete installation records, and issue and consume OAuth states.

    A record is keyed by (kind, enterprise, team, user), a missing id being ``""``; saving the
    same key again replaces the record. `data` is whatever the platform adapter serialised.
    """

    async def save_installation(self, kind: str, *, enterprise_id: str, team_id: str, user_id: str,
                                data: str, at: datetime) -> None:
        """Keep *data* as the *kind* record of this enterprise, team and user, installed *at*."""
        _check_kind(kind)
        async with self._transaction() as conn:
            await conn.execute(
                """
                INSERT INTO installations (kind, enterprise_id, team_id, user_id, data, installed_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (kind, enterprise_id, team_id, user_id)
                DO UPDATE SET data = excluded.data, installed_at = excluded.installed_at
                """,
                (kind, enterprise_id or "", team_id or "", user_id or "", data, to_db(at)),
            )

    async def find_installation(self, kind: str, *, enterprise_id: str, team_id: str,
                                user_id: str | None = None) -> str | None:
        """Return the *kind* record of this team and user; with *user_id* None, the team's newest."""
        _check_kind(kind)
        if user_id is None:
            row = await self._fetchone(
                """SELECT data FROM installations WHERE kind = ? AND enterprise_id = ? AND team_id = ?
                   ORDER BY installed_at DESC, rowid DESC LIMIT 1""",
                (kind, enterprise_id or "", team_id or ""),
            )
        else:
            row = await self._fetchone(
                """SELECT data FROM installations
                   WHERE kind = ? AND enterprise_id = ? AND team_id = ? AND user_id = ?""",
                (kind, enterprise_id or "", team_id or "", user_id),
            )
        return row["data"] if row else None

    async def find_installations(self, kind: str, *, enterprise_id: str, team_ids: Sequence[str]) -> dict[str, str]:
        """Return the newest *kind* record of each of *team_ids* that has one, by team: one read for them all."""
        _check_kind(kind)
        rows = await self._fetchall(
            """SELECT team_id, data FROM (
                   SELECT team_id, data, row_number() OVER (
                       PARTITION BY team_id ORDER BY installed_at DESC, rowid DESC) AS nth
                   FROM installations WHERE kind = ? AND enterprise_id = ?
                     AND team_id IN (SELECT value FROM json_each(?)))
               WHERE nth = 1""",
            (kind, enterprise_id or "", json.dumps(list(team_ids))),
        )
        return {row["team_id"]: row["data"] for row in rows}

    async def delete_installations(self, kind: str | None, *, enterprise_id: str, team_id: str,
                                   user_id: str | None = None) -> None:
        """Delete this team's *kind* records (both kinds if None), of *user_id* only unless it is None."""
        if kind is not None:
            _check_kind(kind)
        sql = "DELETE FROM installations WHERE enterprise_id = ? AND team_id = ?"
        params: list[str] = [enterprise_id or "", team_id or ""]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        async with self._transaction() as conn:
            await conn.execute(sql, params)

    async def save_oauth_state(self, state: str, *, expires_at: datetime) -> None:
        """Remember *state* as issued, good until *expires_at*."""
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO oauth_states (state, expires_at) VALUES (?, ?) "
                "ON CONFLICT (state) DO UPDATE SET expires_at = excluded.expires_at",
                (state, to_db(expires_at)),
            )

    async def consume_oauth_state(self, state: str, *, now: datetime) -> bool:
        """Delete *state*; say whether it had been issued and had not expired by *now*.

        States that expired by *now* are deleted on the way, so unused ones do not pile up.
        """
        async with self._transaction() as conn:
            rows = await conn.execute_fetchall(
                "DELETE FROM oauth_states WHERE state = ? RETURNING expires_at", (state,)
            )
            await conn.execute("DELETE FROM oauth_states WHERE expires_at <= ?", (to_db(now),))
        if not rows:
            return False
        expires_at = from_db(rows[0]["expires_at"])
        return expires_at is not None and expires_at > now
