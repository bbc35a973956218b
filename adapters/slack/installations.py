"""Slack installations and OAuth states kept in Paperboy's own store, for Bolt's "Add to Slack".

`PaperboyInstallationStore` and `PaperboyOAuthStateStore` are slack_sdk's async store interfaces
built on an object satisfying `bot.store.InstallationStore`: they never touch SQL, and every
call goes through the store's async methods, so nothing blocks the event loop. Each record is
slack_sdk's own ``to_dict_for_copying()`` as JSON (times as ISO-8601 text), read back with the
`Installation` or `Bot` constructor, which accepts that text.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.store import InstallationStore

log = logging.getLogger(__name__)

BOT = "bot"
INSTALLATION = "installation"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot keep a {type(value).__name__} in a Slack installation record")


def _dump(record: Bot | Installation) -> str:
    return json.dumps(record.to_dict_for_copying(), default=_json_default, sort_keys=True)


def _load_fields(data: str) -> dict[str, Any]:
    fields = json.loads(data)
    # to_dict writes no scopes as None; the constructors want "" for that.
    for key in ("bot_scopes", "user_scopes"):
        if key in fields and fields[key] is None:
            fields[key] = ""
    return fields


def _team(team_id: str | None, is_enterprise_install: bool | None) -> str:
    """An org-wide (Enterprise Grid) install belongs to no one team: its team id is kept as ""."""
    return "" if is_enterprise_install or team_id is None else team_id


def _installed_at(record: Bot | Installation) -> datetime:
    return datetime.fromtimestamp(record.installed_at, tz=timezone.utc)


class PaperboyInstallationStore(AsyncInstallationStore):
    """Bolt's installation store, on Paperboy's store: one bot per workspace (or org), and its installers."""

    def __init__(self, store: InstallationStore, *, logger: logging.Logger = log) -> None:
        self.store = store
        self._logger = logger

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    async def async_save(self, installation: Installation) -> None:
        """Keep *installation* (per installing user) and the bot it brings (per workspace)."""
        await self.store.save_installation(
            INSTALLATION,
            enterprise_id=installation.enterprise_id or "",
            team_id=_team(installation.team_id, installation.is_enterprise_install),
            user_id=installation.user_id or "",
            data=_dump(installation),
            at=_installed_at(installation),
        )
        await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        """Keep *bot* as its workspace's (or org's) bot; one without a token is not kept, as slack_sdk does."""
        if bot.bot_token is None:
            self.logger.debug("not saving a Slack bot installation without a bot token")
            return
        await self.store.save_installation(
            BOT,
            enterprise_id=bot.enterprise_id or "",
            team_id=_team(bot.team_id, bot.is_enterprise_install),
            user_id="",
            data=_dump(bot),
            at=_installed_at(bot),
        )

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        """Return the bot installed in this workspace (or org), or None."""
        data = await self.store.find_installation(
            BOT, enterprise_id=enterprise_id or "", team_id=_team(team_id, is_enterprise_install)
        )
        return Bot(**_load_fields(data)) if data is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """Return *user_id*'s installation in this workspace (or org), or with None the newest one.

        Like slack_sdk's own stores, the bot token and scopes come from the workspace's newest
        bot when they may be stale: a user's own installation, or one made without a bot.
        """
        data = await self.store.find_installation(
            INSTALLATION, enterprise_id=enterprise_id or "", team_id=_team(team_id, is_enterprise_install),
            user_id=user_id,
        )
        if data is None:
            return None
        installation = Installation(**_load_fields(data))
        if user_id is not None or installation.bot_token is None:
            # https://github.com/slackapi/bolt-python/issues/664
            bot = await self.async_find_bot(enterprise_id=enterprise_id, team_id=team_id,
                                            is_enterprise_install=is_enterprise_install)
            if bot is not None and bot.bot_token != installation.bot_token:
                installation.bot_id = bot.bot_id
                installation.bot_user_id = bot.bot_user_id
                installation.bot_token = bot.bot_token
                installation.bot_scopes = bot.bot_scopes
                installation.bot_refresh_token = bot.bot_refresh_token
                installation.bot_token_expires_at = bot.bot_token_expires_at
        return installation

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget this workspace's (or org's) bot."""
        await self.store.delete_installations(BOT, enterprise_id=enterprise_id or "", team_id=team_id or "")

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        """Forget *user_id*'s installation in this workspace (or org), or with None everyone's."""
        await self.store.delete_installations(
            INSTALLATION, enterprise_id=enterprise_id or "", team_id=team_id or "", user_id=user_id
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget everything about this workspace (or org): its bot and every installation (uninstall)."""
        await self.store.delete_installations(None, enterprise_id=enterprise_id or "", team_id=team_id or "")


class PaperboyOAuthStateStore(AsyncOAuthStateStore):
    """Bolt's OAuth state store, on Paperboy's store: each state is random, good once, for *expiration_seconds*."""

    def __init__(
        self,
        store: InstallationStore,
        *,
        expiration_seconds: int,
        clock: Callable[[], datetime] = _utcnow,
        logger: logging.Logger = log,
    ) -> None:
        self.store = store
        self.expiration_seconds = expiration_seconds
        self.clock = clock
        self._logger = logger

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        """Return a new state, remembered until it expires."""
        state = secrets.token_urlsafe(32)
        expires_at = self.clock() + timedelta(seconds=self.expiration_seconds)
        await self.store.save_oauth_state(state, expires_at=expires_at)
        return state

    async def async_consume(self, state: str) -> bool:
        """Use *state* up: True only the first time, and only before it expires."""
        return await self.store.consume_oauth_state(state, now=self.clock())
