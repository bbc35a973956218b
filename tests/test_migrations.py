"""Versioned migrations: fresh databases, upgrade in place, too-new files, atomic steps, idempotent reopen."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timezone

import aiosqlite
import pytest

from bot.model.channels import ChannelRef
from bot.model.paper import Paper
from storage.sqlite import SchemaTooNewError, Store, latest_version, migrate
from storage.sqlite.versions import migrations

T0 = datetime(2024, 3, 14, 9, 0, tzinfo=timezone.utc)
REF = ChannelRef(platform="discord", workspace="g1", channel="c1")
OLD_PAPER = Paper(id="2403.10001", title="Twin-Merging of walrus experts", abstract="Model merging.",
                  authors=("Zoë Kravitz-Müller",), upvotes=12, daily_date=date(2024, 3, 14))


def user_version(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def table_names(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


async def build_version_1(path) -> None:
    """Write a database the way the first release left it: only 0001 applied, with data in it."""
    async with aiosqlite.connect(path) as conn:
        assert await migrate(conn, target=1) == 1
        await conn.execute(
            "INSERT INTO channels (id, platform, workspace, channel, realtime, digest_time, timezone, top_n,"
            " min_upvotes, created_at) VALUES (1, 'discord', 'g1', 'c1', 0, '08:00', 'Europe/Paris', 7, 2, ?)",
            (T0.isoformat(timespec="microseconds"),),
        )
        await conn.execute(
            "INSERT INTO topics (id, channel_id, query, added_by, added_at) VALUES (1, 1, 'merging', 'u1', ?)",
            (T0.isoformat(timespec="microseconds"),),
        )
        await conn.execute(
            "INSERT INTO papers (id, title, source, upvotes, daily_date, data) VALUES (?, ?, ?, ?, ?, ?)",
            (OLD_PAPER.id, OLD_PAPER.title, OLD_PAPER.source, OLD_PAPER.upvotes, "2024-03-14",
             OLD_PAPER.model_dump_json()),
        )
        await conn.execute(
            "INSERT INTO deliveries (channel_id, paper_id, state, topic_id, created_at) VALUES (1, ?, 'pending', 1, ?)",
            (OLD_PAPER.id, T0.isoformat(timespec="microseconds")),
        )
        await conn.execute("INSERT INTO state (key, value) VALUES ('last_poll', 'yesterday')")
        await conn.commit()


def test_shipped_migrations_are_numbered_and_at_least_two():
    found = migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert len(found) >= 2 and latest_version() == found[-1].version
    assert found[0].name == "0001_initial.sql" and "CREATE TABLE" in found[0].sql
    assert "fts5" in found[1].sql


async def test_fresh_database_is_created_at_latest_version(tmp_path):
    path = tmp_path / "new.db"
    async with await Store.open(path) as store:
        assert await store.schema_version() == latest_version()
    assert user_version(path) == latest_version()
    assert {"channels", "topics", "papers", "paper_lists", "deliveries", "state", "papers_fts"} <= table_names(path)


async def test_version_1_database_is_upgraded_in_place_with_data_intact(tmp_path):
    path = tmp_path / "old.db"
    await build_version_1(path)
    assert user_version(path) == 1 and "papers_fts" not in table_names(path)

    async with await Store.open(path) as store:
        assert await store.schema_version() == latest_version()
        channel = await store.get_channel(REF)
        assert (channel.id, channel.realtime, channel.digest_time, channel.timezone, channel.top_n,
                channel.min_upvotes, channel.created_at) == (1, False, "08:00", "Europe/Paris", 7, 2, T0)
        [topic] = await store.list_topics(1)
        assert (topic.query, topic.added_by, topic.added_at) == ("merging", "u1", T0)
        assert await store.get_paper(OLD_PAPER.id) == OLD_PAPER
        # 0002 indexed the papers that were already cached, and the triggers index new ones.
        assert [p.id for p in await store.search_papers(["walrus"])] == [OLD_PAPER.id]
        assert [p.id for p in await store.search_papers(["zoe"])] == [OLD_PAPER.id]
        await store.save_papers([Paper(id="2403.10002", title="A fresh walrus")])
        assert {p.id for p in await store.search_papers(["walrus"])} == {OLD_PAPER.id, "2403.10002"}
        [due] = await store.due_outbox(now=T0)
        assert (due.paper_ids, due.kind, due.state) == ((OLD_PAPER.id,), "paper", "pending")
        assert await store.get_state("last_poll") == "yesterday"
    assert user_version(path) == latest_version()


async def test_too_new_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "future.db"
    async with await Store.open(path) as store:
        await store.set_state("k", "v")
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    with pytest.raises(SchemaTooNewError, match=rf"version {latest_version() + 1}.*up to {latest_version()}"):
        await Store.open(path)
    assert user_version(path) == latest_version() + 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM state WHERE key = 'k'").fetchone() == ("v",)


async def test_reopening_is_idempotent(tmp_path):
    path = tmp_path / "again.db"
    async with await Store.open(path) as store:
        channel = await store.ensure_channel(REF)
        await store.save_papers([OLD_PAPER])
    schema = table_names(path)
    for _ in range(3):
        async with await Store.open(path) as store:
            assert await store.schema_version() == latest_version()
            assert await store.list_channels() == [channel]
            assert [p.id for p in await store.search_papers(["walrus"])] == [OLD_PAPER.id]
    assert table_names(path) == schema
    async with aiosqlite.connect(path) as conn:
        assert await migrate(conn) == latest_version()
        assert conn.total_changes == 0


async def test_a_failing_migration_changes_nothing(tmp_path):
    path = tmp_path / "clash.db"
    async with aiosqlite.connect(path) as conn:
        await migrate(conn, target=1)
        # A name 0002 creates near its end: 0002 fails after its first statements have run.
        await conn.execute("CREATE TABLE deliveries_by_topic (x)")
        await conn.commit()
    before = table_names(path)
    with pytest.raises(sqlite3.OperationalError, match="deliveries_by_topic"):
        await Store.open(path)
    assert user_version(path) == 1
    assert table_names(path) == before and "papers_fts" not in before


async def test_migrate_refuses_downgrades_and_unknown_targets(tmp_path):
    async with aiosqlite.connect(tmp_path / "x.db") as conn:
        await migrate(conn)
        with pytest.raises(ValueError, match="down"):
            await migrate(conn, target=1)
        with pytest.raises(ValueError):
            await migrate(conn, target=latest_version() + 1)


async def test_version_2_posts_still_owed_move_into_the_outbox(tmp_path):
    path = tmp_path / "v2.db"
    async with aiosqlite.connect(path) as conn:
        assert await migrate(conn, target=2) == 2
        await conn.execute(
            "INSERT INTO channels (platform, workspace, channel, realtime, timezone, top_n, min_upvotes, created_at)"
            " VALUES ('slack', 'T1', 'C1', 1, 'UTC', 5, 0, '2026-11-27T00:00:00.000000+00:00')")
        await conn.executemany(
            "INSERT INTO deliveries (channel_id, paper_id, state, created_at) VALUES (1, ?, ?, ?)",
            [("2403.10001", "pending", "2026-11-27T01:00:00.000000+00:00"),
             ("2403.10002", "sent", "2026-11-27T01:00:00.000000+00:00"),
             ("2403.10003", "baseline", "2026-11-27T01:00:00.000000+00:00")])
        await conn.commit()
    store = await Store.open(path)
    try:
        owed = await store.outbox_in_state("pending")
        assert [(e.kind, e.tag, e.paper_ids) for e in owed] == [("paper", "paper:2403.10001", ("2403.10001",))]
        assert (await store.delivery_counts(1)) == {"pending": 1, "sent": 1, "baseline": 1}
    finally:
        await store.close()
