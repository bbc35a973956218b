"""Small helpers for the words of replies."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 paper``, ``2 papers``; *many* for words whose plural is not *word* + "s" (``entry``, ``entries``)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def lowered(line: str) -> str:
    """A sentence as a parenthesis: ``Ranked by upvotes….`` -> ``ranked by upvotes…``."""
    return line[0].lower() + line[1:].rstrip(".")
