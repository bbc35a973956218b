"""Slack installations and OAuth states on Paperboy's own store (SQLite and Postgres), through slack_sdk's async interfaces."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation

from adapters.slack.installations import PaperboyInstallationStore, PaperboyOAuthStateStore
from bot.ports.store import Store

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(any_store):
    """On SQLite and on Postgres."""
    return any_store


@pytest.fixture
def installations(store: Store) -> PaperboyInstallationStore:
    return PaperboyInstallationStore(store)


def an_installation(*, team_id: str | None = "T1", user_id: str = "U1", bot_token: str | None = "xoxb-1",
                    at: datetime = T0, enterprise_id: str | None = None, is_enterprise_install: bool = False,
                    **extra: object) -> Installation:
    return Installation(
        app_id="A1", enterprise_id=enterprise_id, team_id=team_id, team_name="Team One", user_id=user_id,
        bot_token=bot_token, bot_id="B1" if bot_token else None, bot_user_id="UB1" if bot_token else None,
        bot_scopes=["commands", "chat:write"], is_enterprise_install=is_enterprise_install,
        installed_at=at.timestamp(), **extra,  # type: ignore[arg-type]
    )


# -- the SQLite queries ------------------------------------------------------------------


async def test_queries_keep_one_record_per_key_and_find_the_newest(store: Store) -> None:
    ids = {"enterprise_id": "", "team_id": "T1"}
    await store.save_installation("installation", **ids, user_id="U1", data="u1-old", at=T0)
    await store.save_installation("installation", **ids, user_id="U2", data="u2", at=T0 + timedelta(minutes=1))
    await store.save_installation("installation", **ids, user_id="U1", data="u1-new", at=T0 + timedelta(minutes=2))

    assert await store.find_installation("installation", **ids, user_id="U1") == "u1-new"
    assert await store.find_installation("installation", **ids, user_id="U2") == "u2"
    assert await store.find_installation("installation", **ids) == "u1-new"
    assert await store.find_installation("installation", **ids, user_id="U3") is None
    assert await store.find_installation("bot", **ids) is None
    assert await store.find_installation("installation", enterprise_id="E1", team_id="T1") is None
    assert len(await store.dump_table("installations")) == 2


async def test_queries_delete_by_kind_and_user(store: Store) -> None:
    ids = {"enterprise_id": "", "team_id": "T1"}
    for user in ("U1", "U2"):
        await store.save_installation("installation", **ids, user_id=user, data=user, at=T0)
    await store.save_installation("bot", **ids, user_id="", data="bot", at=T0)
    await store.save_installation("bot", enterprise_id="", team_id="T2", user_id="", data="other", at=T0)

    await store.delete_installations("installation", **ids, user_id="U1")
    assert await store.find_installation("installation", **ids) == "U2"
    await store.delete_installations("installation", **ids)
    assert await store.find_installation("installation", **ids) is None
    assert await store.find_installation("bot", **ids) == "bot"
    await store.delete_installations(None, **ids)
    assert await store.find_installation("bot", **ids) is None
    assert await store.find_installation("bot", enterprise_id="", team_id="T2") == "other"


async def test_queries_refuse_an_unknown_kind(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.save_installation("user", enterprise_id="", team_id="T1", user_id="", data="{}", at=T0)


async def test_an_oauth_state_is_good_once_and_only_before_it_expires(store: Store) -> None:
    await store.save_oauth_state("s1", expires_at=T0 + timedelta(minutes=10))
    await store.save_oauth_state("s2", expires_at=T0 + timedelta(minutes=10))
    assert await store.consume_oauth_state("s1", now=T0) is True
    assert await store.consume_oauth_state("s1", now=T0) is False
    assert await store.consume_oauth_state("never-issued", now=T0) is False
    assert await store.consume_oauth_state("s2", now=T0 + timedelta(minutes=10)) is False
    assert await store.dump_table("oauth_states") == []


async def test_consuming_clears_away_expired_states(store: Store) -> None:
    await store.save_oauth_state("old", expires_at=T0)
    await store.save_oauth_state("fresh", expires_at=T0 + timedelta(hours=1))
    assert await store.consume_oauth_state("other", now=T0 + timedelta(minutes=1)) is False
    assert [row["state"] for row in await store.dump_table("oauth_states")] == ["fresh"]


# -- slack_sdk's installation store interface -------------------------------------------------


async def test_save_keeps_the_installation_and_its_bot(installations: PaperboyInstallationStore) -> None:
    original = an_installation(incoming_webhook_url="https://hooks.example/1", user_token="xoxp-1",
                               user_scopes=["search:read"], bot_token_expires_in=3600)
    original.set_custom_value("note", "hello")
    await installations.async_save(original)

    bot = await installations.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None
    assert (bot.bot_token, bot.bot_id, bot.bot_user_id, bot.team_id, bot.app_id) == ("xoxb-1", "B1", "UB1", "T1", "A1")
    assert bot.bot_scopes == ["commands", "chat:write"]
    assert bot.installed_at == pytest.approx(T0.timestamp())
    assert bot.bot_token_expires_at == original.bot_token_expires_at
    assert bot.get_custom_value("note") == "hello"

    found = await installations.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None
    assert found.to_dict() == original.to_dict()
    assert found.user_scopes == ["search:read"]
    assert (await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")) is not None
    assert await installations.async_find_bot(enterprise_id=None, team_id="T2") is None
    assert await installations.async_find_installation(enterprise_id=None, team_id="T2") is None


async def test_an_installation_without_scopes_comes_back_as_it_went(installations: PaperboyInstallationStore) -> None:
    original = Installation(user_id="U1", team_id="T1", bot_token="xoxb-1", bot_id="B1", bot_user_id="UB1",
                            installed_at=T0.timestamp())
    await installations.async_save(original)
    found = await installations.async_find_installation(enterprise_id=None, team_id="T1")
    bot = await installations.async_find_bot(enterprise_id=None, team_id="T1")
    assert found is not None and bot is not None
    assert found.bot_scopes == [] and found.user_scopes == [] and bot.bot_scopes == []


async def test_a_bot_without_a_token_is_not_kept(installations: PaperboyInstallationStore) -> None:
    await installations.async_save(an_installation(bot_token=None))
    assert await installations.async_find_bot(enterprise_id=None, team_id="T1") is None
    assert await installations.async_find_installation(enterprise_id=None, team_id="T1") is not None


async def test_find_without_a_user_returns_the_newest_and_a_reinstall_replaces_the_bot(
    installations: PaperboyInstallationStore,
) -> None:
    await installations.async_save(an_installation(user_id="U1", bot_token="xoxb-old", at=T0))
    await installations.async_save(an_installation(user_id="U2", bot_token="xoxb-new", at=T0 + timedelta(hours=1)))

    newest = await installations.async_find_installation(enterprise_id=None, team_id="T1")
    assert newest is not None and newest.user_id == "U2"
    bot = await installations.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == "xoxb-new"
    # U1's own installation gets the workspace's current bot token, as slack_sdk's stores do.
    first = await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert first is not None and first.user_id == "U1" and first.bot_token == "xoxb-new"


async def test_save_bot_on_its_own(installations: PaperboyInstallationStore) -> None:
    bot = Bot(team_id="T9", bot_token="xoxb-9", bot_id="B9", bot_user_id="UB9", bot_scopes="commands",
              installed_at=T0.timestamp())
    await installations.async_save_bot(bot)
    found = await installations.async_find_bot(enterprise_id=None, team_id="T9")
    assert found is not None and found.to_dict() == bot.to_dict()


async def test_an_enterprise_install_belongs_to_the_org_not_a_team(installations: PaperboyInstallationStore) -> None:
    await installations.async_save(
        an_installation(enterprise_id="E1", team_id=None, is_enterprise_install=True, bot_token="xoxb-org")
    )
    # Events from any workspace of the org name that workspace; the org-wide install still answers.
    bot = await installations.async_find_bot(enterprise_id="E1", team_id="T5", is_enterprise_install=True)
    assert bot is not None and bot.bot_token == "xoxb-org" and bot.is_enterprise_install
    found = await installations.async_find_installation(enterprise_id="E1", team_id="T5", is_enterprise_install=True)
    assert found is not None and found.enterprise_id == "E1" and found.is_enterprise_install
    assert await installations.async_find_bot(enterprise_id="E1", team_id="T5") is None
    assert await installations.async_find_bot(enterprise_id=None, team_id=None, is_enterprise_install=True) is None

    await installations.async_delete_all(enterprise_id="E1", team_id=None)
    assert await installations.async_find_bot(enterprise_id="E1", team_id="T5", is_enterprise_install=True) is None


async def test_delete_bot_installation_and_all(installations: PaperboyInstallationStore) -> None:
    await installations.async_save(an_installation(user_id="U1"))
    await installations.async_save(an_installation(user_id="U2", at=T0 + timedelta(minutes=1)))
    await installations.async_save(an_installation(team_id="T2", user_id="U1", bot_token="xoxb-2"))

    await installations.async_delete_bot(enterprise_id=None, team_id="T1")
    assert await installations.async_find_bot(enterprise_id=None, team_id="T1") is None
    assert await installations.async_find_installation(enterprise_id=None, team_id="T1") is not None

    await installations.async_delete_installation(enterprise_id=None, team_id="T1", user_id="U2")
    remaining = await installations.async_find_installation(enterprise_id=None, team_id="T1")
    assert remaining is not None and remaining.user_id == "U1"
    await installations.async_delete_installation(enterprise_id=None, team_id="T1")
    assert await installations.async_find_installation(enterprise_id=None, team_id="T1") is None

    await installations.async_delete_all(enterprise_id=None, team_id="T2")
    assert await installations.async_find_bot(enterprise_id=None, team_id="T2") is None
    assert await installations.async_find_installation(enterprise_id=None, team_id="T2") is None


# -- slack_sdk's OAuth state store interface ----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def test_issued_states_are_random_good_once_and_expire(store: Store) -> None:
    clock = Clock()
    states = PaperboyOAuthStateStore(store, expiration_seconds=600, clock=clock)
    first, second, third = [await states.async_issue() for _ in range(3)]
    assert len({first, second, third}) == 3 and len(first) >= 32

    assert await states.async_consume(first) is True
    assert await states.async_consume(first) is False
    assert await states.async_consume("made-up") is False

    clock.now = T0 + timedelta(seconds=599)
    assert await states.async_consume(second) is True
    clock.now = T0 + timedelta(seconds=600)
    assert await states.async_consume(third) is False


async def test_the_bots_of_many_workspaces_are_found_in_one_read_each_its_newest(
    installations: PaperboyInstallationStore,
) -> None:
    await installations.async_save(an_installation(team_id="T1", bot_token="xoxb-old"))
    await installations.async_save(an_installation(team_id="T1", user_id="U2", bot_token="xoxb-new",
                                                   at=T0 + timedelta(minutes=1)))
    await installations.async_save(an_installation(team_id="T2", bot_token="xoxb-2"))
    await installations.async_save(an_installation(team_id="T3", bot_token="xoxb-org", enterprise_id="E1",
                                                   is_enterprise_install=True))

    bots = await installations.async_find_bots(["T1", "T2", "T3", "T9"])

    assert {team: bot.bot_token for team, bot in bots.items()} == {"T1": "xoxb-new", "T2": "xoxb-2"}
    for team, bot in bots.items():  # what the one-at-a-time read finds, field for field
        alone = await installations.async_find_bot(enterprise_id=None, team_id=team)
        assert alone is not None and alone.to_dict() == bot.to_dict()
    assert await installations.async_find_bots([]) == {}
    # A delivery reads the tokens alone, in the same one read.
    assert await installations.async_find_bot_tokens(["T1", "T2", "T3", "T9"]) == {"T1": "xoxb-new", "T2": "xoxb-2"}
    assert await installations.async_find_bot_tokens([]) == {}
