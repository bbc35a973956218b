"""Discord delivery when a proxy in front of Discord answers instead (HTML or plain text, not JSON): the real
discord.py client against the fake Discord, every failure transient with a readable reason, nothing sent twice."""

from __future__ import annotations

import asyncio

import discord
import pytest

from adapters.discord.delivery import HistoryUnavailable
from bot.ports.adapter import DeliveryStatus
from paperboy_testing.seed import seed_id
from tests.test_discord_delivery import NOTICE, card, launch, paper, ref, running  # noqa: F401  (fixtures)


# -- answers that are not JSON (a proxy in front of Discord) ----------------------------------------

MESSAGES = "/channels/{channel}/messages"
DISCORD_PY_TRIES = 5
"""discord.py tries a 500/502/504 five times before it raises: the proxy must fail them all."""
PROXY_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")
NOT_JSON = [  # status, content type, body, how many answers, what the reason must say
    pytest.param(502, "text/html", PROXY_502, DISCORD_PY_TRIES, "HTTP 502 with a non-JSON body (text/html)",
                 id="html-502"),
    pytest.param(405, "text/plain", "405: Method Not Allowed", 1, "HTTP 405 with a non-JSON body (text/plain)",
                 id="plain-405"),
    pytest.param(403, "text/html", "<html>Access denied | Cloudflare</html>", 1,
                 "HTTP 403 with a non-JSON body (text/html)", id="html-403"),
    # discord.py hands back a 2xx body without its status; the reason names the request instead.
    pytest.param(200, "text/html", "<html>Sign in to the Wi-Fi</html>", 1, "HTTP 2xx with a non-JSON body (to ",
                 id="html-200"),
    pytest.param(200, "application/json", "<html>OK</html>", 1, "non-JSON body labelled application/json (to ",
                 id="json-that-is-not-200"),
]


@pytest.fixture
def quick_retries(monkeypatch):
    """Cut discord.py's sleeps between its tries of a 5xx (1 + 3 + 5 + 7 + 9 s) to almost nothing."""

    class Asyncio:
        """discord.http's view of asyncio, with short sleeps."""

        def __getattr__(self, name):
            return getattr(asyncio, name)

        @staticmethod
        async def sleep(delay, result=None):
            return await asyncio.sleep(min(delay, 0.01), result)

    monkeypatch.setattr(discord.http, "asyncio", Asyncio())


def assert_readable(reason: str | None, says: str) -> None:
    """One line naming what answered, not a Python error or the proxy's page."""
    assert reason is not None and says in reason and "non-JSON" in reason, reason
    assert "\n" not in reason and "<" not in reason, reason
    assert "object has no attribute" not in reason and "string indices" not in reason, reason


@pytest.mark.usefixtures("quick_retries")
@pytest.mark.parametrize(("status", "content_type", "body", "times", "says"), NOT_JSON)
async def test_a_send_answered_by_a_proxy_is_transient_with_a_readable_reason(
    running, status, content_type, body, times, says,
):
    fake, adapter = running.fake, running.adapter
    fake.answer_raw("POST", MESSAGES, body, status=status, content_type=content_type, times=times)
    failed = await adapter.send(ref(fake), card(50))
    recovered = await adapter.send(ref(fake), card(50))

    assert failed.status is DeliveryStatus.TRANSIENT, "a proxy's answer says nothing about the channel"
    assert_readable(failed.reason, says)
    assert recovered.status is DeliveryStatus.SENT
    assert fake.posted_paper_ids(fake.channel_id) == [seed_id(50)]


@pytest.mark.usefixtures("quick_retries")
async def test_an_edit_and_a_notice_answered_by_a_proxy_are_transient(running):
    fake, adapter = running.fake, running.adapter
    sent = await adapter.send(ref(fake), card(51))
    fake.answer_raw("PATCH", MESSAGES + "/{message}", PROXY_502, times=DISCORD_PY_TRIES)
    edited = await adapter.edit(ref(fake), sent.message_ref, card(51, title="Renamed"))
    fake.answer_raw("POST", MESSAGES, "<html>Access denied</html>", status=403)
    notified = await adapter.notify(ref(fake), "4242", NOTICE)

    assert edited.status is notified.status is DeliveryStatus.TRANSIENT
    assert_readable(edited.reason, "HTTP 502")
    assert_readable(notified.reason, "HTTP 403")
    assert fake.requests_to("POST", "/users/@me/channels") == [], "a proxy's 403 is no reason to DM anyone"


@pytest.mark.usefixtures("quick_retries")
@pytest.mark.parametrize(("status", "content_type", "body", "times", "says"), NOT_JSON)
async def test_find_post_answered_by_a_proxy_raises_a_readable_error(
    running, status, content_type, body, times, says,
):
    fake, adapter = running.fake, running.adapter
    sent = await adapter.send(ref(fake), card(52))
    fake.answer_raw("GET", MESSAGES, body, status=status, content_type=content_type, times=times)
    with pytest.raises(HistoryUnavailable) as unreadable:
        await adapter.find_post(ref(fake), card(52))

    assert_readable(str(unreadable.value), says)
    assert fake.channel_id in str(unreadable.value)
    # Never read as "absent": once the proxy recovers, the post is there.
    assert await adapter.find_post(ref(fake), card(52)) == sent.message_ref


@pytest.mark.usefixtures("quick_retries")
async def test_a_post_that_met_a_proxy_502_is_retried_and_delivered_once(running, core, clock):
    from bot.delivery.worker import DeliveryWorker

    fake, store = running.fake, core.store
    channel = await store.ensure_channel(ref(fake))
    await store.save_papers([paper(53)])
    await store.enqueue_posts(channel.id, [(seed_id(53), None, None)], at=clock(), max_per_hour=10)
    worker = DeliveryWorker(store=store, adapters={"discord": running.adapter}, clock=clock)
    fake.answer_raw("POST", MESSAGES, PROXY_502, times=DISCORD_PY_TRIES)

    first = await worker.drain()
    (waiting,) = await store.outbox_in_state("pending", channel_id=channel.id)
    clock.advance(hours=1)
    second = await worker.drain()
    third = await worker.drain()

    assert (first.sent, first.failed, first.paused) == (0, 1, [])
    assert_readable(waiting.last_error, "HTTP 502")
    assert (second.sent, third.sent) == (1, 0)
    assert await store.outbox_counts(channel.id) == {"sent": 1}
    assert fake.posted_paper_ids(fake.channel_id) == [seed_id(53)]
    assert len(fake.requests_to("POST", f"/channels/{fake.channel_id}/messages")) == DISCORD_PY_TRIES + 1
