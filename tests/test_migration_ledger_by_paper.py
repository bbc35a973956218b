"""Migration 0012: the ledger rebuilt with its unique index led by the paper, every row and id kept."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import aiosqlite
import pytest

from storage.sqlite import Store, migrate

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
STAMP = "2026-11-27T09:00:00.000000+00:00"
ROWS = [  # id, channel, paper, state, why, topic, attempts, next_attempt_at, last_error, message_ref, created, sent, posted
    (1, 1, "2403.10001", "baseline", None, None, 0, None, None, None, STAMP, None, None),
    (2, 1, "2403.10002", "sent", "llm in title", 1, 1, None, None, "m-1", STAMP, STAMP, "code"),
    (3, 1, "2403.10003", "queued", "llm in abstract", 1, 0, None, None, None, STAMP, None, None),
    (5, 2, "2403.10001", "skipped", "walrus in title", 2, 3, STAMP, "too big", None, STAMP, None, None),
    (9, 2, "2403.10004", "pending", "walrus in title", 2, 0, None, None, None, STAMP, None, None),
]


async def build_version_11(path) -> None:
    """A database as version 11 left it, with ledger rows in every state and every column filled somewhere."""
    async with aiosqlite.connect(path) as conn:
        assert await migrate(conn, target=11) == 11
        await conn.executemany(
            "INSERT INTO channels (id, platform, workspace, channel, realtime, timezone, top_n, min_upvotes, created_at)"
            " VALUES (?, 'slack', 'T1', ?, 1, 'UTC', 5, 0, ?)", [(1, "C1", STAMP), (2, "C2", STAMP)])
        await conn.executemany(
            "INSERT INTO topics (id, channel_id, query, added_by, added_at, number) VALUES (?, ?, ?, 'u', ?, 1)",
            [(1, 1, "llm", STAMP), (2, 2, "walrus", STAMP)])
        await conn.executemany(f"INSERT INTO deliveries ({_COLUMNS}) VALUES ({', '.join('?' * 13)})", ROWS)
        await conn.commit()


_COLUMNS = ("id, channel_id, paper_id, state, why, topic_id, attempts, next_attempt_at, last_error, message_ref, "
            "created_at, sent_at, posted_state")


def schema(path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return {name: sql for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'deliveries' AND type = 'index'")}


async def test_every_ledger_row_keeps_its_id_and_columns_and_the_index_leads_with_the_paper(tmp_path):
    path = tmp_path / "v11.db"
    await build_version_11(path)
    async with await Store.open(path) as store:
        assert await store.schema_version() >= 12
        assert await store.delivery_counts(1) == {"baseline": 1, "sent": 1, "queued": 1}
        assert await store.channels_having("2403.10001", [1, 2, 3]) == {1, 2}
        assert not await store.enqueue(2, "2403.10004", state="queued", why=None, topic_id=None, at=T0)
        assert await store.enqueue(1, "2403.10004", state="queued", why=None, topic_id=1, at=T0)
    with sqlite3.connect(path) as conn:
        assert conn.execute(f"SELECT {_COLUMNS} FROM deliveries WHERE id < 10 ORDER BY id").fetchall() == ROWS
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        unique = [r for r in conn.execute("PRAGMA index_list(deliveries)") if r[2]]
        assert [[c[2] for c in conn.execute(f"PRAGMA index_info({u[1]})")] for u in unique] == [
            ["paper_id", "channel_id"]]
        # The channel's foreign key stays; the topic's, and its index, go (remove_topic clears the ledger).
        assert [(fk[2], fk[3]) for fk in conn.execute("PRAGMA foreign_key_list(deliveries)")] == [
            ("channels", "channel_id")]
    assert set(schema(path)) == {"sqlite_autoindex_deliveries_1", "deliveries_by_channel_state",
                                 "deliveries_sent_by_channel", "deliveries_posted_cards"}


async def test_the_posted_cards_of_listed_papers_are_read_without_their_channels_other_rows(tmp_path):
    """Led by the paper, the unique index would read every channel's baseline row of each listed paper."""
    path = tmp_path / "v11.db"
    await build_version_11(path)
    async with await Store.open(path) as store:
        [card] = await store.posted_cards(["2403.10001", "2403.10002", "2403.10004"])
        assert (card.channel_id, card.paper_id, card.message_ref, card.posted_state) == (1, "2403.10002", "m-1", "code")
    with sqlite3.connect(path) as conn:
        plan = " ".join(r[3] for r in conn.execute(
            """EXPLAIN QUERY PLAN SELECT channel_id, paper_id, message_ref, posted_state FROM deliveries
               WHERE state = 'sent' AND message_ref IS NOT NULL AND posted_state IS NOT NULL
                 AND paper_id IN (SELECT value FROM json_each(?))""", ('["2403.10001"]',)))
        assert "deliveries_posted_cards" in plan


async def test_the_ledger_still_refuses_a_channel_that_does_not_exist(tmp_path):
    async with await Store.open(tmp_path / "p.db") as store:
        with pytest.raises(sqlite3.IntegrityError):
            await store.enqueue(999, "2403.10001", state="queued", why=None, topic_id=None, at=T0)


async def test_removing_a_topic_clears_it_from_its_channels_ledger_only(tmp_path):
    path = tmp_path / "v11.db"
    await build_version_11(path)
    async with await Store.open(path) as store:
        await store.remove_topic(1)
        assert {r.paper_id: r.topic_id for r in await store.queued_deliveries(1)} == {"2403.10003": None}
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT id, topic_id FROM deliveries ORDER BY id").fetchall() == [
            (1, None), (2, None), (3, None), (5, 2), (9, 2)]


async def test_a_topic_removed_while_a_poll_queues_its_matches_fails_nothing(tmp_path):
    path = tmp_path / "v11.db"
    await build_version_11(path)
    async with await Store.open(path) as store:
        await store.remove_topic(2)  # after the poll matched topic 2, before it queues
        new = await store.enqueue_matches({2: [("2403.10005", "walrus in title", 2)]}, {}, at=T0, max_per_hour=10)
        assert new == {2: ["2403.10005"]}
        assert [e.paper_ids for e in await store.outbox_in_state("pending") if e.channel_id == 2] == [("2403.10005",)]
