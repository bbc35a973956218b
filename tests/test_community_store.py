"""Reading lists and 👍 votes in storage, run against both backends (a real SQLite file, a real Postgres)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from bot.model.channels import ChannelRef
from bot.model.rows import RankedPaper, Reader, SavedPaper
from bot.ports.store import open_store
from storage.postgres import open_store as open_postgres
from tests.postgres import fresh_database

T0 = datetime(2024, 3, 14, 9, 0, tzinfo=timezone.utc)
REF = ChannelRef(platform="slack", workspace="T1", channel="C1")
OTHER = ChannelRef(platform="slack", workspace="T1", channel="C2")
ANN = Reader("slack", "T1", "U1")


async def post(store, channel_id: int, paper_ids: list[str], *, at: datetime) -> None:
    """Get ledger rows for *paper_ids* into state ``sent`` at *at*."""
    await store.enqueue_posts(channel_id, [(p, None, None) for p in paper_ids], at=at, max_per_hour=1000)
    for entry in await store.due_outbox(now=at, channel_id=channel_id):
        assert await store.claim_outbox(entry.id)
        await store.mark_outbox_sent(entry.id, message_ref=f"m-{entry.id}", at=at)


# --- reading lists ----------------------------------------------------------------------------------


async def test_saving_twice_keeps_the_first_save(any_store):
    channel = await any_store.ensure_channel(REF)
    assert await any_store.save_paper(ANN, "p1", channel_id=channel.id, at=T0)
    assert not await any_store.save_paper(ANN, "p1", channel_id=None, at=T0 + timedelta(hours=1))
    assert await any_store.saved_papers(ANN, limit=10) == [SavedPaper("p1", T0, channel.id)]
    assert await any_store.saved_count(ANN) == 1


async def test_unsave(any_store):
    await any_store.save_paper(ANN, "p1", channel_id=None, at=T0)
    assert await any_store.unsave_paper(ANN, "p1")
    assert not await any_store.unsave_paper(ANN, "p1")
    assert await any_store.saved_papers(ANN, limit=10) == []
    assert await any_store.saved_count(ANN) == 0
    assert await any_store.save_paper(ANN, "p1", channel_id=None, at=T0 + timedelta(days=1)), "saved again"
    assert [s.saved_at for s in await any_store.saved_papers(ANN, limit=10)] == [T0 + timedelta(days=1)]


async def test_list_is_newest_first_and_pages(any_store):
    for i, paper_id in enumerate(["a", "b", "c", "d"]):
        await any_store.save_paper(ANN, paper_id, channel_id=None, at=T0 + timedelta(minutes=i))
    await any_store.save_paper(ANN, "c2", channel_id=None, at=T0 + timedelta(minutes=2))  # ties go by id
    everything = [s.paper_id for s in await any_store.saved_papers(ANN, limit=10)]
    assert everything == ["d", "c", "c2", "b", "a"]
    assert [s.paper_id for s in await any_store.saved_papers(ANN, limit=2)] == ["d", "c"]
    assert [s.paper_id for s in await any_store.saved_papers(ANN, limit=2, offset=2)] == ["c2", "b"]
    assert [s.paper_id for s in await any_store.saved_papers(ANN, limit=2, offset=4)] == ["a"]
    assert await any_store.saved_papers(ANN, limit=2, offset=5) == []
    assert await any_store.saved_count(ANN) == 5


async def test_lists_are_per_reader(any_store):
    await any_store.save_paper(ANN, "p1", channel_id=None, at=T0)
    for other in (Reader("slack", "T1", "U2"), Reader("slack", "T2", "U1"), Reader("discord", "T1", "U1")):
        assert await any_store.saved_papers(other, limit=10) == []
        assert await any_store.saved_count(other) == 0
        assert not await any_store.unsave_paper(other, "p1")
        assert await any_store.save_paper(other, "p1", channel_id=None, at=T0), "their own list"
    assert await any_store.saved_count(ANN) == 1


# --- votes ------------------------------------------------------------------------------------------


async def test_vote_toggles_on_and_off_per_channel(any_store):
    channel = await any_store.ensure_channel(REF)
    other = await any_store.ensure_channel(OTHER)
    assert await any_store.toggle_vote(channel.id, "p1", "U1", at=T0) == (True, 1)
    assert await any_store.toggle_vote(channel.id, "p1", "U2", at=T0) == (True, 2)
    assert await any_store.toggle_vote(other.id, "p1", "U1", at=T0) == (True, 1), "another channel counts apart"
    assert await any_store.toggle_vote(channel.id, "p1", "U1", at=T0) == (False, 1)
    assert await any_store.toggle_vote(channel.id, "p1", "U1", at=T0) == (True, 2)
    assert await any_store.toggle_vote(channel.id, "p2", "U1", at=T0) == (True, 1)
    assert await any_store.vote_counts(channel.id, ["p1", "p2", "p3"]) == {"p1": 2, "p2": 1}
    assert await any_store.vote_counts(other.id, ["p1", "p2"]) == {"p1": 1}
    assert await any_store.vote_counts(channel.id, []) == {}
    assert await any_store.toggle_vote(other.id, "p1", "U1", at=T0) == (False, 0)
    assert await any_store.vote_counts(other.id, ["p1"]) == {}


async def test_concurrent_toggles_on_one_store_count_every_vote(any_store):
    channel = await any_store.ensure_channel(REF)
    results = await asyncio.gather(*(any_store.toggle_vote(channel.id, "p1", f"U{i}", at=T0) for i in range(10)))
    assert all(voted for voted, _ in results)
    assert sorted(count for _, count in results) == list(range(1, 11))
    assert await any_store.vote_counts(channel.id, ["p1"]) == {"p1": 10}


async def test_concurrent_toggles_from_two_postgres_stores(postgres_url):
    first, second = await open_postgres(postgres_url), await open_postgres(postgres_url)
    try:
        channel = await first.ensure_channel(REF)
        clicks = [(store, f"U{i}") for i in range(20) for store in (first, second)]
        results = await asyncio.gather(*(store.toggle_vote(channel.id, "p1", f"{user}-{id(store)}", at=T0)
                                         for store, user in clicks))
        assert all(voted for voted, _ in results)
        assert sorted(count for _, count in results) == list(range(1, 41)), "each count is exact"
        assert await second.vote_counts(channel.id, ["p1"]) == {"p1": 40}
        # The same person clicking twice at once, from two processes: on, then off.
        both = await asyncio.gather(first.toggle_vote(channel.id, "p2", "U1", at=T0),
                                    second.toggle_vote(channel.id, "p2", "U1", at=T0))
        assert sorted(both) == [(False, 0), (True, 1)]
        assert await first.vote_counts(channel.id, ["p2"]) == {}
    finally:
        await first.close()
        await second.close()


# --- leaderboard ------------------------------------------------------------------------------------


async def test_leaderboard_orders_by_votes_then_saves_then_id(any_store):
    channel = await any_store.ensure_channel(REF)
    other = await any_store.ensure_channel(OTHER)
    await post(any_store, channel.id, ["a", "b", "c", "d", "e", "quiet"], at=T0)
    await post(any_store, other.id, ["a", "z"], at=T0)
    for user in ("U1", "U2"):
        await any_store.toggle_vote(channel.id, "b", user, at=T0)
    await any_store.toggle_vote(channel.id, "c", "U1", at=T0)
    await any_store.toggle_vote(channel.id, "a", "U1", at=T0)
    await any_store.save_paper(ANN, "a", channel_id=channel.id, at=T0)
    await any_store.save_paper(Reader("slack", "T1", "U2"), "e", channel_id=channel.id, at=T0)
    await any_store.save_paper(Reader("slack", "T1", "U3"), "d", channel_id=channel.id, at=T0)
    # Votes and saves from elsewhere do not count here.
    for user in ("U1", "U2", "U3"):
        await any_store.toggle_vote(other.id, "a", user, at=T0)
        await any_store.toggle_vote(other.id, "z", user, at=T0)
    await any_store.save_paper(Reader("slack", "T1", "U4"), "quiet", channel_id=other.id, at=T0)
    await any_store.save_paper(Reader("slack", "T1", "U5"), "quiet", channel_id=None, at=T0)
    await any_store.toggle_vote(channel.id, "never-posted", "U1", at=T0)  # 👍 here: it counts here

    board = await any_store.leaderboard(channel.id, since=T0 - timedelta(days=7), limit=10)
    assert board == [RankedPaper("b", 2, 0), RankedPaper("a", 1, 1), RankedPaper("c", 1, 0),
                     RankedPaper("never-posted", 1, 0), RankedPaper("d", 0, 1), RankedPaper("e", 0, 1)]
    assert [r.paper_id for r in await any_store.leaderboard(channel.id, since=T0, limit=2)] == ["b", "a"]
    assert await any_store.leaderboard(other.id, since=T0, limit=10) == [
        RankedPaper("a", 3, 0), RankedPaper("z", 3, 0), RankedPaper("quiet", 0, 1)]  # saved from there


async def test_leaderboard_keeps_to_when_each_paper_first_came_to_the_channel(any_store):
    channel = await any_store.ensure_channel(REF)
    long_ago = T0 - timedelta(days=10)
    await post(any_store, channel.id, ["old"], at=long_ago)
    await post(any_store, channel.id, ["new"], at=T0)
    await any_store.record_baseline(channel.id, ["baseline"], at=T0)
    await any_store.enqueue_posts(channel.id, [("pending", None, None)], at=T0, max_per_hour=1000)
    await any_store.toggle_vote(channel.id, "baseline", "U1", at=long_ago)  # not posted: came with its 👍
    await any_store.save_paper(ANN, "saved-long-ago", channel_id=channel.id, at=long_ago)
    for paper_id in ("old", "new", "pending"):  # a late 👍 does not make an old post this week's
        await any_store.toggle_vote(channel.id, paper_id, "U2", at=T0)
    assert await any_store.leaderboard(channel.id, since=T0 - timedelta(days=7), limit=10) == [
        RankedPaper("new", 1, 0), RankedPaper("pending", 1, 0)]
    assert [r.paper_id for r in await any_store.leaderboard(channel.id, since=T0 - timedelta(days=30), limit=10)] \
        == ["baseline", "new", "old", "pending", "saved-long-ago"]
    assert await any_store.leaderboard(channel.id, since=T0 + timedelta(seconds=1), limit=10) == []


async def test_saves_and_votes_copy_to_either_backend(any_store, tmp_path, postgres_server):
    channel = await any_store.ensure_channel(REF)
    await any_store.save_paper(ANN, "p1", channel_id=channel.id, at=T0)
    await any_store.save_paper(Reader("discord", "G", "U9"), "p2", channel_id=None, at=T0)
    await any_store.toggle_vote(channel.id, "p1", "U1", at=T0)
    saves, votes = await any_store.dump_table("saves"), await any_store.dump_table("votes")
    assert saves == [
        {"platform": "discord", "workspace": "G", "user_id": "U9", "paper_id": "p2", "channel_id": None,
         "saved_at": T0},
        {"platform": "slack", "workspace": "T1", "user_id": "U1", "paper_id": "p1", "channel_id": channel.id,
         "saved_at": T0},
    ]
    assert votes == [{"channel_id": channel.id, "paper_id": "p1", "user_id": "U1", "voted_at": T0}]

    async def check_copy(database: str) -> None:
        copy = await open_store(database)
        try:
            for table in ("channels", "saves", "votes"):
                await copy.load_table(table, await any_store.dump_table(table))
            assert (await copy.dump_table("saves"), await copy.dump_table("votes")) == (saves, votes)
            assert await copy.saved_papers(ANN, limit=5) == [SavedPaper("p1", T0, channel.id)]
            assert await copy.toggle_vote(channel.id, "p1", "U2", at=T0) == (True, 2)
        finally:
            await copy.close()

    await check_copy(str(tmp_path / "copy.db"))
    async with fresh_database(postgres_server) as url:
        await check_copy(url)
