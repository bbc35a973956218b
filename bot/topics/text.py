"""Fold, split and singularise text the same way for papers and for queries."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[^\W_]+")
"""A word: a run of letters and digits in any script ("GPT-3.5" is gpt, 3, 5)."""

# Letters that NFKD leaves whole because they are not "letter + accent" in Unicode.
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)
# Endings after which a final "s" is part of the word, not a plural (class, corpus, analysis).
_NOT_PLURAL = ("ss", "us", "is")
# Plurals that add "es" rather than "s" (classes, approaches, wishes, boxes).
_ES_PLURALS = ("sses", "ches", "shes", "xes")


def fold(text: str) -> str:
    """Return *text* case-folded with accents removed, so "Müller" reads as "muller"."""
    text = text.casefold()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    # NFKD can turn compatibility letters (ℌ, Ⅻ) into capitals, so fold once more.
    return bare.casefold().translate(_UNDECOMPOSED)


def words(text: str) -> list[str]:
    """Return the folded words of *text* in order."""
    return WORD.findall(fold(text))


def singular(word: str) -> str:
    """Return the singular form of a folded *word* by a few plural rules (not a stemmer).

    Both the paper's words and the query's words go through this, so a rule
    that is slightly wrong ("series" -> "sery") is still symmetric and harmless.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(_ES_PLURALS):
        return word[:-2]
    if word.endswith(_NOT_PLURAL) or not word.endswith("s"):
        return word
    return word[:-1]
