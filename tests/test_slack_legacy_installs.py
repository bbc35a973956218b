"""Workspaces installed before Paperboy had its own ``installations`` table still work after the upgrade.

The old file is made the old way: Paperboy's schema before migration 5, and slack_sdk's real
``SQLite3InstallationStore`` writing its ``slack_installations`` and ``slack_bots`` in it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore

from adapters.slack import SlackAdapter
from adapters.slack.installations import (
    LEGACY_IMPORTED_KEY, PaperboyInstallationStore, import_legacy_installations,
)
from bot.runtime.app import open_core
from bot.model.channels import ChannelRef
from bot.ports.adapter import DeliveryStatus
from bot.model.paper import Paper
from bot.model.replies import PaperCard, Post
from bot.runtime.settings import Settings
from storage.sqlite import connection, versions
from storage.sqlite.store import Store
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import seed_items
from tests.fakes.slack_server import FakeSlack

CLIENT_ID = "111.222"
T1_TOKEN = "xoxb-legacy-1111-aaaa"
T2_TOKEN = "xoxb-legacy-2222-bbbb"
ORG_TOKEN = "xoxb-legacy-org-cccc"
OTHER_APP_TOKEN = "xoxb-legacy-other-app-dddd"
INSTALLED_T1 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
INSTALLED_T2 = datetime(2024, 3, 2, 9, 30, 0, tzinfo=timezone.utc)


def _sqlite_time(moment: datetime) -> str:
    """How SQLite's ``current_timestamp`` (the old tables' default) writes a time."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


async def make_legacy_file(path: Path) -> None:
    """A Paperboy file of before migration 5, where slack_sdk's sqlite3 store kept the installations."""
    conn = await connection.connect(path, target=4)
    await connection.close_connection(conn)

    old = SQLite3InstallationStore(database=str(path), client_id=CLIENT_ID)
    old.save(Installation(
        app_id="APAPERBOY", team_id="T1", team_name="Team One", user_id="U1", user_token=None,
        bot_token=T1_TOKEN, bot_id="BPAPERBOY", bot_user_id="UPAPERBOY", bot_scopes=["commands", "chat:write"],
        incoming_webhook_url="https://hooks.slack.example/T1",
    ))
    old.save_bot(Bot(
        app_id="APAPERBOY", team_id="T2", team_name="Team Two", bot_token=T2_TOKEN, bot_id="BPAPERBOY",
        bot_user_id="UPAPERBOY", bot_scopes="commands,chat:write,channels:history", installed_at=INSTALLED_T2,
    ))
    # Another app's installation in the same file is not Paperboy's to take.
    SQLite3InstallationStore(database=str(path), client_id="999.999").save(Installation(
        app_id="AOTHER", team_id="T3", user_id="U3", bot_token=OTHER_APP_TOKEN, bot_id="BO", bot_user_id="UO",
        bot_scopes=["chat:write"],
    ))
    with sqlite3.connect(path) as conn:
        # The old store has no way to say when; its rows got the time of saving, to the second.
        for table in ("slack_installations", "slack_bots"):
            conn.execute(f"UPDATE {table} SET installed_at = ? WHERE team_id = 'T1'", (_sqlite_time(INSTALLED_T1),))
            conn.execute(f"UPDATE {table} SET installed_at = ? WHERE team_id = 'T2'", (_sqlite_time(INSTALLED_T2),))
    conn.close()


@pytest.fixture
async def legacy_path(tmp_path: Path) -> Path:
    path = tmp_path / "paperboy.db"
    await make_legacy_file(path)
    return path


