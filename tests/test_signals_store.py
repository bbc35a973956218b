"""👎, the signals an interest model learns from, `forget me` and the picks/rank settings, on both backends."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.model.channels import ChannelRef
from bot.model.rows import PaperSignals, Reader
from bot.ports.store import open_store
from tests.postgres import fresh_database

T0 = datetime(2024, 3, 14, 9, 0, tzinfo=timezone.utc)
REF = ChannelRef(platform="slack", workspace="T1", channel="C1")
OTHER = ChannelRef(platform="slack", workspace="T1", channel="C2")
DM = ChannelRef(platform="slack", workspace="T1", channel="D1")
ELSEWHERE = ChannelRef(platform="slack", workspace="T2", channel="C9")
ANN = Reader("slack", "T1", "U1")


async def test_downvote_toggles_per_person_and_channel(any_store):
    channel = await any_store.ensure_channel(REF)
    other = await any_store.ensure_channel(OTHER)
    assert await any_store.toggle_downvote(channel.id, "p1", "U1", at=T0)
    assert await any_store.toggle_downvote(channel.id, "p1", "U2", at=T0)
    assert await any_store.toggle_downvote(other.id, "p1", "U1", at=T0), "another channel counts apart"
    assert not await any_store.toggle_downvote(channel.id, "p1", "U1", at=T0), "the second click takes it back"
    assert await any_store.channel_signals(channel.id) == [PaperSignals("p1", 0, 1)]
    assert await any_store.vote_counts(channel.id, ["p1"]) == {}, "a 👎 is no 👍"


async def test_channel_signals_are_votes_and_saves_there_against_downvotes_there(any_store):
    channel = await any_store.ensure_channel(REF)
    other = await any_store.ensure_channel(OTHER)
    await any_store.toggle_vote(channel.id, "p1", "U1", at=T0)
    await any_store.toggle_vote(channel.id, "p1", "U2", at=T0)
    await any_store.save_paper(ANN, "p1", channel_id=channel.id, at=T0)
    await any_store.save_paper(ANN, "p2", channel_id=channel.id, at=T0)
    await any_store.save_paper(Reader("slack", "T1", "U3"), "p5", channel_id=None, at=T0)
    await any_store.toggle_downvote(channel.id, "p3", "U1", at=T0)
    await any_store.toggle_downvote(channel.id, "p1", "U4", at=T0)
    await any_store.toggle_vote(other.id, "p4", "U1", at=T0)
    assert await any_store.channel_signals(channel.id) == [
        PaperSignals("p1", 3, 1), PaperSignals("p2", 1, 0), PaperSignals("p3", 0, 1)]
    assert await any_store.channel_signals(other.id) == [PaperSignals("p4", 1, 0)]


async def test_a_persons_signals_are_all_their_saves_and_their_own_votes_in_the_dm(any_store):
    channel = await any_store.ensure_channel(REF)
    dm = await any_store.ensure_channel(DM)
    await any_store.save_paper(ANN, "saved-here", channel_id=channel.id, at=T0)
    await any_store.save_paper(ANN, "saved-in-dm", channel_id=None, at=T0)
    await any_store.toggle_vote(dm.id, "liked", "U1", at=T0)
    await any_store.toggle_downvote(dm.id, "disliked", "U1", at=T0)
    await any_store.toggle_vote(channel.id, "liked-in-channel", "U1", at=T0)
    await any_store.toggle_vote(dm.id, "someone-else", "U2", at=T0)
    await any_store.save_paper(Reader("slack", "T2", "U1"), "other-workspace", channel_id=None, at=T0)
    assert await any_store.reader_signals(ANN, dm.id) == [
        PaperSignals("disliked", 0, 1), PaperSignals("liked", 1, 0), PaperSignals("saved-here", 1, 0),
        PaperSignals("saved-in-dm", 1, 0)]
    assert await any_store.reader_signals(ANN, None) == [
        PaperSignals("saved-here", 1, 0), PaperSignals("saved-in-dm", 1, 0)]


async def test_forget_removes_one_persons_signals_in_one_workspace(any_store):
    channel = await any_store.ensure_channel(REF)
    other = await any_store.ensure_channel(OTHER)
    elsewhere = await any_store.ensure_channel(ELSEWHERE)
    await any_store.toggle_vote(channel.id, "p1", "U1", at=T0)
    await any_store.toggle_vote(other.id, "p1", "U1", at=T0)
    await any_store.toggle_vote(channel.id, "p1", "U2", at=T0)
    await any_store.toggle_downvote(channel.id, "p2", "U1", at=T0)
    await any_store.save_paper(ANN, "p3", channel_id=channel.id, at=T0)
    await any_store.toggle_vote(elsewhere.id, "p1", "U1", at=T0)
    await any_store.save_paper(Reader("slack", "T2", "U1"), "p3", channel_id=None, at=T0)
    assert await any_store.forget_reader(ANN) == (2, 1, 1)
    assert await any_store.forget_reader(ANN) == (0, 0, 0)
    assert await any_store.channel_signals(channel.id) == [PaperSignals("p1", 1, 0)], "U2's 👍 stays"
    assert await any_store.channel_signals(elsewhere.id) == [PaperSignals("p1", 1, 0)], "another workspace stays"
    assert await any_store.saved_count(Reader("slack", "T2", "U1")) == 1


async def test_rank_and_picks_settings(any_store):
    channel = await any_store.ensure_channel(REF)
    assert (channel.digest_rank, channel.picks, channel.last_picks_at) == ("upvotes", None, None)
    changed = await any_store.update_channel(channel.id, digest_rank="interest", picks=3, last_picks_at=T0)
    assert (changed.digest_rank, changed.picks, changed.last_picks_at) == ("interest", 3, T0)
    assert await any_store.get_channel(REF) == changed


async def test_downvotes_and_settings_travel_with_db_copy(any_store, tmp_path, postgres_server):
    channel = await any_store.update_channel((await any_store.ensure_channel(REF)).id, digest_rank="interest",
                                             picks=4, last_picks_at=T0)
    await any_store.toggle_downvote(channel.id, "p1", "U1", at=T0)
    downvotes = await any_store.dump_table("downvotes")
    assert downvotes == [{"channel_id": channel.id, "paper_id": "p1", "user_id": "U1", "voted_at": T0}]

    async def check_copy(database: str) -> None:
        copy = await open_store(database)
        try:
            for table in ("channels", "downvotes"):
                await copy.load_table(table, await any_store.dump_table(table))
            assert await copy.dump_table("downvotes") == downvotes
            assert await copy.get_channel(REF) == channel
            assert not await copy.toggle_downvote(channel.id, "p1", "U1", at=T0), "the copied 👎 is there"
        finally:
            await copy.close()

    await check_copy(str(tmp_path / "copy.db"))
    async with fresh_database(postgres_server) as url:
        await check_copy(url)


async def test_picks_are_queued_once_with_their_whys_and_stamp_the_channel(any_store):
    channel = await any_store.ensure_channel(REF)
    await any_store.enqueue_posts(channel.id, [("old", "topic", None)], at=T0, max_per_hour=10)
    picks = [("p2", "close to: A"), ("old", "close to: B"), ("p1", None)]
    assert await any_store.enqueue_picks(channel.id, tag="picks:2024-03-14", title="Today's picks", picks=picks,
                                         at=T0)
    assert not await any_store.enqueue_picks(channel.id, tag="picks:2024-03-14", title="Today's picks",
                                             picks=[("p3", None)], at=T0), "the same day's picks queue once"
    entry = (await any_store.outbox_in_state("pending", channel_id=channel.id))[-1]
    assert (entry.kind, entry.tag, entry.title, entry.paper_ids) == ("digest", "picks:2024-03-14", "Today's picks",
                                                                     ("p2", "p1")), "a paper it has is left out"
    whys = await any_store.ledger_whys_many([(channel.id, "p2"), (channel.id, "p1"), (channel.id, "old")])
    assert whys == {(channel.id, "p2"): "close to: A", (channel.id, "p1"): None, (channel.id, "old"): "topic"}
    assert (await any_store.get_channel(REF)).last_picks_at == T0
    assert not await any_store.enqueue_picks(channel.id, tag="picks:2024-03-15", title="t", picks=[("p1", None)],
                                             at=T0), "nothing new: no post"
    assert len(await any_store.outbox_in_state("pending", channel_id=channel.id)) == 2


async def test_recent_papers_are_the_newest_published(any_store):
    from bot.model.paper import Paper
    from datetime import timedelta

    await any_store.save_papers([Paper(id=f"p{i}", title=f"T{i}", source="arxiv", categories=("cs.CL",),
                                       published_at=T0 - timedelta(days=i)) for i in range(5)])
    assert [p.id for p in await any_store.recent_papers(T0 - timedelta(days=2))] == ["p0", "p1", "p2"]
    assert [p.id for p in await any_store.recent_papers(T0 - timedelta(days=9), limit=2)] == ["p0", "p1"]
