"""`feed`: a channel's posts and a person's reading list as Atom, served over real HTTP on 127.0.0.1.

Real storage (SQLite and Postgres), papers really posted by the poller from the fake Hugging Face,
the feed read back by feedparser, the health port and Slack's HTTP-mode port.
"""

from __future__ import annotations

import logging
import re
from typing import AsyncIterator, Mapping
from urllib.parse import urlsplit

import aiohttp
import feedparser
import pytest
from pydantic import SecretStr

from adapters.memory import MemoryAdapter
from adapters.slack import SlackAdapter
from bot.runtime.app import Core, open_core
from bot.runtime.health import Health, serve_health
from bot.runtime.redaction import RedactingFilter
from bot.runtime.settings import Settings, SettingsError, load_settings
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.seed import make_item
from tests.fakes.slack_server import FakeSlack
from tests.test_redaction import cli_logging
from tests.test_slack_adapter import all_text, make_settings, run_command
from tests.postgres import fresh_database

SECRET = "feed-secret-for-tests-0123456789"
PUBLIC = "https://paperboy.example.org"


def with_feeds(settings: Settings) -> Settings:
    return settings.model_copy(update={"feed_url": PUBLIC, "feed_secret": SecretStr(SECRET)})


@pytest.fixture(params=["sqlite", "postgres"])
async def core(request, settings, clock, postgres_server, postgres_template) -> AsyncIterator[Core]:
    """A core with feeds on, on each backend in turn."""
    if request.param == "sqlite":
        async with open_core(with_feeds(settings), clock=clock) as core:
            yield core
        return
    async with fresh_database(postgres_server, postgres_template) as url:
        async with open_core(with_feeds(settings).model_copy(update={"database": url}), clock=clock) as core:
            yield core


@pytest.fixture
async def server(core) -> AsyncIterator[str]:
    running = await serve_health(core, host="127.0.0.1", port=0)
    try:
        yield f"http://127.0.0.1:{running.port}"
    finally:
        await running.stop()


@pytest.fixture
def chat(core) -> MemoryAdapter:
    """A memory chat whose posts the poller delivers (and so records as sent)."""
    chat = MemoryAdapter(core.engine)
    core.poller.adapters[chat.platform] = chat
    return chat


