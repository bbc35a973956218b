"""The papers a poll has fully handled, kept across polls and across restarts.

A paper whose every match was queued owes no channel anything new while it and the topics stay
as they were: matching it again would only find channels that have it already, and asking the
ledger which those are costs more than the rest of a poll. A restarted bot sees the same lists
its last poll saw, so the set is saved (as the `state` row below) after each poll that changed
it, and read back by the first poll of the next process.

It only ever saves work. The ledger's one row per (channel, paper) is what keeps a paper from
being posted twice, so a set that is lost, stale or damaged costs a slower poll, never a post.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Iterable, Protocol

from bot.model.paper import Paper

log = logging.getLogger(__name__)

STATE_KEY = "poll.settled"
MAX_PAPERS = 10_000
"""Beyond this many, the set is forgotten: it only saves work, and the lists hold a few hundred papers."""
Signature = tuple[int, int, int]


class SettledStore(Protocol):
    async def get_state(self, key: str) -> str | None: ...
    async def set_state(self, key: str, value: str | None) -> None: ...


def fingerprint(paper: Paper) -> str:
    """A short digest of everything about *paper* that matching or a channel's floor can look at."""
    return hashlib.blake2b(paper.model_dump_json().encode(), digest_size=12).hexdigest()


class Settled:
    """Paper id -> fingerprint, for the papers every match of which was queued under one topics' signature."""

    def __init__(self) -> None:
        self.signature: Signature | None = None
        self._papers: dict[str, str] = {}
        self._loaded = False
        self._changed = False

    async def load(self, store: SettledStore) -> None:
        """Read the set the last poll saved, once per process (a damaged one is dropped: it only saves work)."""
        if self._loaded:
            return
        self._loaded = True
        try:
            saved = json.loads(await store.get_state(STATE_KEY) or "null")
            if saved:
                self.signature = tuple(saved["signature"])  # type: ignore[assignment]
                self._papers = {str(k): str(v) for k, v in saved["papers"].items()}
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("poll: the saved list of handled papers is unreadable; matching every paper again")
            self.signature, self._papers = None, {}

    def unsettled(self, papers: Iterable[Paper], signature: Signature | None) -> list[Paper]:
        """The *papers* not handled already, as they are now, by the topics of *signature*."""
        if signature != self.signature:
            return list(papers)
        return [p for p in papers if self._papers.get(p.id) != fingerprint(p)]

    def add(self, papers: Iterable[Paper], signature: Signature | None) -> None:
        """Remember *papers* as handled by the topics of *signature*; other topics forget the rest."""
        if signature != self.signature:
            self.signature, self._papers = signature, {}
        if len(self._papers) > MAX_PAPERS:
            self._papers = {}  # papers long gone from the lists
        for paper in papers:
            stamp = fingerprint(paper)
            if self._papers.get(paper.id) != stamp:
                self._papers[paper.id] = stamp
                self._changed = True

    async def save(self, store: SettledStore) -> None:
        """Write the set for the next process, if this poll changed it."""
        if not self._changed or self.signature is None:
            return
        await store.set_state(STATE_KEY, json.dumps({"signature": list(self.signature), "papers": self._papers}))
        self._changed = False
