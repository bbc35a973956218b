"""Multi-workspace installation ("Add to Slack") and the app manifest it installs.

Installations and OAuth states live in Paperboy's own store (`bot.ports.store.InstallationStore`),
through the async stores of `adapters.slack.installations`, so nothing blocks the event loop.
"""

from __future__ import annotations

import copy
import json
import logging
from functools import lru_cache
from importlib import resources

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings

from adapters.slack.installations import (
    LegacySlackStore, PaperboyInstallationStore, PaperboyOAuthStateStore, import_legacy_installations,
)
from bot.runtime.settings import Settings
from bot.ports.store import InstallationStore
from bot.ports.store_errors import StorageUnavailable

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
EVENTS_PATH = "/slack/events"
STATE_EXPIRATION_SECONDS = 600
_PLACEHOLDER_BASE_URL = "https://paperboy.example.com"


@lru_cache(maxsize=1)
def _manifest_text() -> str:
    return resources.files(__package__).joinpath("manifest.json").read_text(encoding="utf-8")


def manifest(*, base_url: str | None = None, socket_mode: bool = False) -> dict:
    """Return the Slack app manifest that creates Paperboy with its scopes, `/papers` and events.

    *base_url* (``https://paperboy.example.org``) replaces the placeholder host in the
    request and redirect URLs; *socket_mode* turns Socket Mode on in the manifest.
    """
    text = _manifest_text()
    if base_url:
        text = text.replace(_PLACEHOLDER_BASE_URL, json.dumps(base_url.rstrip("/"))[1:-1])
    data = json.loads(text)
    data["settings"]["socket_mode_enabled"] = socket_mode
    return data


def bot_scopes() -> list[str]:
    """Return the bot scopes the manifest asks for (the OAuth install asks for the same)."""
    return copy.copy(manifest()["oauth_config"]["scopes"]["bot"])


def is_multi_workspace(settings: Settings) -> bool:
    """Say whether the settings ask for "Add to Slack" distribution (client id and secret set)."""
    return bool(settings.slack_client_id and settings.slack_client_secret)


def oauth_settings(settings: Settings, store: InstallationStore) -> AsyncOAuthSettings | None:
    """Build Bolt's OAuth settings with installations and states kept in *store*; None if not distributed."""
    if not is_multi_workspace(settings):
        return None
    assert settings.slack_client_id and settings.slack_client_secret
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=bot_scopes(),
        user_scopes=[],  # otherwise Bolt reads SLACK_USER_SCOPES from the environment
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=PaperboyInstallationStore(store),
        installation_store_bot_only=True,
        state_store=PaperboyOAuthStateStore(store, expiration_seconds=STATE_EXPIRATION_SECONDS),
        state_expiration_seconds=STATE_EXPIRATION_SECONDS,
    )


async def import_legacy(settings: Settings, installation_store: object) -> int:
    """At start-up of "Add to Slack": bring over, once, the workspaces slack_sdk's old sqlite3 store kept.

    *installation_store* is Bolt's (the adapter's `installation_store`); nothing happens without
    distribution or when it is not Paperboy's. A database in passing trouble is no reason not to
    start: the import is tried again at the next start.
    """
    if not is_multi_workspace(settings) or not isinstance(installation_store, PaperboyInstallationStore):
        return 0
    store: LegacySlackStore = installation_store.store  # type: ignore[assignment]  # the core's whole Store
    try:
        return await import_legacy_installations(store, client_id=settings.slack_client_id or "")
    except StorageUnavailable as error:
        log.warning("Slack: cannot bring over the installations of slack_sdk's old tables yet (%s); "
                    "trying again at the next start", error)
        return 0