async def get(url: str, **headers: str) -> tuple[int, Mapping[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, response.headers.copy(), await response.read()


def feed_url(reply) -> str:
    assert reply.private, "a feed's URL is its only key: it is never said in public"
    found = re.findall(r"https?://\S+", reply.content.body)
    assert len(found) == 1, reply.content.body
    return found[0]


def served(url: str, base: str) -> str:
    """The URL as served here: the public address is a proxy's, the path is Paperboy's."""
    assert url.startswith(PUBLIC + "/feeds/"), url
    return base + urlsplit(url).path


async def post_one(chat, core, fake_hf, clock, n: int) -> str:
    paper_id = f"2411.{n:05d}"
    fake_hf.add(make_item(n, f"Zorblax ranking {n}", f"We rank zorblax {n} & <friends>.", daily=clock().date(),
                          paper_id=paper_id, upvotes=100 + n))
    await core.poller.poll_once()
    assert [pid for _, post in chat.pop_posts() for pid in post.paper_ids] == [paper_id]
    clock.advance(minutes=5)
    return paper_id


async def test_a_channels_feed_lists_its_posts_newest_first_with_etag_and_304(chat, core, server, fake_hf, clock):
    await chat.push("subscribe zorblax")
    await core.poller.poll_once()  # the baseline
    first, second, third = [await post_one(chat, core, fake_hf, clock, n) for n in (101, 102, 103)]
    await chat.push(f"vote {second}", user="U1")
    await chat.push(f"vote {second}", user="U2")
    await chat.push(f"vote {first}", user="U3", channel="elsewhere")  # another channel's 👍 is not this one's

    url = served(feed_url(await chat.push("feed")), server)
    status, headers, body = await get(url)
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [entry.id for entry in parsed.entries] == [f"https://arxiv.org/abs/{pid}" for pid in (third, second, first)]
    entry = parsed.entries[1]
    paper = await core.store.get_paper(second)
    assert entry.title == paper.title and [a.name for a in entry.authors] == list(paper.authors)
    assert entry.summary == "We rank zorblax 102 & <friends>."
    assert entry.link == paper.hf_url
    links = {link.href: (link.rel, link.get("type")) for link in entry.links}
    assert links[paper.hf_url] == ("alternate", "text/html") and links[paper.arxiv_url] == ("related", "text/html")
    assert links[paper.pdf_url] == ("related", "application/pdf")
    assert [tag.term for tag in entry.tags] == ["zorblax"]
    assert "👍 2" in entry.content[0].value and "👍 0" in parsed.entries[2].content[0].value

    again = await get(url, **{"If-None-Match": headers["ETag"]})
    assert (again[0], again[2]) == (304, b"") and again[1]["ETag"] == headers["ETag"]
    await chat.push(f"vote {third}", user="U1")  # the feed changes: the old ETag no longer matches
    changed = await get(url, **{"If-None-Match": headers["ETag"]})
    assert changed[0] == 200 and changed[1]["ETag"] != headers["ETag"]


async def test_feed_reset_revokes_the_old_url_and_no_log_line_holds_a_token(chat, core, server, caplog):
    caplog.set_level(logging.DEBUG)
    old = served(feed_url(await chat.push("feed")), server)
    assert feed_url(await chat.push("feed")) == feed_url(await chat.push("feed")), "the URL stays until reset"
    assert (await get(old))[0] == 200

    refused = await chat.push("feed reset", can_manage=False)
    assert "Only people who can manage this channel" in refused.content.message
    assert (await get(old))[0] == 200, "a refused reset changes nothing"

    reset = await chat.push("feed reset")
    assert "The old URL no longer works" in reset.content.body
    new = served(feed_url(reset), server)
    assert new != old and (await get(new))[0] == 200
    feed_id = urlsplit(old).path.split("/")[2]
    for wrong in (old, f"{server}/feeds/{feed_id}/{'A' * 32}", f"{server}/feeds/999/{'A' * 32}",
                  f"{server}/feeds/x1/{'A' * 32}"):
        status, _, body = await get(wrong)
        assert (status, body) == (404, b"No such feed: its URL may have been replaced ('feed reset')."), wrong
    assert (await get(old, **{"If-None-Match": "*"}))[0] == 404

    tokens = {urlsplit(u).path.rsplit("/", 1)[1] for u in (old, new)}
    logged = [record.getMessage() for record in caplog.records]
    assert f"feed {feed_id}: a wrong or revoked token" in logged, "the refusal is logged, by the feed's id"
    assert not [line for line in logged for secret in (*tokens, SECRET) if secret in line]


async def test_a_direct_message_gives_ones_reading_list_as_a_feed(chat, core, server, fake_hf, clock):
    for n in (301, 302):
        fake_hf.add(make_item(n, f"Quixotic paper {n}", "Abstract.", daily=clock().date(), paper_id=f"2411.{n:05d}"))
    await chat.push("save 2411.00301", channel="dm-ada", direct=True)
    clock.advance(minutes=1)
    await chat.push("save 2411.00302", channel="lab")  # a save anywhere in the workspace is on the list
    await chat.push("save 2411.00301", user="U2", channel="dm-bob", direct=True)

    mine = served(feed_url(await chat.push("feed", channel="dm-ada", direct=True)), server)
    theirs = served(feed_url(await chat.push("feed", user="U2", channel="dm-bob", direct=True)), server)
    assert mine != theirs
    parsed = feedparser.parse((await get(mine))[2])
    assert not parsed.bozo and parsed.feed.title == "Paperboy: your reading list"
    assert [e.id for e in parsed.entries] == ["https://arxiv.org/abs/2411.00302", "https://arxiv.org/abs/2411.00301"]
    assert parsed.entries[0].title == "Quixotic paper 302"
    assert [e.id for e in feedparser.parse((await get(theirs))[2]).entries] == ["https://arxiv.org/abs/2411.00301"]

    await chat.push("unsave 2411.00302", channel="dm-ada", direct=True)
    assert [e.title for e in feedparser.parse((await get(mine))[2]).entries] == ["Quixotic paper 301"]
    reset = await chat.push("feed reset", channel="dm-ada", direct=True, can_manage=False)  # one's own: no manager
    assert (await get(mine))[0] == 404 and (await get(served(feed_url(reset), server)))[0] == 200


async def test_without_a_feed_address_feed_says_what_to_set_and_nothing_is_served(settings, clock):
    async with open_core(settings, clock=clock) as core:
        reply = await MemoryAdapter(core.engine).push("feed")
        assert reply.private and "\n" not in reply.content.body and "PAPERBOY_FEED_URL" in reply.content.body
        running = await serve_health(core, host="127.0.0.1", port=0)
        try:
            assert (await get(f"http://127.0.0.1:{running.port}/feeds/1/{'A' * 32}"))[0] == 404
        finally:
            await running.stop()


def test_feed_settings_are_checked_in_one_line_each():
    with pytest.raises(SettingsError) as no_secret:
        load_settings(_env_file=None, feed_url=PUBLIC)
    assert str(no_secret.value).startswith("PAPERBOY_FEED_URL is set but PAPERBOY_FEED_SECRET is not")
    with pytest.raises(SettingsError) as short:
        load_settings(_env_file=None, feed_url=PUBLIC, feed_secret="tiny-secret")
    assert "PAPERBOY_FEED_SECRET: needs at least 16" in str(short.value) and "tiny-secret" not in str(short.value)
    with pytest.raises(SettingsError, match="PAPERBOY_FEED_URL: needs a URL"):
        load_settings(_env_file=None, feed_url="paperboy.example.org", feed_secret=SECRET)
    assert load_settings(_env_file=None, feed_url=PUBLIC + "/", feed_secret=SECRET).feed_url == PUBLIC
    assert load_settings(_env_file=None, feed_url=" ", feed_secret=" ").feed_url is None


def test_the_log_filter_hides_a_feed_token_and_the_secret():
    line = f"GET /feeds/12/AbCdEfGhIjKlMnOpQrStUvWxYz012345 (key {SECRET})"
    settings = Settings(_env_file=None, feed_url=PUBLIC, feed_secret=SECRET)  # type: ignore[call-arg]
    assert RedactingFilter.for_settings(settings).redact(line) == "GET /feeds/12/[redacted] (key [redacted])"


async def test_slack_answers_feed_and_serves_it_on_its_port_and_the_debug_log_holds_no_token(tmp_path, capsys):
    async with FakeSlack() as slack, FakeHuggingFace([]) as hf:
        settings = make_settings(tmp_path, slack, hf, feed_url=PUBLIC, feed_secret=SECRET, log_level="DEBUG",
                                 log_file="-")
        with cli_logging(settings):
            async with open_core(settings) as core:
                bot = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0, routes=Health(core).routes())
                await bot.start()
                try:
                    answer = await run_command(bot, slack, "feed")  # signed, through bolt, to response_url
                    assert answer["response_type"] == "ephemeral"
                    (url,) = re.findall(r"https://paperboy\.example\.org/feeds/[0-9]+/[\w=-]+", all_text(answer))
                    status, _, body = await get(served(url, f"http://127.0.0.1:{bot.port}"))
                finally:
                    await bot.stop()
    assert status == 200 and not feedparser.parse(body).bozo
    log = capsys.readouterr().err
    assert "/feeds/" in log, "slack_sdk logged the answer at DEBUG, the URL in it"
    assert url.rsplit("/", 1)[1] not in log and SECRET not in log


async def test_without_a_health_port_the_feeds_are_served_on_the_default_port(core, monkeypatch):
    from bot.runtime import health

    assert core.settings.health_port is None
    monkeypatch.setattr(health, "FEED_PORT", 0)  # the default (8080) may be taken here: any free port stands in
    running = await serve_health(core, host="127.0.0.1")
    try:
        url = served(feed_url(await MemoryAdapter(core.engine).push("feed")), f"http://127.0.0.1:{running.port}")
        assert (await get(url))[0] == 200
    finally:
        await running.stop()
