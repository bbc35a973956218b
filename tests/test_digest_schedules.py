"""Weekly and weekday digests: when they fire (in local time, across DST), what they hold, how they are set."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from adapters.memory import MemoryAdapter
from bot.model.channels import ChannelRef
from bot.commands.registry import COMMANDS
from bot.runtime.db_copy import copy_database
from bot.model.replies import Error, PaperList
from bot.model.rows import Channel
from bot.delivery.schedule import digest_due, next_digest_at
from bot.ports.store import open_store
from bot.delivery.timezones import get_zone
from paperboy_testing.seed import make_item
from tests.test_discord_adapter import bot, fake_discord, run  # noqa: F401  (fixtures)

PARIS, NEW_YORK = "Europe/Paris", "America/New_York"


@pytest.fixture
def chat(core):
    adapter = MemoryAdapter(core.engine)
    core.poller.adapters[adapter.platform] = adapter
    return adapter


def local(clock, when: str, zone: str) -> None:
    """Set the fake clock to wall-clock *when* (``2026-10-19 09:01``) in *zone*."""
    naive = datetime.fromisoformat(when)
    clock.now = naive.replace(tzinfo=get_zone(zone)).astimezone(timezone.utc)


def new_paper(fake_hf, clock, n: int, *, upvotes: int) -> str:
    paper_id = f"2410.{n:05d}"
    fake_hf.add(make_item(n, f"Unlearning, part {n}", "A study.", daily=clock().date(), paper_id=paper_id,
                          upvotes=upvotes))
    return paper_id


async def digests(chat, core) -> list[tuple[str, str, list[str]]]:
    """Poll once; return the (tag, title, paper ids) of every digest posted."""
    await core.poller.poll_once()
    out = []
    for _, post in chat.pop_posts():
        assert isinstance(post.content, PaperList), post
        out.append((post.tag, post.content.title, [c.paper.id for c in post.content.cards]))
    return out


# -- the schedule maths --------------------------------------------------------------------------

def channel(days: str | None, at: str = "09:00", zone: str = PARIS) -> Channel:
    return Channel(id=1, ref=ChannelRef("memory", "w", "c"), realtime=False, digest_time=at, timezone=zone,
                   digest_days=days)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_weekly_next_time_keeps_the_local_hour_across_dst():
    weekly = channel("mon")
    # Paris leaves summer time on Sun 25 Oct 2026: 09:00 is 07:00 UTC before, 08:00 UTC after.
    assert next_digest_at(weekly, utc("2026-10-14 12:00")) == utc("2026-10-19 07:00")
    assert next_digest_at(weekly, utc("2026-10-19 07:00")) == utc("2026-10-26 08:00")
    assert digest_due(weekly, utc("2026-10-26 07:59")).date().isoformat() == "2026-10-19"
    assert digest_due(weekly, utc("2026-10-26 08:00")) == utc("2026-10-26 08:00")


def test_weekdays_skip_the_weekend():
    weekdays = channel("mon-fri", "18:30", NEW_YORK)
    assert next_digest_at(weekdays, utc("2026-10-30 23:00")) == utc("2026-11-02 23:30")  # Fri -> Mon, EST
    assert digest_due(weekdays, utc("2026-11-01 12:00")) == utc("2026-10-30 22:30")  # Sunday: Friday's, EDT


# -- weekly, end to end on a fake clock ---------------------------------------------------------

@pytest.fixture
def both(any_core):
    return any_core


@pytest.fixture
def chat_both(both):
    adapter = MemoryAdapter(both.engine)
    both.poller.adapters[adapter.platform] = adapter
    return adapter


async def test_weekly_digest_posts_once_on_its_day_at_its_local_hour_across_dst(chat_both, both, fake_hf, clock):
    chat, core = chat_both, both
    local(clock, "2026-10-14 10:00", PARIS)  # a Wednesday
    await chat.push("subscribe unlearn*")
    reply = await chat.push("digest weekly monday 09:00 Europe/Paris 2")
    assert "Weekly digest on mon at 09:00 Europe/Paris with the top 2" in reply.content.body
    assert "Next one: Mon 19 Oct 09:00 CEST" in reply.content.body
    assert await digests(chat, core) == []

    low = new_paper(fake_hf, clock, 1, upvotes=5)
    assert await digests(chat, core) == []  # queued, not posted
    for day in ("2026-10-15", "2026-10-16", "2026-10-17", "2026-10-18"):  # Thu .. Sun, at the hour
        local(clock, f"{day} 09:01", PARIS)
        if day == "2026-10-17":
            top, mid = new_paper(fake_hf, clock, 2, upvotes=500), new_paper(fake_hf, clock, 3, upvotes=50)
        assert await digests(chat, core) == [], day
    local(clock, "2026-10-19 08:59", PARIS)
    assert await digests(chat, core) == [], "not before its local hour"
    local(clock, "2026-10-19 09:01", PARIS)
    (tag, title, ids), = await digests(chat, core)
    assert ids == [top, mid], "the week's top 2, by upvotes"
    assert tag == "digest:2026-10-19"
    assert title.startswith("Paperboy weekly digest for the week to Mon 19 Oct: 2 new papers (the top 2 of 3)")
    local(clock, "2026-10-19 15:00", PARIS)
    assert await digests(chat, core) == [], "once on its day"

    later = new_paper(fake_hf, clock, 4, upvotes=7)
    for day in ("2026-10-20", "2026-10-22", "2026-10-25"):
        local(clock, f"{day} 09:01", PARIS)
        assert await digests(chat, core) == [], day
    # After the change to winter time: 09:00 in Paris is now 08:00 UTC, not 07:00.
    clock.now = utc("2026-10-26 07:30")
    assert await digests(chat, core) == [], "08:30 in Paris: not yet"
    clock.now = utc("2026-10-26 08:01")
    (tag, title, ids), = await digests(chat, core)
    assert (tag, ids) == ("digest:2026-10-26", [later]), "the skipped paper never comes back"
    assert low not in ids and "(the top" not in title


# -- weekdays -----------------------------------------------------------------------------------

async def test_weekday_digest_posts_monday_to_friday_and_not_at_the_weekend(chat, core, fake_hf, clock):
    local(clock, "2026-10-28 12:00", NEW_YORK)  # a Wednesday; New York leaves summer time on Sun 1 Nov
    await chat.push("subscribe unlearn*")
    reply = await chat.push("digest weekdays 08:30 America/New_York 3")
    assert "Weekday digest at 08:30 America/New_York with the top 3" in reply.content.body
    assert "Next one: Thu 29 Oct 08:30 EDT" in reply.content.body
    await core.poller.poll_once()
    posted: dict[str, list[str]] = {}
    added: dict[str, str] = {}
    for n, day in enumerate(("2026-10-29", "2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02",
                             "2026-11-03"), start=1):
        local(clock, f"{day} 08:00", NEW_YORK)
        added[day] = new_paper(fake_hf, clock, n, upvotes=10 * n)
        assert await digests(chat, core) == [], f"{day}: not before 08:30 local"
        local(clock, f"{day} 08:31", NEW_YORK)
        for tag, _, ids in await digests(chat, core):
            posted[tag] = ids
    assert sorted(posted) == ["digest:2026-10-29", "digest:2026-10-30", "digest:2026-11-02", "digest:2026-11-03"]
    assert posted["digest:2026-10-30"] == [added["2026-10-30"]]
    # Monday's digest carries the weekend's papers, best first, within its top 3.
    assert posted["digest:2026-11-02"] == [added["2026-11-02"], added["2026-11-01"], added["2026-10-31"]]


async def test_top_n_cuts_a_weekday_digest(chat, core, fake_hf, clock):
    local(clock, "2026-11-02 07:00", PARIS)  # a Monday
    await chat.push("subscribe unlearn*")
    await chat.push("digest weekdays 09:00 Europe/Paris 1")
    await core.poller.poll_once()
    best = new_paper(fake_hf, clock, 1, upvotes=90)
    new_paper(fake_hf, clock, 2, upvotes=9)
    await core.poller.poll_once()
    local(clock, "2026-11-02 09:05", PARIS)
    (_, title, ids), = await digests(chat, core)
    assert ids == [best] and "(the top 1 of 2)" in title and title.startswith("Paperboy digest for Mon 02 Nov")


# -- the command and settings -------------------------------------------------------------------

async def settings_line(chat) -> str:
    body = (await chat.push("settings")).content.body
    return next(line for line in body.splitlines() if line.startswith("Delivery: "))


async def test_settings_show_the_schedule_and_a_plain_time_resets_to_every_day(chat, core, clock):
    local(clock, "2026-11-04 12:00", PARIS)
    await chat.push("digest weekly mon 09:00 Europe/Paris 5")
    assert await settings_line(chat) == "Delivery: weekly digest on mon at 09:00 Europe/Paris, top 5"
    await chat.push("digest weekdays 7:15 America/New_York")
    assert await settings_line(chat) == "Delivery: weekday digest at 07:15 America/New_York, top 5"
    reply = await chat.push("digest 06:00")
    assert reply.content.body.startswith("Daily digest at 06:00 America/New_York")
    assert await settings_line(chat) == "Delivery: daily digest at 06:00 America/New_York, top 5"
    assert (await core.store.get_channel(chat.channel())).digest_days is None
    await chat.push("digest weekly fri 17:00")
    await chat.push("digest daily 08:00 2")
    assert await settings_line(chat) == "Delivery: daily digest at 08:00 America/New_York, top 2"
    await chat.push("digest weekly sun 10:00")
    assert "Digest off" in (await chat.push("digest off")).content.body
    assert await settings_line(chat) == "Delivery: each paper as it appears"
    assert (await core.store.get_channel(chat.channel())).digest_days is None


BAD = [
    ("digest weekly", "which day"),
    ("digest weekly funday 09:00", "not a day of the week"),
    ("digest weekly mon", "time of day too"),
    ("digest weekly mon 25:00", "not a time of day"),
    ("digest weekdays", "time of day too"),
    ("digest weekdays 09:00 Mars/Olympus", "time zone"),
    ("digest weekly mon 09:00 UTC 99", "1 to 25"),
    ("digest mon 09:00", "A day goes with weekly"),
    ("digest daily tue 09:00", "A day goes with weekly"),
]


async def test_bad_schedules_get_one_line_and_change_nothing(chat):
    await chat.push("digest weekdays 09:00 Europe/Paris 4")
    for bad, words in BAD:
        reply = await chat.push(bad)
        assert isinstance(reply.content, Error), bad
        problem, *usage = reply.content.message.splitlines()
        assert words in problem, reply.content.message
        assert usage == [f"Usage: {COMMANDS['digest'].usage}"], "one line, then the engine's usage line"
    assert await settings_line(chat) == "Delivery: weekday digest at 09:00 Europe/Paris, top 4"


# -- the column on both backends, and through db copy ------------------------------------------

async def test_digest_days_round_trip_on_each_backend(any_store):
    ref = ChannelRef("memory", "w", "c")
    made = await any_store.ensure_channel(ref)
    assert made.digest_days is None
    changed = await any_store.update_channel(made.id, digest_time="09:00", digest_days="mon-fri")
    assert changed.digest_days == "mon-fri"
    assert (await any_store.get_channel(ref)).digest_days == "mon-fri"
    assert [c.digest_days for c in await any_store.list_channels()] == ["mon-fri"]
    cleared = await any_store.update_channel(made.id, digest_days=None)
    assert cleared.digest_days is None


async def test_db_copy_carries_the_digest_days_into_postgres(tmp_path, postgres_url):
    source = await open_store(str(tmp_path / "paperboy.db"))
    target = await open_store(postgres_url)
    try:
        made = await source.ensure_channel(ChannelRef("memory", "w", "c"))
        await source.update_channel(made.id, digest_time="09:00", digest_days="thu", timezone=PARIS)
        await copy_database(source, target)
        copied = await target.get_channel(ChannelRef("memory", "w", "c"))
        assert (copied.digest_time, copied.digest_days, copied.timezone) == ("09:00", "thu", PARIS)
    finally:
        await source.close()
        await target.close()


# -- Discord's typed options make the same text ---------------------------------------------------


async def test_discord_options_set_a_weekly_digest(bot, core, fake_discord, clock):
    local(clock, "2026-11-04 12:00", PARIS)
    options = {"schedule": "weekly", "day": "mon", "time": "09:00", "timezone": "Europe/Paris", "count": 3}
    answer = await run(fake_discord, "digest", options)
    shown = str(answer.messages())
    assert "Weekly digest on mon at 09:00 Europe/Paris with the top 3" in shown, shown
    channel = (await core.store.list_channels())[0]
    assert (channel.digest_days, channel.digest_time, channel.top_n) == ("mon", "09:00", 3)
    await run(fake_discord, "digest", {"schedule": "weekdays", "time": "08:00"})
    assert (await core.store.list_channels())[0].digest_days == "mon-fri"
