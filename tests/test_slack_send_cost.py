"""What one Slack delivery costs the bot: connections, renderings and installation-store reads.

The real Bolt app and slack_sdk talk to the fake Slack on 127.0.0.1, with one installation per
workspace ("Add to Slack" mode) unless a test says otherwise. The fake here also notes the
client end of every TCP connection a Web API call arrived on, so reused connections show.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.oauth.installation_store.models.installation import Installation

from adapters.slack import SlackAdapter, SlackSetupError
from adapters.slack import render as slack_render
from adapters.slack.installations import PaperboyInstallationStore
from adapters.slack.render import RENDER_CACHE_SIZE, render_cached
from bot.runtime.app import Core, open_core
from bot.model.channels import ChannelRef
from bot.ports.adapter import DeliveryStatus
from bot.model.paper import Paper
from bot.model.replies import PaperCard, PaperList, Post
from bot.runtime.settings import Settings
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import seed_items
from tests.fakes.slack_server import FakeSlack

SECRET = "signing-secret-for-tests"
TOKENS = {"xoxb-team-a": "TA", "xoxb-team-b": "TB", "xoxb-team-c": "TC"}
TA_C1 = ChannelRef("slack", "TA", "C1")
TA_C2 = ChannelRef("slack", "TA", "C2")
TB_C3 = ChannelRef("slack", "TB", "C3")


class CountingSlack(FakeSlack):
    """The fake Slack, noting the peer (client host and port) of each Web API call: one per TCP connection."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.peers: list[Any] = []

    async def _api(self, request: web.Request) -> web.Response:
        transport = request.transport
        self.peers.append(transport.get_extra_info("peername") if transport is not None else None)
        return await super()._api(request)

    @property
    def connections(self) -> int:
        return len(set(self.peers))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def slack() -> AsyncIterator[CountingSlack]:
    async with CountingSlack(tokens=dict(TOKENS), channel_limit=None, workspace_limit=None) as fake:
        yield fake


@pytest.fixture
async def hf() -> AsyncIterator[FakeHuggingFace]:
    async with FakeHuggingFace(seed_items(today=datetime.now(timezone.utc).date())) as fake:
        yield fake


