"""Small helpers for the words of replies."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 paper``, ``2 papers``; *many* for words whose plural is not *word* + "s" (``entry``, ``entries``)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def rollup_title(count: int) -> str:
    """The title of the post that folds *count* papers past a channel's hourly cap into one."""
    return f"…and {plural(count, 'more new paper', 'more new papers')} matching this channel's topics"
