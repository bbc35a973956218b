"""The storage contract on both backends, continued: the delivery ledger and its outbox."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

import pytest

from bot.model.channels import ChannelRef
from bot.model.rows import Settlement
from storage.sqlite import Store
from storage.sqlite.outbox import _CLAIM, _due_sql
from tests.test_storage import OTHER, REF, T0, store  # noqa: F401  (fixtures)


# --- delivery ledger -------------------------------------------------------------------------------


async def test_baseline_counts_new_rows_only(store):
    channel = await store.ensure_channel(REF)
    assert await store.record_baseline(channel.id, ["p1", "p2", "p1"], at=T0) == 2
    assert await store.record_baseline(channel.id, iter(["p2", "p3"]), at=T0) == 1
    assert await store.record_baseline(channel.id, [], at=T0) == 0
    assert await store.ledger_paper_ids(channel.id) == {"p1", "p2", "p3"}
    assert await store.delivery_counts(channel.id) == {"baseline": 3}


async def test_one_ledger_row_per_channel_and_paper(store):
    channel = await store.ensure_channel(REF)
    other = await store.ensure_channel(OTHER)
    topic = await store.add_topic(channel.id, "llm", "u", at=T0)
    assert await store.enqueue(channel.id, "p1", state="queued", why="matches llm", topic_id=topic.id, at=T0)
    assert not await store.enqueue(channel.id, "p1", state="queued", why=None, topic_id=None, at=T0)
    assert await store.enqueue_posts(channel.id, [("p1", None, None)], at=T0, max_per_hour=10) == []
    assert await store.record_baseline(channel.id, ["p1"], at=T0) == 0
    await store.record_baseline(channel.id, ["p2"], at=T0)
    assert not await store.enqueue(channel.id, "p2", state="queued", why=None, topic_id=None, at=T0)
    assert await store.enqueue(other.id, "p1", state="queued", why=None, topic_id=None, at=T0)
    assert await store.delivery_counts(channel.id) == {"queued": 1, "baseline": 1}
    [row] = await store.queued_deliveries(channel.id)
    assert (row.channel_id, row.paper_id, row.state, row.why, row.topic_id, row.attempts, row.created_at) == (
        channel.id, "p1", "queued", "matches llm", topic.id, 0, T0)


async def test_concurrent_enqueue_adds_one_row(store):
    channel = await store.ensure_channel(REF)
    added = await asyncio.gather(*(
        store.enqueue_posts(channel.id, [("p1", None, None)], at=T0, max_per_hour=10) for _ in range(20)
    ))
    assert added.count(["p1"]) == 1
    assert await store.delivery_counts(channel.id) == {"pending": 1}
    assert await store.outbox_counts(channel.id) == {"pending": 1}


async def test_enqueue_refuses_other_states(store):
    channel = await store.ensure_channel(REF)
    for state in ("sent", "baseline", "skipped", "bogus"):
        with pytest.raises(ValueError):
            await store.enqueue(channel.id, "p1", state=state, why=None, topic_id=None, at=T0)
    assert await store.delivery_counts(channel.id) == {}


async def test_due_outbox_respects_state_retry_time_pause_and_order(store):
    channel = await store.ensure_channel(REF)
    paused = await store.ensure_channel(OTHER)
    await store.enqueue_posts(channel.id, [("early", None, None), ("mid", None, None), ("late", None, None)],
                              at=T0, max_per_hour=10)
    await store.enqueue(channel.id, "digest", state="queued", why=None, topic_id=None, at=T0)
    await store.enqueue_posts(paused.id, [("blocked", None, None)], at=T0, max_per_hour=10)
    await store.update_channel(paused.id, paused_reason="403")
    now = T0 + timedelta(hours=1)
    due = await store.due_outbox(now=now)
    assert [d.paper_ids for d in due] == [("early",), ("mid",), ("late",)]
    assert [d.tag for d in await store.due_outbox(now=now, limit=2)] == ["paper:early", "paper:mid"]

    await store.mark_outbox_retry(due[0].id, error="HTTP 503", retry_at=now + timedelta(minutes=5))
    assert await store.due_outbox(now=now) == [], "a channel's later posts never overtake a waiting one"
    later = await store.due_outbox(now=now + timedelta(minutes=5))
    retried = later[0]
    assert (retried.state, retried.attempts, retried.last_error, retried.next_attempt_at) == (
        "pending", 1, "HTTP 503", now + timedelta(minutes=5))
    await store.update_channel(paused.id, paused_reason=None)
    assert "paper:blocked" in [d.tag for d in await store.due_outbox(now=now)]


async def test_sent_outbox_entries_mark_the_ledger(store):
    channel = await store.ensure_channel(REF)
    await store.enqueue_posts(channel.id, [("p1", None, None), ("p2", None, None)], at=T0, max_per_hour=10)
    first, second = await store.due_outbox(now=T0)
    assert await store.claim_outbox(first.id) and not await store.claim_outbox(first.id)
    await store.mark_outbox_sent(first.id, message_ref="msg-1", at=T0, posted_states={"p1": "code=0"})
    assert await store.delivery_counts(channel.id) == {"sent": 1, "pending": 1}
    [card] = await store.posted_cards(["p1", "p2"])
    assert (card.paper_id, card.message_ref, card.posted_state) == ("p1", "msg-1", "code=0")
    await store.mark_outbox_dead(second.id, error="HTTP 500")
    assert await store.outbox_counts(channel.id) == {"sent": 1, "dead": 1}


async def test_only_a_channels_oldest_unsettled_entry_can_be_claimed(store):
    """Whoever sends (this process or another), a channel's posts go out in the order they were queued."""
    channel = await store.ensure_channel(REF)
    other = await store.ensure_channel(OTHER)
    await store.enqueue_posts(channel.id, [("p1", "llm", None), ("p2", None, None)], at=T0, max_per_hour=10)
    await store.enqueue_posts(other.id, [("p1", "rl", None)], at=T0, max_per_hour=10)
    first, second, elsewhere = await store.due_outbox(now=T0)
    assert await store.claim_outbox_many([second.id, elsewhere.id]) == {elsewhere.id}, "p2 waits for p1"
    assert await store.claim_outbox_many([first.id, second.id]) == {first.id}
    assert await store.claim_outbox_many([first.id, 999999]) == set(), "taken, or unknown"
    assert not await store.claim_outbox(second.id), "p1 is in flight"

    await store.mark_outbox_sent_many([
        Settlement(first.id, "msg-1", T0, {"p1": "code=0"}),
        Settlement(elsewhere.id, "msg-9", T0 + timedelta(minutes=1), {"p1": "code=1"}),
        Settlement(999999, "nowhere", T0),  # unknown: ignored
    ])
    cards = {(c.channel_id, c.paper_id): (c.message_ref, c.posted_state) for c in await store.posted_cards(["p1"])}
    assert cards == {(channel.id, "p1"): ("msg-1", "code=0"), (other.id, "p1"): ("msg-9", "code=1")}
    assert await store.outbox_counts() == {"sent": 2, "pending": 1}
    assert await store.claim_outbox_many([second.id]) == {second.id}, "p1 is settled: p2 may go"
    await store.mark_outbox_retry(second.id, error="HTTP 503", retry_at=T0)
    assert await store.claim_outbox_many([]) == set()
    await store.mark_outbox_sent_many([])


