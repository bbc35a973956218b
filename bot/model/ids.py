"""Normalise the many ways people write an arXiv id to one canonical form."""

from __future__ import annotations

import re

from bot.model.usage import UsageError

_NEW_STYLE = re.compile(r"(?P<id>\d{4}\.\d{4,5})(?:v\d+)?")
# Any case, as a pasted line's first word reaches the engine in lower case; written back as arXiv does.
_OLD_STYLE = re.compile(r"(?P<archive>[a-z][a-z\-]+)(?P<subject>\.[a-z]{2})?/(?P<number>\d{7})(?:v\d+)?",
                        re.IGNORECASE)
_PREFIXES = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?"
    r"(?:arxiv\.org/(?:abs|pdf|html)/|huggingface\.co/papers/|hf\.co/papers/)",
    re.IGNORECASE,
)


def _new_style_exists(paper_id: str) -> bool:
    # arXiv switched from 4 to 5 digits after the dot in January 2015 (1501); months run 01-12.
    yymm, number = paper_id.split(".")
    return 1 <= int(yymm[2:]) <= 12 and len(number) == (5 if yymm >= "1501" else 4)


class InvalidPaperId(UsageError):
    """The text does not name an arXiv paper."""


def normalize_paper_id(text: str) -> str:
    """Return the bare arXiv id (no version) that *text* names.

    Accepts ``2403.12345``, ``2403.12345v2``, ``arXiv:2403.12345``, arXiv abs/pdf
    URLs, Hugging Face paper URLs and old-style ids such as ``hep-th/9901001``.
    """
    candidate = text.strip().strip("<>")
    candidate = _PREFIXES.sub("", candidate)
    if candidate[:6].lower() == "arxiv:":
        candidate = candidate[6:].lstrip()
    candidate = candidate.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if candidate.lower().endswith(".pdf"):
        candidate = candidate[:-4]
    match = _NEW_STYLE.fullmatch(candidate)
    if match and _new_style_exists(match["id"]):
        return match["id"]
    match = _OLD_STYLE.fullmatch(candidate)
    if match:
        return f"{match['archive'].lower()}{(match['subject'] or '').upper()}/{match['number']}"
    # One line, whatever the user pasted, so the error message stays one line.
    shown = " ".join(text.split())
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise InvalidPaperId(
        f"'{shown}' is not an arXiv id or paper URL "
        "(try 2403.12345, arXiv:2403.12345 or https://arxiv.org/abs/2403.12345)"
    )


def paper_id_in(text: str) -> str | None:
    """Return the paper id *text* names when it is only that (an id or a paper URL), else None."""
    if not text.strip() or len(text.split()) != 1:
        return None
    try:
        return normalize_paper_id(text)
    except InvalidPaperId:
        return None