@pytest.fixture
async def store(legacy_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(legacy_path)  # migrates to the latest schema
    try:
        yield opened
    finally:
        await opened.close()


# -- storage: the old rows as plain data -------------------------------------------------------


async def test_the_store_reads_the_old_rows_as_plain_pairs_newest_last(store: Store) -> None:
    assert await store.schema_version() == versions.latest_version()
    rows = await store.legacy_slack_installations()

    assert [(kind, row["team_id"]) for kind, row in rows] == [
        ("installation", "T1"), ("bot", "T1"), ("bot", "T2"), ("installation", "T3"), ("bot", "T3"),
    ]
    kind, t1 = rows[0]
    assert t1["client_id"] == CLIENT_ID and t1["bot_token"] == T1_TOKEN and t1["user_id"] == "U1"
    assert t1["bot_scopes"] == "commands,chat:write" and t1["is_enterprise_install"] == 0
    assert t1["installed_at"] == "2024-03-01 12:00:00"
    assert all(isinstance(row, dict) for _, row in rows)


async def test_a_file_without_the_old_tables_has_no_old_rows(any_store) -> None:
    # A new SQLite file, and Postgres, which never had them.
    assert await any_store.legacy_slack_installations() == []
    assert await import_legacy_installations(any_store, client_id=CLIENT_ID) == 0
    assert await any_store.get_state(LEGACY_IMPORTED_KEY) is not None


# -- the adapter: the old rows become Paperboy's installations --------------------------------------


async def test_the_import_brings_every_workspace_with_its_token_and_scopes(
    store: Store, caplog: pytest.LogCaptureFixture,
) -> None:
    installations = PaperboyInstallationStore(store)
    assert await installations.async_find_bot(enterprise_id=None, team_id="T1") is None

    with caplog.at_level(logging.INFO, logger="adapters.slack.installations"):
        assert await import_legacy_installations(store, client_id=CLIENT_ID) == 2

    bot1 = await installations.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot1 is not None
    assert (bot1.bot_token, bot1.bot_id, bot1.bot_user_id, bot1.app_id) == (T1_TOKEN, "BPAPERBOY", "UPAPERBOY",
                                                                            "APAPERBOY")
    assert bot1.bot_scopes == ["commands", "chat:write"]
    assert bot1.installed_at == pytest.approx(INSTALLED_T1.timestamp())
    assert bot1.enterprise_id is None and bot1.is_enterprise_install is False

    found = await installations.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None
    assert (found.user_id, found.team_name, found.bot_token) == ("U1", "Team One", T1_TOKEN)
    assert found.bot_scopes == ["commands", "chat:write"] and found.user_scopes == []
    assert found.incoming_webhook_url == "https://hooks.slack.example/T1"
    assert await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1") is not None

    bot2 = await installations.async_find_bot(enterprise_id=None, team_id="T2")
    assert bot2 is not None and bot2.bot_token == T2_TOKEN and bot2.team_name == "Team Two"
    assert bot2.bot_scopes == ["commands", "chat:write", "channels:history"]
    assert bot2.installed_at == pytest.approx(INSTALLED_T2.timestamp())
    # A bot saved on its own had no installing user.
    assert await installations.async_find_installation(enterprise_id=None, team_id="T2") is None

    # Another app's rows stay where they are.
    assert await installations.async_find_bot(enterprise_id=None, team_id="T3") is None

    logged = [r for r in caplog.records if r.name == "adapters.slack.installations" and r.levelno == logging.INFO]
    assert len(logged) == 1
    message = logged[0].getMessage()
    assert "brought over 2 installations" in message and "2 rows of another client id" in message
    assert "xoxb" not in caplog.text


async def test_the_import_runs_once(store: Store) -> None:
    installations = PaperboyInstallationStore(store)
    assert await import_legacy_installations(store, client_id=CLIENT_ID) == 2
    before = await store.dump_table("installations")

    assert await import_legacy_installations(store, client_id=CLIENT_ID) == 0
    assert await store.dump_table("installations") == before

    # A workspace that uninstalled since stays uninstalled, however often Paperboy starts.
    await installations.async_delete_all(enterprise_id=None, team_id="T1")
    assert await import_legacy_installations(store, client_id=CLIENT_ID) == 0
    assert await installations.async_find_bot(enterprise_id=None, team_id="T1") is None
    # The old tables are left as they were.
    assert len(await store.legacy_slack_installations()) == 5


async def test_a_newer_paperboy_install_keeps_its_token(store: Store) -> None:
    installations = PaperboyInstallationStore(store)
    reinstalled = INSTALLED_T1 + timedelta(days=30)
    await installations.async_save(Installation(
        app_id="APAPERBOY", team_id="T1", team_name="Team One", user_id="U2", bot_token="xoxb-new-after-upgrade",
        bot_id="BPAPERBOY", bot_user_id="UPAPERBOY", bot_scopes=["chat:write"], installed_at=reinstalled.timestamp(),
    ))
    newer_t2 = Bot(team_id="T2", bot_token="xoxb-new-t2", bot_id="BPAPERBOY", bot_user_id="UPAPERBOY",
                   bot_scopes="chat:write", installed_at=(INSTALLED_T2 + timedelta(days=1)).timestamp())
    await installations.async_save_bot(newer_t2)

    # T1's old installation of U1 is still kept (nothing newer of U1's), but not its old bot; T2's old bot is not.
    assert await import_legacy_installations(store, client_id=CLIENT_ID) == 1

    bot1 = await installations.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot1 is not None and bot1.bot_token == "xoxb-new-after-upgrade"
    newest = await installations.async_find_installation(enterprise_id=None, team_id="T1")
    assert newest is not None and newest.user_id == "U2"
    u1 = await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert u1 is not None and u1.bot_token == "xoxb-new-after-upgrade"  # the workspace's current bot, as ever
    bot2 = await installations.async_find_bot(enterprise_id=None, team_id="T2")
    assert bot2 is not None and bot2.bot_token == "xoxb-new-t2"


async def test_an_org_wide_install_and_a_row_without_client_id(tmp_path: Path) -> None:
    path = tmp_path / "org.db"
    await make_legacy_file(path)
    SQLite3InstallationStore(database=str(path), client_id=CLIENT_ID).save(Installation(
        app_id="APAPERBOY", enterprise_id="E1", enterprise_name="Org", team_id=None, user_id="UE",
        bot_token=ORG_TOKEN, bot_id="BPAPERBOY", bot_user_id="UPAPERBOY", bot_scopes=["chat:write"],
        is_enterprise_install=True, bot_refresh_token="xoxe-1-refresh", bot_token_expires_in=43200,
    ))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE slack_bots SET client_id = '' WHERE team_id = 'T2'")
    conn.close()

    async with await Store.open(path) as store:
        assert await import_legacy_installations(store, client_id=CLIENT_ID) == 3
        installations = PaperboyInstallationStore(store)
        org = await installations.async_find_bot(enterprise_id="E1", team_id="T7", is_enterprise_install=True)
        assert org is not None and org.bot_token == ORG_TOKEN and org.is_enterprise_install is True
        assert org.bot_refresh_token == "xoxe-1-refresh" and org.bot_token_expires_at is not None
        found = await installations.async_find_installation(enterprise_id="E1", team_id=None,
                                                            is_enterprise_install=True)
        assert found is not None and found.user_id == "UE" and found.enterprise_name == "Org"
        bot2 = await installations.async_find_bot(enterprise_id=None, team_id="T2")
        assert bot2 is not None and bot2.bot_token == T2_TOKEN


# -- end to end: Paperboy started on the old file posts with the old tokens ------------------------------


def a_post(paper_id: str = "2403.10001") -> Post:
    paper = Paper(id=paper_id, title="A paper from before the upgrade", authors=("Ada",), upvotes=5)
    return Post(PaperCard(paper, why='topic "legacy"'), tag=f"paper:{paper_id}", paper_ids=(paper_id,))


async def test_slack_started_on_the_old_file_posts_with_the_old_tokens(legacy_path: Path) -> None:
    today = datetime.now(timezone.utc).date()
    async with FakeSlack(tokens={T1_TOKEN: "T1", T2_TOKEN: "T2"}) as slack, \
            FakeHuggingFace(seed_items(today=today)) as hf:
        settings = Settings(
            _env_file=None, database=legacy_path, hf_api_url=hf.base_url, arxiv_api_url=hf.base_url,
            slack_api_url=slack.api_url, slack_signing_secret="signing-secret-for-tests", http_timeout=3.0,
            slack_bot_token=None, slack_client_id=CLIENT_ID, slack_client_secret="client-secret",
        )
        async with open_core(settings) as core:
            bot = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0, store=core.store)
            await bot.start()
            try:
                sent_t1 = await bot.send(ChannelRef("slack", "T1", "C1"), a_post())
                sent_t2 = await bot.send(ChannelRef("slack", "T2", "C2"), a_post("2403.10002"))
            finally:
                await bot.stop()
            assert await core.store.get_state(LEGACY_IMPORTED_KEY) is not None

    assert sent_t1.status is DeliveryStatus.SENT and sent_t2.status is DeliveryStatus.SENT
    calls = slack.calls_to("chat.postMessage")
    assert [(call.token, call.params["channel"]) for call in calls] == [(T1_TOKEN, "C1"), (T2_TOKEN, "C2")]


async def test_db_copy_waits_until_the_old_installs_are_imported(store: Store, tmp_path: Path) -> None:
    """`db copy` cannot read slack_sdk's old rows, so it refuses to leave them behind, in one line."""
    from bot.runtime.db_copy import CopyRefused, copy_database

    (tmp_path / "target").mkdir()
    target = await Store.open(tmp_path / "target" / "paperboy.db")
    try:
        with pytest.raises(CopyRefused, match="start Paperboy on it once with SLACK_CLIENT_ID set"):
            await copy_database(store, target)
        assert await target.dump_table("installations") == [], "nothing was copied"
        assert await import_legacy_installations(store, client_id=CLIENT_ID) == 2
        copied = {c.table: c for c in await copy_database(store, target)}
        assert copied["installations"].target_rows == copied["installations"].source_rows > 0
        bot = await PaperboyInstallationStore(target).async_find_bot(enterprise_id=None, team_id="T1")
        assert bot is not None and bot.bot_token == T1_TOKEN
    finally:
        await target.close()
