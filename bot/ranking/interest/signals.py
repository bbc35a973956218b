"""What the interest model takes and gives, without numpy: signalled papers in, ranked papers out.

Apart from `model`, so that a process which never trains a model (no channel has enough 👍 yet)
never imports numpy and scipy (about 25 MB of resident memory).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.model.paper import Paper

MIN_POSITIVES = 3
"""Positive signals a channel needs before its ranking is its own (below it, callers use upvotes)."""


@dataclass(frozen=True)
class Signalled:
    """One paper a channel or person signalled, with how many times each way."""

    paper: Paper
    positive: int
    """👍 and saves (people's); 0 if none."""
    negative: int
    """👎."""


@dataclass(frozen=True)
class Ranked:
    """A candidate as a model ranks it, with the why a person can check."""

    paper: Paper
    score: float
    close_to: tuple[tuple[Paper, int], ...]
    """Up to two liked papers it is closest to, each with its positive count, closest first."""
    terms: tuple[str, ...]
    """Up to three of its terms that weigh most for it (words, phrases, categories or authors)."""
