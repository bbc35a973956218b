"""Slack installations and OAuth states kept in Paperboy's own store, for Bolt's "Add to Slack".

`PaperboyInstallationStore` and `PaperboyOAuthStateStore` are slack_sdk's async store interfaces
built on an object satisfying `bot.ports.store.InstallationStore`: they never touch SQL, and every
call goes through the store's async methods, so nothing blocks the event loop. Each record is
slack_sdk's own ``to_dict_for_copying()`` as JSON (times as ISO-8601 text), read back with the
`Installation` or `Bot` constructor, which accepts that text.

`import_legacy_installations` brings over, once, what slack_sdk's own sqlite3 store kept in the
same file before Paperboy had its ``installations`` table, so no workspace has to install again.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.ports.store import InstallationStore, StateStore

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
        await self._save_installation_only(installation)
        await self.async_save_bot(installation.to_bot())

    async def _save_installation_only(self, installation: Installation) -> None:
        """Keep *installation* as its user's record, leaving the workspace's bot as it is."""
        await self.store.save_installation(
            INSTALLATION,
            enterprise_id=installation.enterprise_id or "",
            team_id=_team(installation.team_id, installation.is_enterprise_install),
            user_id=installation.user_id or "",
            data=_dump(installation),
            at=_installed_at(installation),
        )

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

    async def async_find_bots(self, team_ids: list[str]) -> dict[str, Bot]:
        """Return the bot installed in each of the workspaces *team_ids* that has one, by team: one read."""
        found = await self.store.find_installations(BOT, enterprise_id="", team_ids=team_ids)
        return {team: Bot(**_load_fields(data)) for team, data in found.items()}

    async def async_find_bot_tokens(self, team_ids: list[str]) -> dict[str, str]:
        """Return the bot token installed in each of the workspaces *team_ids* that has one, by team: one read.

        What a delivery needs of a workspace, without building its whole `Bot` (a tenth of a send's CPU
        when a round goes to a thousand workspaces).
        """
        found = await self.store.find_installations(BOT, enterprise_id="", team_ids=team_ids)
        tokens = {team: json.loads(data).get("bot_token") for team, data in found.items()}
        return {team: token for team, token in tokens.items() if token}

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


# -- slack_sdk's old sqlite3 store ---------------------------------------------------------

LEGACY_IMPORTED_KEY = "slack.legacy_imported"
"""State key set (to when it ran) once the old sqlite3 store's rows were brought over: they are read once."""

_BOT_COLUMNS = (
    "app_id", "enterprise_id", "enterprise_name", "team_id", "team_name", "bot_token", "bot_id", "bot_user_id",
    "bot_scopes", "bot_refresh_token", "bot_token_expires_at", "is_enterprise_install", "installed_at",
)
"""Columns of slack_sdk's ``slack_bots`` that are `Bot` constructor arguments of the same name."""

_INSTALLATION_COLUMNS = (
    "app_id", "enterprise_id", "enterprise_name", "enterprise_url", "team_id", "team_name", "bot_token", "bot_id",
    "bot_user_id", "bot_scopes", "bot_refresh_token", "bot_token_expires_at", "user_id", "user_token",
    "user_scopes", "user_refresh_token", "user_token_expires_at", "incoming_webhook_url",
    "incoming_webhook_channel", "incoming_webhook_channel_id", "incoming_webhook_configuration_url",
    "is_enterprise_install", "token_type", "installed_at",
)
"""Columns of slack_sdk's ``slack_installations`` that are `Installation` constructor arguments of the same name."""


class LegacySlackStore(InstallationStore, StateStore, Protocol):
    """What `import_legacy_installations` needs: the installations, old and new, and a state key.

    The storage backends read the old rows; only Slack asks for them (the core's Store knows nothing of them).
    """

    async def legacy_slack_installations(self) -> list[tuple[str, dict[str, Any]]]:
        """Rows slack_sdk's old sqlite3 store left: (``bot`` | ``installation``, {column: value}), newest last."""
        ...


async def legacy_import_pending(store: object) -> bool:
    """Whether *store* still holds rows of slack_sdk's old store that were never imported (`paperboy db copy`)."""
    legacy = getattr(store, "legacy_slack_installations", None)  # a backend that never had them has none
    return legacy is not None and bool(await legacy()) and await store.get_state(LEGACY_IMPORTED_KEY) is None  # type: ignore[attr-defined]


