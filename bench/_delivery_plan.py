"""The delivery benchmark's plan: what a run queues and its lower bound (both processes compute it alike).

Not a benchmark itself; ``bench/delivery.py`` imports it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from bot.ports.adapter import RateLimit

DISCORD_CHANNEL_BASE = 1_100_000_000_000_000_000
"""Channel snowflakes well below the fake's own ids, so they never collide."""
DISCORD_LIMITS = (RateLimit("channel", 5, 5.0), RateLimit("global", 50, 1.0))
SLACK_LIMITS = (RateLimit("channel", 1, 1.0), RateLimit("workspace", 300, 60.0))
SLACK_SIGNING_SECRET = "bench-signing-secret"


@dataclass(frozen=True, slots=True)
class Queued:
    """One outbox entry of the plan: a channel (workspace, channel id), its kind and its papers."""

    workspace: str
    channel: str
    kind: str  # "digest" or "paper"
    paper_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One benchmark run: platform, run name, sizes and the time scale."""

    platform: str
    run: str
    channels: int
    per_channel: int
    """Digest: papers in each digest; burst: single posts per channel."""
    teams: int
    scale: float
    history: int = 0
    """Posts each channel sent before the run, as months of use leave them (the outbox keeps them)."""


def scaled(limits: Sequence[RateLimit], scale: float) -> tuple[RateLimit, ...]:
    """Return *limits* with every window divided by *scale*."""
    return tuple(RateLimit(limit.scope, limit.count, limit.per / scale) for limit in limits)


def platform_limits(spec: RunSpec) -> tuple[RateLimit, ...]:
    """Return the limits both the fake and the adapter use in *spec*'s run."""
    return scaled(DISCORD_LIMITS if spec.platform == "discord" else SLACK_LIMITS, spec.scale)


def channel_refs(spec: RunSpec, *, guild_id: str = "") -> list[tuple[str, str]]:
    """Return (workspace, channel id) for each channel: one Discord guild, or Slack teams in equal shares."""
    if spec.platform == "discord":
        return [(guild_id, str(DISCORD_CHANNEL_BASE + n)) for n in range(spec.channels)]
    # Slack channel ids are unique across workspaces, as the fake (and Slack) assume.
    return [(team_id(n % spec.teams), f"C{n % spec.teams:02d}X{n:05d}") for n in range(spec.channels)]


def team_id(n: int) -> str:
    return f"T{n:02d}"


def team_token(team: str) -> str:
    return f"xoxb-bench-{team}"


def plan(spec: RunSpec, paper_ids: Sequence[str], *, guild_id: str = "") -> list[Queued]:
    """Return the entries to queue, channel by channel (the order a poll would queue them in).

    Papers rotate through *paper_ids* so neighbouring channels get different ones.
    """
    queued = []
    for n, (workspace, channel) in enumerate(channel_refs(spec, guild_id=guild_id)):
        chosen = tuple(paper_ids[(n + k) % len(paper_ids)] for k in range(spec.per_channel))
        if spec.run == "digest":
            queued.append(Queued(workspace, channel, "digest", chosen))
        else:
            queued.extend(Queued(workspace, channel, "paper", (pid,)) for pid in chosen)
    return queued


def lower_bound(entries: Sequence[Queued], limits: Sequence[RateLimit]) -> tuple[float, str]:
    """Return the shortest makespan the limits allow for *entries*, and the limit that sets it.

    In each scope, n messages need floor((n - 1) / count) full windows between the first
    and the last, since no window of ``per`` seconds may hold more than ``count`` of them.
    """
    best, why = 0.0, "no limit binds"
    for limit in limits:
        per_scope = Counter(_scope_key(entry, limit.scope) for entry in entries)
        for key, n in per_scope.items():
            bound = (n - 1) // limit.count * limit.per
            if bound > best:
                best, why = bound, f"{limit.scope} {limit.count}/{limit.per:g}s ({n} messages in {key})"
    return best, why


def _scope_key(entry: Queued, scope: str) -> str:
    if scope == "channel":
        return f"{entry.workspace}/{entry.channel}"
    if scope == "workspace":
        return entry.workspace
    return "*"


def expected_paper_ids(entries: Sequence[Queued]) -> dict[str, list[str]]:
    """Return each channel's papers in the order its messages must arrive."""
    expected: dict[str, list[str]] = {}
    for entry in entries:
        expected.setdefault(entry.channel, []).extend(entry.paper_ids)
    return expected


def bench_why(paper: Any, n: int) -> str:
    """Channel *n*'s reason for *paper*, shaped as a topic's match explains it (``agents in title, abstract``).

    Its second term is a word of the abstract chosen by the channel: as with real topics, nearly every
    channel's reason, and so its card, is its own, and the render cache does not spare the work.
    """
    title = max(re.findall(r"[A-Za-z]{4,}", paper.title) or ["paper"], key=len).lower()
    words = re.findall(r"[A-Za-z]{6,}", paper.summary or "") or ["method"]
    return f"{title} in title, abstract; {words[n % len(words)].lower()} in abstract"


def bench_paper_ids() -> list[str]:
    """Return the ids of the seed papers the bot caches (the same list in both processes)."""
    from paperboy_testing.seed import seed_id, seed_items

    return [seed_id(n) for n in range(len(seed_items()))]

