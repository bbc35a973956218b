"""Shared fixtures: the fake Hugging Face and arXiv servers, settings, and a real core."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

# Fixtures import lazily, so a suite that needs none of them never imports the whole bot.

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def fake_hf():
    """A fake Hugging Face on 127.0.0.1 serving the 92 seed papers."""
    from tests.fakes.hf_server import FakeHuggingFace
    from tests.fakes.seed import seed_items

    async with FakeHuggingFace(seed_items()) as fake:
        yield fake


@pytest.fixture
async def fake_arxiv():
    from tests.fakes.arxiv_server import FakeArxiv

    async with FakeArxiv() as fake:
        yield fake


@pytest.fixture
def settings(tmp_path, fake_hf, fake_arxiv):
    from bot.settings import Settings

    return Settings(
        database=tmp_path / "paperboy.db",
        hf_api_url=fake_hf.base_url,
        arxiv_api_url=fake_arxiv.base_url,
        answer_timeout=2.0,
        http_timeout=5.0,
        _env_file=None,
    )


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def core(settings, clock):
    from bot.app import open_core

    async with open_core(settings, clock=clock) as core:
        yield core


from tests.postgres import postgres_server, postgres_url  # noqa: E402,F401  (fixtures)


@pytest.fixture(params=["sqlite", "postgres"])
async def any_store(request, tmp_path, postgres_server):
    """A store on each backend in turn (a new file, or a new database): the contract tests run on both."""
    from bot.store import open_store
    from tests.postgres import fresh_database

    if request.param == "sqlite":
        store = await open_store(str(tmp_path / "paperboy.db"))
        yield store
        await store.close()
        return
    async with fresh_database(postgres_server) as url:
        store = await open_store(url)
        yield store
        await store.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def any_core(request, settings, clock, postgres_server):
    """A real core on each backend in turn: command and delivery paths run on SQLite and on Postgres."""
    from bot.app import open_core
    from tests.postgres import fresh_database

    if request.param == "sqlite":
        async with open_core(settings, clock=clock) as core:
            yield core
        return
    async with fresh_database(postgres_server) as url:
        async with open_core(settings.model_copy(update={"database": url}), clock=clock) as core:
            yield core
from tests.synapse import synapse_server  # noqa: E402,F401  (fixture: a real Matrix homeserver per session)