def _legacy_fields(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """Turn a row of the old sqlite3 store into constructor arguments, as its own ``find_*`` did.

    ``bot_scopes``/``user_scopes`` stay comma-separated text and ``installed_at`` SQLite's UTC text
    (``2024-03-01 12:00:00``), both of which the constructors read; NULL columns are left out, so
    the constructors' defaults apply; ``is_enterprise_install`` was kept as 0 or 1; and the old
    store wrote ``""`` for no enterprise or team, which a fresh install says with None.
    """
    fields = {name: row[name] for name in columns if row.get(name) is not None}
    fields["is_enterprise_install"] = bool(fields.get("is_enterprise_install"))
    for name in ("enterprise_id", "team_id"):
        if fields.get(name) == "":
            del fields[name]
    return fields


def _is_newer(found: Bot | Installation | None, than: Bot | Installation) -> bool:
    return found is not None and found.installed_at > than.installed_at


async def import_legacy_installations(store: LegacySlackStore, *, client_id: str,
                                      logger: logging.Logger = log) -> int:
    """Bring the installations slack_sdk's old sqlite3 store left in *store* into Paperboy's own, once.

    Only rows of this app (*client_id*, or rows that name no client id) are taken. Each becomes
    slack_sdk's own `Installation` or `Bot` and is saved through `PaperboyInstallationStore`, oldest
    first, except where Paperboy already has a newer record of that workspace (or of that user):
    a reinstall since the upgrade wins. Afterwards `LEGACY_IMPORTED_KEY` is set, so a later start
    reads nothing again (an uninstall stays an uninstall). The old tables are left as they were.
    Returns how many old records were saved (an installation with its bot counts once), and says so in
    one log line (never a token).
    """
    if await store.get_state(LEGACY_IMPORTED_KEY) is not None:
        return 0
    rows = await store.legacy_slack_installations()
    installations = PaperboyInstallationStore(store, logger=logger)
    ours = [(kind, row) for kind, row in rows if row.get("client_id") in (None, "", client_id)]
    # slack_sdk saved every installation's bot in slack_bots too: only a bot not brought by one is a bot of its own.
    brought = {(row.get("enterprise_id") or "", row.get("team_id") or "", row.get("bot_token"))
               for kind, row in ours if kind == INSTALLATION and row.get("bot_token")}
    imported = kept_newer = unreadable = 0
    for kind, row in ours:
        try:
            record: Bot | Installation = (
                Installation(**_legacy_fields(row, _INSTALLATION_COLUMNS)) if kind == INSTALLATION
                else Bot(**_legacy_fields(row, _BOT_COLUMNS))
            )
        except (TypeError, ValueError) as error:
            unreadable += 1
            logger.warning("Slack: cannot read an old %s record of workspace %s (%s); it stays in the old table",
                           kind, row.get("team_id") or row.get("enterprise_id") or "?", type(error).__name__)
            continue
        if isinstance(record, Bot) and (row.get("enterprise_id") or "", row.get("team_id") or "",
                                        record.bot_token) in brought:
            continue  # saved with its installation
        ids = {"enterprise_id": record.enterprise_id, "team_id": record.team_id,
               "is_enterprise_install": record.is_enterprise_install}
        bot = await installations.async_find_bot(**ids)
        if isinstance(record, Installation):
            mine = await installations.async_find_installation(**ids, user_id=record.user_id)
            keep_installation = not _is_newer(mine, record)
            keep_bot = record.bot_token is not None and not _is_newer(bot, record)
            if keep_installation and keep_bot:
                await installations.async_save(record)
            elif keep_installation:
                await installations._save_installation_only(record)
            elif keep_bot:
                await installations.async_save_bot(record.to_bot())
            if keep_installation or keep_bot:
                imported += 1
            else:
                kept_newer += 1
        elif _is_newer(bot, record):
            kept_newer += 1
        else:
            await installations.async_save_bot(record)
            imported += 1
    await store.set_state(LEGACY_IMPORTED_KEY, _utcnow().isoformat(timespec="seconds"))
    if rows:
        logger.info(
            "Slack: brought over %d installations from slack_sdk's old tables (%d not, as Paperboy has newer "
            "ones; %d unreadable; %d rows of another client id left alone)",
            imported, kept_newer, unreadable, len(rows) - len(ours),
        )
    return imported


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
