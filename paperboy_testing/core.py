"""A real Paperboy core for a platform's tests: a fresh SQLite file, the fake sources, a fake clock.

`running_core` is what `paperboy run` builds, minus the platforms; `running_platform` then creates
and starts an installed platform (found by its ``paperboy.platforms`` entry point) as the command
line does, registered with the core so commands see what it can do.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from paperboy_testing.arxiv_server import FakeArxiv
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import seed_items


def settings_for(folder: Path, hf: FakeHuggingFace, arxiv: FakeArxiv, **overrides: Any) -> Any:
    """Settings for a core whose database is in *folder* and whose sources are the fakes (no `.env` read)."""
    from bot.runtime.settings import Settings

    # The fakes answer at once or not at all: a stopped one is retried after 10 ms, not half a second and more.
    values: dict[str, Any] = dict(database=Path(folder) / "paperboy.db", hf_api_url=hf.base_url,
                                  arxiv_api_url=arxiv.base_url, answer_timeout=2.0, http_timeout=5.0,
                                  http_backoff=0.01)
    return Settings(_env_file=None, **{**values, **overrides})


@asynccontextmanager
async def running_core(folder: Path, *, clock: Callable | None = None, **settings: Any) -> AsyncIterator[Any]:
    """Open a core (`bot.runtime.app.Core`) on the fake Hugging Face (with its 92 seed papers) and the fake arXiv."""
    from bot.runtime.app import open_core

    async with FakeHuggingFace(seed_items()) as hf, FakeArxiv() as arxiv:
        async with open_core(settings_for(folder, hf, arxiv, **settings), clock=clock) as core:
            yield core


@asynccontextmanager
async def running_platform(core: Any, name: str) -> AsyncIterator[Any]:
    """Create the installed platform *name*'s adapter for *core* as `paperboy run` does (only when *core*'s
    settings turn it on), register and start it; stop it after."""
    from bot.ports.platforms import configured, named

    platform = named(name)
    if platform is None:
        raise LookupError(f"no platform {name!r} among the entry points of paperboy.platforms")
    if platform not in configured(core.settings):
        raise LookupError(f"the settings do not turn {name} on: give one of {', '.join(platform.switches)}")
    adapter = platform.create(core, core.engine)
    core.platforms.add(adapter)  # before it starts, as `paperboy run` does: commands may come at once
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()
