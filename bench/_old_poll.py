"""The poll's match-and-queue step as it was before issue 27, kept for `bench/poll_scale.py` to measure against.

`PerChannelPoller` is the current `Poller` with the old step: a ledger read, a channel read
and, per channel, a transaction (`enqueue_posts`) or a transaction per match (`enqueue`);
each match explained for every channel; every paper matched again on every poll.
"""

from __future__ import annotations

from datetime import datetime

from bot.model.paper import Paper
from bot.delivery.poller import EVERY, Poller, PollReport
from bot.model.rows import Channel
from bot.topics import Match, PaperText


class PerChannelPoller(Poller):
    """`Poller` with the match-and-queue step of before (a statement per channel and per match)."""

    async def _match_papers(self, papers: list[Paper], report: PollReport, *, now: datetime,
                            only: set[tuple[int, int]] | None = None) -> None:
        index = await self._index()
        found: dict[int, list[tuple[Paper, str, int]]] = {}
        channels: dict[int, Channel] = {}
        for paper in papers:
            first: dict[int, tuple[int, Match]] = {}
            every = [(key, EVERY.match(paper)) for key in self.topics.every_paper] if only is None else []
            for key, match in (*every, *index.matches(PaperText.of(paper))):
                channel_id, topic_id = key
                if only is not None and key not in only:
                    continue
                if channel_id not in first or topic_id < first[channel_id][0]:
                    first[channel_id] = (topic_id, match)
            fresh = set(first) - await self.store.channels_having(paper.id, list(first))
            missing = [cid for cid in fresh if cid not in channels]
            channels.update(await self.store.get_channels(missing) if missing else {})
            for channel_id in sorted(fresh):
                topic_id, match = first[channel_id]
                if (paper.upvotes or 0) >= channels[channel_id].min_upvotes:
                    found.setdefault(channel_id, []).append((paper, match.explain(), topic_id))
        for channel_id, matches in found.items():
            await self._old_hand_over(channels[channel_id], matches, report, now=now)

    async def _old_hand_over(self, channel: Channel, matches: list[tuple[Paper, str, int]], report: PollReport,
                             *, now: datetime) -> None:
        if channel.realtime and not channel.digest_time:
            new = await self.store.enqueue_posts(channel.id, [(p.id, why, tid) for p, why, tid in matches],
                                                 at=now, max_per_hour=self.max_posts_per_hour)
        else:
            new = [p.id for p, why, tid in matches
                   if await self.store.enqueue(channel.id, p.id, state="queued", why=why, topic_id=tid, at=now)]
        fresh = set(new)
        report.enqueued += [(channel, p, why) for p, why, _ in matches if p.id in fresh]
