"""Platform installations (Slack's "Add to Slack") and one-time OAuth states, kept as opaque JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.sqlite.installations import _check_kind
from storage.postgres.connection import Queries


class InstallationQueries(Queries):
    """Save, find and delete installation records (a missing id is ``""``), and issue and consume OAuth states."""

    async def save_installation(self, kind: str, *, enterprise_id: str, team_id: str, user_id: str,
                                data: str, at: datetime) -> None:
        _check_kind(kind)
        await self._execute(
            """INSERT INTO installations (kind, enterprise_id, team_id, user_id, data, installed_at)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (kind, enterprise_id, team_id, user_id)
               DO UPDATE SET data = excluded.data, installed_at = excluded.installed_at""",
            kind, enterprise_id or "", team_id or "", user_id or "", data, at)

    async def find_installation(self, kind: str, *, enterprise_id: str, team_id: str,
                                user_id: str | None = None) -> str | None:
        """Return the *kind* record of this team and user; with *user_id* None, the team's newest."""
        _check_kind(kind)
        return await self._fetchval(
            """SELECT data FROM installations
               WHERE kind = $1 AND enterprise_id = $2 AND team_id = $3 AND ($4::text IS NULL OR user_id = $4)
               ORDER BY installed_at DESC, seq DESC LIMIT 1""",
            kind, enterprise_id or "", team_id or "", user_id)

    async def find_installations(self, kind: str, *, enterprise_id: str, team_ids: Sequence[str]) -> dict[str, str]:
        """Return the newest *kind* record of each of *team_ids* that has one, by team: one read for them all."""
        _check_kind(kind)
        rows = await self._fetch(
            """SELECT DISTINCT ON (team_id) team_id, data FROM installations
               WHERE kind = $1 AND enterprise_id = $2 AND team_id = ANY($3::text[])
               ORDER BY team_id, installed_at DESC, seq DESC""",
            kind, enterprise_id or "", list(team_ids))
        return {row["team_id"]: row["data"] for row in rows}

    async def delete_installations(self, kind: str | None, *, enterprise_id: str, team_id: str,
                                   user_id: str | None = None) -> None:
        """Delete this team's *kind* records (both kinds if None), of *user_id* only unless it is None."""
        if kind is not None:
            _check_kind(kind)
        await self._execute(
            """DELETE FROM installations WHERE enterprise_id = $1 AND team_id = $2
               AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR user_id = $4)""",
            enterprise_id or "", team_id or "", kind, user_id)

    async def save_oauth_state(self, state: str, *, expires_at: datetime) -> None:
        await self._execute(
            """INSERT INTO oauth_states (state, expires_at) VALUES ($1, $2)
               ON CONFLICT (state) DO UPDATE SET expires_at = excluded.expires_at""", state, expires_at)

    async def consume_oauth_state(self, state: str, *, now: datetime) -> bool:
        """Delete *state*; say whether it had been issued and had not expired by *now* (expired ones go too)."""
        async with self._transaction() as conn:
            expires_at = await conn.fetchval("DELETE FROM oauth_states WHERE state = $1 RETURNING expires_at", state)
            await conn.execute("DELETE FROM oauth_states WHERE expires_at <= $1", now)
        return expires_at is not None and expires_at > now

    async def legacy_slack_installations(self) -> list[tuple[str, dict[str, Any]]]:
        """Always []: slack_sdk's old sqlite3 store never wrote to Postgres (`db copy` brings ``installations``)."""
        return []
