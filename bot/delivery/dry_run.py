"""`paperboy poll --dry-run`: run the real poll on a throwaway copy of the database (an SQLite file, whatever the backend).

Simulating a poll would drift from the real one (roll-ups, digests, thresholds, edits). Instead
the whole cycle runs for real against a copy, with every platform replaced by an in-memory
recorder, so what it prints is exactly what a real poll would send, and the database is untouched.
"""

from __future__ import annotations

import logging
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from bot.runtime.app import Core, open_core
from bot.model.channels import ChannelRef
from bot.runtime.db_copy import copy_database
from bot.delivery.poller import PollReport
from bot.model.replies import PaperCard, PaperList, Post
from bot.ports.store import open_store


@dataclass(frozen=True, slots=True)
class WouldSend:
    """One message a real poll would send now: a new post, or an edit of an earlier one."""

    channel: ChannelRef
    post: Post
    edit: bool = False

    def describe(self, render: Callable[[PaperCard | PaperList], str] | None = None) -> str:
        """The message as *render* (the console's rendering) shows it, under a marked head line.

        Without *render*: the head line, then one indented line per paper in the message.
        """
        if render is not None:
            what = f"edit of {self.post.tag}" if self.edit else self.post.tag
            return f"[dry run, not sent] {what} in {self.channel}:\n{render(self.post.content)}"
        what = "edit" if self.edit else self.post.tag.split(":", 1)[0]
        content = self.post.content
        head = (f"[dry run, not sent] {self.channel} {what} {self.post.tag}: "
                + (content.paper.title if isinstance(content, PaperCard) else content.title))
        cards = (content,) if isinstance(content, PaperCard) else content.cards
        lines = [head] + [f"    {c.paper.id} {c.paper.title}" + (f" (matched: {c.why})" if c.why else "")
                          for c in cards]
        return "\n".join(lines)


async def dry_run(core: Core) -> tuple[PollReport, list[WouldSend]]:
    """Run one full poll cycle on a copy of *core*'s database and return what it sent."""
    from adapters.memory import MemoryAdapter  # the recorder is an adapter; the core stays platform-free

    with tempfile.TemporaryDirectory(prefix="paperboy-dry-run-") as folder:
        copy = str(Path(folder) / "copy.db")
        target = await open_store(copy)
        try:
            await copy_database(core.store, target)
        finally:
            await target.close()
        settings = core.settings.model_copy(update={"database": copy})
        with _worker_quiet():
            async with open_core(settings, clock=core.engine.clock) as trial:
                platforms = {channel.ref.platform for channel in await trial.store.list_channels()}
                recorders = [MemoryAdapter(platform=platform) for platform in sorted(platforms)]
                for recorder in recorders:
                    trial.platforms.add(recorder)
                report = await trial.poller.poll_once()
    sent = [WouldSend(channel, post) for r in recorders for channel, post in r.history]
    sent += [WouldSend(channel, post, edit=True) for r in recorders for channel, _, post in r.edits]
    return report, sorted(sent, key=lambda would: str(would.channel))  # stable: each channel's order stays


@contextmanager
def _worker_quiet() -> Iterator[None]:
    """Keep the trial's delivery worker from logging each recorded message as "sent": nothing is.

    Its warnings and errors still show.
    """
    worker_log = logging.getLogger("bot.delivery.worker")
    level = worker_log.level
    worker_log.setLevel(max(logging.WARNING, worker_log.getEffectiveLevel()))
    try:
        yield
    finally:
        worker_log.setLevel(level)