async def test_due_outbox_for_some_platforms_and_a_few_per_channel(store):
    channel = await store.ensure_channel(REF)
    other = await store.ensure_channel(OTHER)
    await store.enqueue_posts(channel.id, [(f"d{i}", f"why d{i}", None) for i in range(5)], at=T0, max_per_hour=10)
    await store.enqueue_posts(other.id, [("s0", None, None), ("s1", None, None)], at=T0, max_per_hour=10)
    tags = lambda entries: [e.tag for e in entries]  # noqa: E731
    assert tags(await store.due_outbox(now=T0, per_channel=2)) == ["paper:d0", "paper:d1", "paper:s0", "paper:s1"]
    assert tags(await store.due_outbox(now=T0, platforms=["slack"])) == ["paper:s0", "paper:s1"]
    assert tags(await store.due_outbox(now=T0, platforms=["discord"], per_channel=1)) == ["paper:d0"]
    assert await store.due_outbox(now=T0, platforms=[]) == []
    whys = await store.ledger_whys_many([(channel.id, "d1"), (channel.id, "d4"), (other.id, "s0"),
                                         (other.id, "d1"), (channel.id, "nope")])
    assert whys == {(channel.id, "d1"): "why d1", (channel.id, "d4"): "why d4", (other.id, "s0"): None}