def make_settings(tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        database=tmp_path / "paperboy.db", hf_api_url=hf.base_url, arxiv_api_url=hf.base_url,
        slack_signing_secret=SECRET, slack_api_url=slack.api_url, http_timeout=3.0,
        slack_client_id="111.222", slack_client_secret="client-secret",
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def core(tmp_path: Path, slack: FakeSlack, hf: FakeHuggingFace) -> AsyncIterator[Core]:
    async with open_core(make_settings(tmp_path, slack, hf)) as opened:
        yield opened


async def install(core: Core, team: str, token: str, *, at: float | None = None) -> None:
    """Store *team*'s installation as the OAuth flow would, through its own store object (as another process)."""
    fields: dict[str, Any] = {} if at is None else {"installed_at": at}
    await PaperboyInstallationStore(core.store).async_save(Installation(
        app_id="APAPERBOY", team_id=team, team_name=f"Team {team}", bot_token=token, bot_id="BPAPERBOY",
        bot_user_id="UPAPERBOY", bot_scopes=["chat:write"], user_id="UINSTALLER", **fields,
    ))


@pytest.fixture
async def adapter(core: Core) -> AsyncIterator[SlackAdapter]:
    for token, team in TOKENS.items():
        await install(core, team, token)
    bot = SlackAdapter(core.settings, core.engine, host="127.0.0.1", port=0, store=core.store)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


def card_post(paper_id: str | None = None, title: str = "A paper") -> Post:
    paper_id = paper_id or f"2403.{uuid.uuid4().int % 100000:05d}"  # new content: not rendered before
    paper = Paper(id=paper_id, title=f"{title} {uuid.uuid4().hex}", authors=("Ada", "Grace"),
                  abstract="We do things.", upvotes=3, published_at=datetime(2024, 3, 1, tzinfo=timezone.utc))
    return Post(PaperCard(paper, why="matched tokamak"), tag=f"paper:{paper_id}", paper_ids=(paper_id,))


def count_lookups(adapter: SlackAdapter) -> list[str]:
    """Record the team of every installation-store read the adapter makes from now on."""
    store = adapter.installation_store
    assert store is not None
    teams: list[str] = []
    find_bots = store.async_find_bot_tokens  # type: ignore[attr-defined]

    async def counted(team_ids: list[str]) -> Any:
        teams.extend(team_ids)
        return await find_bots(team_ids)

    store.async_find_bot_tokens = counted  # type: ignore[attr-defined]
    return teams


def count_renders(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every content `render` really renders (not answered from the cache) from now on."""
    rendered: list[object] = []
    real = slack_render.render

    def counted(content: Any) -> Any:
        rendered.append(content)
        return real(content)

    monkeypatch.setattr(slack_render, "render", counted)
    return rendered


# -- one HTTP session ---------------------------------------------------------------------


async def test_sends_to_many_workspaces_reuse_one_connection(adapter: SlackAdapter, slack: CountingSlack) -> None:
    channels = [ChannelRef("slack", team, f"C{team}{n}") for team in ("TA", "TB", "TC") for n in (1, 2)]
    results = [await adapter.send(channel, card_post()) for channel in channels for _ in range(2)]

    assert [r.status for r in results] == [DeliveryStatus.SENT] * 12
    assert sorted({c.token for c in slack.calls_to("chat.postMessage")}) == sorted(TOKENS)
    # One after another, every call goes over the same kept-alive connection (not one each).
    assert len(slack.peers) == 12 and slack.connections == 1
    session = adapter.client.session
    assert isinstance(session, aiohttp.ClientSession) and not session.closed
    for team in ("TA", "TB", "TC"):
        client = await adapter._client_for(team)
        assert client is not None and client.session is session
    assert adapter.app.client.session is None  # Bolt deep-copies its clients for lazy listeners


async def test_concurrent_sends_share_the_pool(adapter: SlackAdapter, slack: CountingSlack) -> None:
    slack.latency["chat.postMessage"] = 0.05
    first = await asyncio.gather(*(adapter.send(ChannelRef("slack", "TA", f"C{n}"), card_post()) for n in range(5)))
    again = await asyncio.gather(*(adapter.send(ChannelRef("slack", "TB", f"C{n}"), card_post()) for n in range(5)))

    assert {r.status for r in first + again} == {DeliveryStatus.SENT}
    assert slack.connections == 5  # the second wave reused the first wave's connections


async def test_first_sends_to_many_workspaces_at_once_read_their_tokens_in_one_go(
    adapter: SlackAdapter, slack: CountingSlack,
) -> None:
    store = adapter.installation_store
    reads: list[list[str]] = []
    find_bots = store.async_find_bot_tokens  # type: ignore[union-attr]

    async def counted(team_ids: list[str]) -> Any:
        reads.append(sorted(team_ids))
        return await find_bots(team_ids)

    store.async_find_bot_tokens = counted  # type: ignore[union-attr]
    channels = [ChannelRef("slack", team, f"C{team}{n}") for team in ("TA", "TB", "TC") for n in (1, 2)]
    results = await asyncio.gather(*(adapter.send(channel, card_post()) for channel in channels))

    assert {r.status for r in results} == {DeliveryStatus.SENT}
    assert reads == [["TA", "TB", "TC"]]  # one read for the three workspaces, each named once
    assert sorted(TOKENS[c.token] for c in slack.calls_to("chat.postMessage")) == sorted(c.workspace for c in channels)


async def test_one_workspace_mode_reuses_the_connection_too(
    tmp_path: Path, slack: CountingSlack, hf: FakeHuggingFace,
) -> None:
    settings = make_settings(tmp_path, slack, hf, slack_bot_token="xoxb-team-a",
                             slack_client_id=None, slack_client_secret=None)
    async with open_core(settings) as core:
        bot = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0)
        await bot.start()
        try:
            results = [await bot.send(TA_C1, card_post()) for _ in range(4)]
            found = await bot.find_post(TA_C1, card_post())
        finally:
            await bot.stop()

    assert {r.status for r in results} == {DeliveryStatus.SENT} and found is None
    assert [c.method for c in slack.calls][:2] == ["auth.test", "chat.postMessage"]
    assert len(slack.peers) == 6 and slack.connections == 1


async def test_stop_closes_the_session_and_a_later_call_still_works(
    adapter: SlackAdapter, slack: CountingSlack,
) -> None:
    assert (await adapter.send(TA_C1, card_post())).status is DeliveryStatus.SENT
    session = adapter.client.session
    team_client = await adapter._client_for("TA")
    assert session is not None and team_client is not None

    await adapter.stop()

    assert session.closed
    assert adapter.client.session is None and team_client.session is None
    # Nothing left to use: slack_sdk opens (and closes) a session for the call, as without one.
    assert (await adapter.send(TA_C1, card_post())).status is DeliveryStatus.SENT
    assert adapter.client.session is None


async def test_a_failed_start_leaves_no_session_open(tmp_path: Path, slack: CountingSlack, hf: FakeHuggingFace) -> None:
    settings = make_settings(tmp_path, slack, hf, slack_bot_token="xoxb-wrong",
                             slack_client_id=None, slack_client_secret=None)
    async with open_core(settings) as core:
        bot = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0)
        assert bot.client.session is None  # made in start(), inside the running loop
        with pytest.raises(SlackSetupError, match="invalid_auth"):
            await bot.start()
        assert bot.client.session is None
        await bot.stop()


# -- rendering once ---------------------------------------------------------------------


async def test_the_same_card_to_many_channels_is_rendered_once(
    adapter: SlackAdapter, slack: CountingSlack, monkeypatch: pytest.MonkeyPatch,
) -> None:
    post = card_post()
    fresh = slack_render.render(post.content).block_dicts()
    rendered = count_renders(monkeypatch)
    # The worker builds a new Post (and card) for every entry: equal by value, not the same object.
    copies = [Post(PaperCard(post.content.paper.model_copy(), why=post.content.why), tag=post.tag,
                   paper_ids=post.paper_ids) for _ in range(3)]
    assert copies[0] is not copies[1] and copies[0] == copies[1] and hash(copies[0].content) == hash(post.content)

    sent = [await adapter.send(channel, copy) for channel, copy in zip((TA_C1, TA_C2, TB_C3), copies)]
    assert sent[0].message_ref is not None
    edited = await adapter.edit(TA_C1, sent[0].message_ref, post)

    assert [r.status for r in sent + [edited]] == [DeliveryStatus.SENT] * 4
    assert len(rendered) == 1
    for channel in ("C1", "C2", "C3"):
        [message] = slack.messages_in(channel)
        assert message["blocks"] == fresh
    assert slack.calls_to("chat.update")[0].params["blocks"] == fresh
    # What slack_sdk sent left the cached dicts as they were; each caller gets a list of its own.
    text, blocks = render_cached(post.content)
    assert blocks == fresh and blocks is not render_cached(post.content)[1]
    assert text == slack_render.render(post.content).text


async def test_a_digest_to_many_channels_is_rendered_once(
    adapter: SlackAdapter, slack: CountingSlack, monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = uuid.uuid4().hex
    cards = tuple(PaperCard(Paper(id=f"2403.1000{n}", title=f"Paper {n} {marker}")) for n in range(3))
    digest = Post(PaperList(f"Paperboy digest {marker}", cards), tag="digest:2026-11-27",
                  paper_ids=tuple(c.paper.id for c in cards))
    rendered = count_renders(monkeypatch)

    results = [await adapter.send(ChannelRef("slack", team, f"D{team}"), digest) for team in ("TA", "TB", "TC")]

    assert {r.status for r in results} == {DeliveryStatus.SENT}
    assert len(rendered) == 1
    assert slack.messages_in("DTA")[0]["blocks"] == slack.messages_in("DTC")[0]["blocks"]


def test_render_cache_is_bounded_and_keyed_by_value() -> None:
    assert slack_render._render_cached.cache_info().maxsize == RENDER_CACHE_SIZE
    one = card_post("2403.55555", title="Same").content
    same = PaperCard(Paper(**one.paper.model_dump()), why=one.why)
    assert same == one and hash(same) == hash(one)
    assert render_cached(same) == render_cached(one)
    other = PaperCard(one.paper, why="another reason")
    assert render_cached(other)[1] != render_cached(one)[1]
