"""Shared fixtures: the testing kit's fake Hugging Face, arXiv and clock, settings, and a real core."""

from __future__ import annotations

from pathlib import Path

import pytest

# Fixtures import lazily, so a suite that needs none of them never imports the whole bot.

ROOT = Path(__file__).resolve().parents[1]

LONGEST_FIRST = ("test_crash_postgres.py", "test_matrix_crash.py", "test_crash.py", "test_engine.py", "test_why.py",
                 "test_conformance.py", "test_community_posts.py", "test_topic_filters.py", "test_container.py")
"""The files that take longest, run first: `make test` hands whole files to two workers in collection order
(`--no-loadscope-reorder`, in the Makefile), so a long one handed out last would leave the other worker idle."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture
async def fake_hf():
    """A fake Hugging Face on 127.0.0.1 serving the 92 seed papers."""
    from paperboy_testing.hf_server import FakeHuggingFace
    from paperboy_testing.seed import seed_items

    async with FakeHuggingFace(seed_items()) as fake:
        yield fake


@pytest.fixture
async def fake_arxiv():
    from paperboy_testing.arxiv_server import FakeArxiv

    async with FakeArxiv() as fake:
        yield fake


@pytest.fixture
def settings(tmp_path, fake_hf, fake_arxiv):
    from paperboy_testing.core import settings_for

    return settings_for(tmp_path, fake_hf, fake_arxiv)  # a database in tmp_path, the fake sources, no .env


@pytest.fixture
def clock():
    from paperboy_testing.clock import FakeClock

    return FakeClock()


@pytest.fixture
async def core(settings, clock):
    from bot.runtime.app import open_core

    async with open_core(settings, clock=clock) as core:
        yield core


from tests.postgres import postgres_server, postgres_template, postgres_url  # noqa: E402,F401  (fixtures)


@pytest.fixture(params=["sqlite", "postgres"])
async def any_store(request, tmp_path, postgres_server, postgres_template):
    """A store on each backend in turn (a new file, or a new database): the contract tests run on both."""
    from bot.ports.store import open_store
    from tests.postgres import fresh_database

    if request.param == "sqlite":
        store = await open_store(str(tmp_path / "paperboy.db"))
        yield store
        await store.close()
        return
    async with fresh_database(postgres_server, postgres_template) as url:
        store = await open_store(url)
        yield store
        await store.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def any_core(request, settings, clock, postgres_server, postgres_template):
    """A real core on each backend in turn: command and delivery paths run on SQLite and on Postgres."""
    from bot.runtime.app import open_core
    from tests.postgres import fresh_database

    if request.param == "sqlite":
        async with open_core(settings, clock=clock) as core:
            yield core
        return
    async with fresh_database(postgres_server, postgres_template) as url:
        async with open_core(settings.model_copy(update={"database": url}), clock=clock) as core:
            yield core
from tests.synapse import synapse_server  # noqa: E402,F401  (fixture: a real Matrix homeserver per session)
