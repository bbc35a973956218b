"""Shared bits of the benchmarks: percentiles, resident memory, seed-based papers and topics.

Not a benchmark itself; ``bench/commands.py`` and ``bench/memory.py`` import it.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from datetime import date, timedelta

from bot.model.paper import Paper
from bot.topics import QueryError, parse_query
from paperboy_testing.seed import seed_papers, seed_titles_and_abstracts

_WORD = re.compile(r"[A-Za-z][A-Za-z-]{4,}")
_STOP = frozenset(
    "about above after again against their there these those which while where would could should "
    "using based large model models through between within without other under first second often".split()
)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of *values* (``fraction`` 0.5 is the median, 0.99 the p99)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def rss_mb() -> float:
    """Return this process's current resident set size (``VmRSS``) in MB."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    """Return this process's peak resident set size (``VmHWM``) in MB."""
    return _status_kb("VmHWM") / 1024


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} (not Linux?)")


def seed_vocabulary() -> list[str]:
    """Return the distinctive words of the seed titles and abstracts, most frequent first."""
    counts: dict[str, int] = {}
    for title, abstract in seed_titles_and_abstracts():
        for word in _WORD.findall(f"{title} {abstract}"):
            word = word.lower().strip("-")
            if len(word) > 4 and word not in _STOP:
                counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))


def synthetic_papers(count: int, *, rng: random.Random, today: date, first_number: int = 1) -> list[Paper]:
    """Return *count* variations of the seed papers with fresh ids (``2401.NNNNN``, then ``2402.``…).

    Titles and abstracts are seed sentences reshuffled, so their size and words are those
    of real papers; dates spread over the last year.
    """
    seeds = seed_papers(today=today)
    papers = []
    for n in range(first_number, first_number + count):
        base = rng.choice(seeds)
        other = rng.choice(seeds)
        sentences = base.abstract.split(". ") + other.abstract.split(". ")
        rng.shuffle(sentences)
        month, number = divmod(n, 100_000)
        papers.append(base.model_copy(update={
            "id": f"24{1 + month:02d}.{number:05d}",
            "title": f"{base.title.split(':')[0]}: {other.title.split(':')[-1].strip()} ({n})",
            "abstract": ". ".join(sentences[: max(4, len(sentences) // 2)]),
            "ai_summary": sentences[0] if n % 3 else None,
            "upvotes": rng.randint(0, 300),
            "daily_date": today - timedelta(days=rng.randint(0, 365)),
        }))
    return papers


def topic_queries(count: int, *, rng: random.Random, vocabulary: Sequence[str] | None = None) -> list[str]:
    """Return *count* valid topic queries (canonical text) built from the seed vocabulary.

    The mix is what people type: single words, phrases, prefixes, OR groups, exclusions
    and field filters. Repeats are allowed: popular topics are followed by many channels.
    """
    words = list(vocabulary or seed_vocabulary())
    popular = words[:200]

    def word() -> str:
        return rng.choice(popular) if rng.random() < 0.6 else rng.choice(words)

    shapes = (
        lambda: word(),
        lambda: f'"{word()} {word()}"',
        lambda: f"{word()[:5]}*",
        lambda: f"{word()} OR {word()}",
        lambda: f"{word()} -{word()}",
        lambda: f"title:{word()}",
        lambda: f'({word()} OR "{word()} {word()}") {word()}',
    )
    queries: list[str] = []
    while len(queries) < count:
        try:
            queries.append(parse_query(rng.choice(shapes)()).text)
        except QueryError:
            continue
    return queries
