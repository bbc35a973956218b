"""The prefix terms (``unlearn*``) of one field of `bot.topics.index`, and which of them a paper's words hold.

A word holds every prefix term whose token starts it. Cutting each word at every indexed
length and looking each cut up cost a string and a look-up per (word, length): some 600 a
paper at 100,000 topics, most of them hits, as topics write many prefixes of the same words
(``lea*``, ``learn*``, ``learni*``). So each token also keeps its *closure*: the terms of every
indexed token that starts it, itself included. The tokens a word starts are exactly those
starting the longest of them, so a word is cut from its longest indexed length down only
until the first hit, whose closure is every prefix term the word holds.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import Counter
from typing import Iterable, Iterator


class Prefixes:
    """Each prefix token's term numbers, and each token's closure (the terms of the tokens that start it)."""

    def __init__(self) -> None:
        self.terms: dict[str, tuple[int, ...]] = {}
        """Each token's own term numbers (one per field a term was written for, mostly one)."""
        self._closure: dict[str, tuple[int, ...]] = {}
        self._sorted: list[str] = []
        """The tokens in order, so the ones a token starts are found together after it."""
        self._lengths: Counter[int] = Counter()
        self._tries: list[tuple[int, ...]] = []
        """By word length (the longest token's length for longer words): the token lengths to cut, longest first."""

    def __bool__(self) -> bool:
        return bool(self.terms)

    def add(self, token: str, number: int) -> None:
        """File term *number* under *token*."""
        if token not in self.terms:
            insort(self._sorted, token)
            self._closure[token] = self._shorter_closure(token)
            self._lengths[len(token)] += 1
            self._tries = []
        self.terms[token] = (*self.terms.get(token, ()), number)
        for other in self._started_by(token):
            self._closure[other] = (*self._closure[other], number)

    def remove(self, token: str, number: int) -> None:
        """Undo `add`."""
        for other in self._started_by(token):
            closure = self._closure[other]
            at = closure.index(number)
            self._closure[other] = closure[:at] + closure[at + 1:]
        rest = tuple(other for other in self.terms[token] if other != number)
        if rest:
            self.terms[token] = rest
            return
        del self.terms[token], self._closure[token], self._sorted[bisect_left(self._sorted, token)]
        self._lengths[len(token)] -= 1
        if not self._lengths[len(token)]:
            del self._lengths[len(token)]
        self._tries = []

    def held(self, words: Iterable[str]) -> list[tuple[int, ...]]:
        """Return the closures of the longest token each of *words* starts: together, every prefix term held."""
        if not self.terms:
            return []
        tries = self._tries or self._make_tries()
        longest = len(tries) - 1
        closure = self._closure.get
        found = []
        for word in words:  # a Python step a word, but one look-up or two rather than one per indexed length
            size = len(word)
            for length in tries[size if size < longest else longest]:
                terms = closure(word[:length])
                if terms is not None:
                    found.append(terms)
                    break
        return found

    def _shorter_closure(self, token: str) -> tuple[int, ...]:
        """Return the closure of the longest indexed token that starts *token* and is shorter."""
        for length in range(len(token) - 1, 0, -1):
            closure = self._closure.get(token[:length])
            if closure is not None:
                return closure
        return ()

    def _started_by(self, token: str) -> Iterator[str]:
        """Yield the indexed tokens that *token* starts, itself included."""
        tokens = self._sorted
        at = bisect_left(tokens, token)
        while at < len(tokens) and tokens[at].startswith(token):
            yield tokens[at]
            at += 1

    def _make_tries(self) -> list[tuple[int, ...]]:
        lengths = sorted(self._lengths, reverse=True)
        self._tries = [tuple(length for length in lengths if length <= size) for size in range(lengths[0] + 1)]
        return self._tries