async def test_digest_takes_the_top_and_skips_the_rest(store):
    channel = await store.ensure_channel(REF)
    other = await store.ensure_channel(OTHER)
    for minute, paper in enumerate(["q1", "q2", "q3"]):
        await store.enqueue(channel.id, paper, state="queued", why="digest", topic_id=None,
                            at=T0 + timedelta(minutes=minute))
    await store.enqueue(other.id, "q1", state="queued", why=None, topic_id=None, at=T0)
    queued = await store.queued_deliveries(channel.id)
    assert [d.paper_id for d in queued] == ["q1", "q2", "q3"]
    assert all(d.state == "queued" and d.why == "digest" for d in queued)
    assert await store.enqueue_digest(channel.id, tag="digest:1", title="t", top=["q2"], skipped=["q1", "q3"],
                                      at=T0)
    assert not await store.enqueue_digest(channel.id, tag="digest:1", title="t", top=[], skipped=[], at=T0)
    assert await store.queued_deliveries(channel.id) == []
    assert await store.delivery_counts(channel.id) == {"pending": 1, "skipped": 2}
    assert (await store.get_channel_by_id(channel.id)).last_digest_at == T0
    [digest] = await store.due_outbox(now=T0)
    assert (digest.kind, digest.paper_ids) == ("digest", ("q2",))
    assert [d.paper_id for d in await store.queued_deliveries(other.id)] == ["q1"]


async def test_removing_a_topic_keeps_its_deliveries(store):
    channel = await store.ensure_channel(REF)
    topic = await store.add_topic(channel.id, "llm", "u", at=T0)
    await store.enqueue(channel.id, "p1", state="queued", why="llm", topic_id=topic.id, at=T0)
    await store.remove_topic(topic.id)
    [row] = await store.queued_deliveries(channel.id)
    assert (row.paper_id, row.topic_id) == ("p1", None)
    assert await store.ledger_paper_ids(channel.id) == {"p1"}



def vm_steps(conn, sql: str, params: tuple) -> tuple[list, int]:
    """The rows of *sql* and the virtual machine instructions SQLite ran for it: the statement's work, not its time."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn.set_progress_handler(count, 1)
    try:
        return conn.execute(sql, params).fetchall(), steps[0]
    finally:
        conn.set_progress_handler(None, 1)


async def test_a_sqlite_claim_reads_the_entries_it_names_not_every_pending_one(tmp_path):
    """A claim's work does not grow with the outbox: in a burst thousands are pending, and each claim read them all."""
    path = tmp_path / "claims.db"
    async with await Store.open(path) as sqlite_store:
        for n in range(60):
            channel = await sqlite_store.ensure_channel(ChannelRef(REF.platform, REF.workspace, f"chan-{n}"))
            await sqlite_store.enqueue_posts(channel.id, [(f"p{k}", None, None) for k in range(20)], at=T0,
                                             max_per_hour=100)
    with sqlite3.connect(path) as conn:
        first, second = (r[0] for r in conn.execute("SELECT id FROM outbox ORDER BY id LIMIT 2"))
        assert conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0] == 1200
        claimed, many = vm_steps(conn, _CLAIM, ("me", "now", f"[{first}]"))  # among 1,200 pending
        conn.execute("UPDATE outbox SET state = 'sent' WHERE id <> ?", (second,))
        claimed_too, few = vm_steps(conn, _CLAIM, ("me", "now", f"[{second}]"))  # the only one pending
    assert claimed == [(first,)] and claimed_too == [(second,)]
    assert many < 2 * few, (many, few)


async def test_a_sqlite_due_read_does_not_grow_with_the_channels_history(tmp_path):
    """Whether an older entry still waits is read from the unsettled entries, not from all a channel ever sent."""
    async def due_steps(path, history: int) -> tuple[int, int]:
        async with await Store.open(path) as sqlite_store:
            channel = await sqlite_store.ensure_channel(REF)
        with sqlite3.connect(path) as conn:  # months of posts that went out
            conn.executemany("INSERT INTO outbox (channel_id, kind, tag, paper_ids, state, created_at)"
                             " VALUES (?, 'paper', ?, '[\"old\"]', 'sent', ?)",
                             [(channel.id, f"old-{n}", "2000-01-01T00:00:00+00:00") for n in range(history)])
        async with await Store.open(path) as sqlite_store:
            await sqlite_store.enqueue_posts(channel.id, [(f"p{k}", None, None) for k in range(3)], at=T0,
                                             max_per_hour=100)
        with sqlite3.connect(path) as conn:
            rows, steps = vm_steps(conn, _due_sql(""), ("9999", "9999", 20, 20, 5000))
        return len(rows), steps

    fresh, fresh_steps = await due_steps(tmp_path / "fresh.db", 0)
    old, old_steps = await due_steps(tmp_path / "old.db", 2000)
    assert fresh == old == 3
    assert old_steps < 2 * fresh_steps, (old_steps, fresh_steps)
