"""A reading list as BibTeX: one arXiv ``@misc`` entry per paper, as arXiv's own export writes them.

Escaping is pylatexenc's (``& % $ # _ { } ~ ^ \\`` and accents become LaTeX); nothing here
hand-writes LaTeX. One change to its rules: braces become ``\\textbraceleft``/``\\textbraceright``,
because BibTeX counts every brace in a field, escaped or not, so a lone ``\\{`` from a title
would unbalance the entry.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from pylatexenc.latexencode import RULE_DICT, UnicodeToLatexConversionRule, UnicodeToLatexEncoder

from bot.model.paper import Paper

_ENCODER = UnicodeToLatexEncoder(
    conversion_rules=[
        UnicodeToLatexConversionRule(rule_type=RULE_DICT,
                                     rule={ord("{"): r"\textbraceleft", ord("}"): r"\textbraceright"}),
        "defaults",
    ],
    replacement_latex_protection="braces-all",  # Zo{\"e}: the form BibTeX sorts and abbreviates right
    unknown_char_policy="keep",  # a script LaTeX has no macro for (CJK) stays as UTF-8
    unknown_char_warning=False,
)
_SKIP_WORDS = frozenset({"a", "an", "the", "on", "of", "in", "for", "to", "and", "is", "are", "do", "does"})
_LETTERS = re.compile(r"[^a-z0-9]+")


def latex(text: str) -> str:
    """Return *text* (one line of it) as LaTeX that is safe inside a braced BibTeX field."""
    return _ENCODER.unicode_to_latex(" ".join(text.split()))


def year(paper: Paper) -> int | None:
    """The paper's year: when it was published, else when it was on Daily Papers."""
    if paper.published_at:
        return paper.published_at.year
    return paper.daily_date.year if paper.daily_date else None


def _ascii_words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return [w for w in _LETTERS.split(plain) if w]


def base_key(paper: Paper) -> str:
    """``<first author's last name><year><first title word>``, lowercase ASCII, e.g. ``neubig2024model``."""
    names = [name for name in paper.authors if name.strip()]
    last = _ascii_words(names[0].split()[-1]) if names else []
    words = [w for w in _ascii_words(paper.title) if w not in _SKIP_WORDS] or _ascii_words(paper.title)
    key = "".join(last) + str(year(paper) or "") + "".join(words[:1])
    return key if key and key[0].isalpha() else "arxiv" + (key or _LETTERS.sub("", paper.id.lower()))


def citation_keys(papers: Sequence[Paper]) -> dict[str, str]:
    """Return a unique key for each paper id; clashing keys get ``a``, ``b``, … in paper id order.

    The order is the ids', not the list's, so a key does not change when papers are saved or removed
    elsewhere in the list (only when a paper with the same key joins it).
    """
    groups: dict[str, list[str]] = {}
    for paper in sorted({p.id: p for p in papers}.values(), key=lambda p: p.id):
        groups.setdefault(base_key(paper), []).append(paper.id)
    keys: dict[str, str] = {}
    taken = set(groups)
    for base, ids in groups.items():
        if len(ids) == 1:
            keys[ids[0]] = base
            continue
        suffixes = _suffixes()
        for paper_id in ids:
            key = base + next(suffixes)
            while key in taken:
                key = base + next(suffixes)
            taken.add(key)
            keys[paper_id] = key
    return keys


def _suffixes():
    """``a`` … ``z``, then ``aa``, ``ab``, …: as many as clashes need."""
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    yield from letters
    for first in letters:
        for second in letters:
            yield first + second
    n = 0
    while True:
        n += 1
        yield f"x{n}"


def _name(name: str) -> str:
    """One author, escaped; a name BibTeX would split or reorder (a comma, a word "and") is braced whole."""
    text = latex(name)
    return f"{{{text}}}" if "," in name or " and " in f" {name.lower()} " else text


def entry(paper: Paper, key: str) -> str:
    """Return one ``@misc`` entry for *paper*."""
    fields: list[tuple[str, str]] = []
    authors = [_name(name) for name in paper.authors if name.strip()]
    if authors:
        fields.append(("author", " and ".join(authors)))
    fields.append(("title", latex(paper.title)))
    if (when := year(paper)) is not None:
        fields.append(("year", str(when)))
    fields += [("eprint", paper.id), ("archivePrefix", "arXiv")]
    if paper.categories and paper.categories[0].strip():
        # Escaped like any field: categories come from a source, and one stray brace would break the file.
        fields.append(("primaryClass", latex(paper.categories[0])))
    fields.append(("url", paper.arxiv_url))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


def bibtex(papers: Sequence[Paper]) -> str:
    """Return *papers* as one BibTeX file, in the order given."""
    keys = citation_keys(papers)
    return "\n".join(entry(paper, keys[paper.id]) for paper in papers)
