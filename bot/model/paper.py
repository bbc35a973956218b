"""The one `Paper` model every source parses into and every adapter renders."""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

HUB_URL = "https://huggingface.co"
FULL_CARD_AUTHORS = 20
"""How many authors a full card (the `show` answer) names before "and N more"."""
FULL_CARD_REPOS = 5
"""How many linked models, datasets and Spaces of each kind a full card links to."""


class LinkedRepos(NamedTuple):
    """Some Hugging Face Hub repositories of one kind that cite a paper."""

    label: str
    """``Models``, ``Datasets`` or ``Spaces``."""
    links: tuple[tuple[str, str], ...]
    """(repo id, Hub URL) pairs, as many as a card shows."""
    more: int
    """How many more the paper has beyond `links`."""

    def more_text(self) -> str | None:
        """Say how many are not linked, or None when all are."""
        if not self.more:
            return None
        return f"and {self.more} more" if self.links else f"{self.more} on Hugging Face"


class Paper(BaseModel):
    """A research paper as Paperboy knows it.

    Optional fields are ``None`` when the source did not say: an absent GitHub
    star count is unknown, not zero.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    """Normalised arXiv id without version: ``2403.12345`` or ``hep-th/9901001``."""
    title: str
    authors: tuple[str, ...] = ()
    abstract: str = ""
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    upvotes: int | None = None
    comments: int | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    organization: str | None = None
    published_at: datetime | None = None
    daily_date: date | None = None
    """The day the paper was put on Hugging Face Daily Papers."""
    thumbnail: str | None = None
    linked_models: tuple[str, ...] = ()
    """Ids (``org/name``) of the Hub models that cite the paper; only the paper endpoint gives them."""
    linked_datasets: tuple[str, ...] = ()
    linked_spaces: tuple[str, ...] = ()
    linked_models_total: int | None = None
    """How many models cite the paper in all (the id lists may be shorter); None when unknown."""
    linked_datasets_total: int | None = None
    linked_spaces_total: int | None = None
    source: str = "huggingface"
    """Where this record came from: ``huggingface`` or ``arxiv``."""
    categories: tuple[str, ...] = ()
    """arXiv categories as arXiv writes them, primary first: ``("cs.CL", "cs.LG")``; empty when the
    source did not say (Hugging Face does not). Topics filter on them with ``cat:``."""

    @property
    def hf_url(self) -> str:
        return f"https://huggingface.co/papers/{self.id}"

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.id}"

    @property
    def url(self) -> str:
        """The paper's main page: Hugging Face when it has one, else arXiv."""
        return self.hf_url if self.source == "huggingface" else self.arxiv_url

    def links(self) -> list[tuple[str, str]]:
        """Return the (label, url) pairs a card shows, most useful first."""
        links: list[tuple[str, str]] = []
        if self.source == "huggingface":
            links.append(("Hugging Face", self.hf_url))
        links += [("arXiv", self.arxiv_url), ("PDF", self.pdf_url)]
        if self.github_repo:
            links.append(("Code", self.github_repo))
        if self.project_page:
            links.append(("Project page", self.project_page))
        return links

    def byline(self, names: int, chars: int | None = None) -> str:
        """Return the first *names* authors and how many more there are, dropping names to fit *chars*."""
        named = [name for name in self.authors if name.strip()]
        shown = named[:names]
        while True:
            rest = len(named) - len(shown)
            line = ", ".join(shown) + (f" and {rest} more" if rest and shown else "")
            if chars is None or len(line) <= chars or len(shown) <= 1:
                return line
            shown.pop()

    def linked_repos(self, shown: int = FULL_CARD_REPOS) -> list[LinkedRepos]:
        """Return the linked models, datasets and Spaces, up to *shown* of each, with their Hub URLs."""
        kinds = (
            ("Models", "", self.linked_models, self.linked_models_total),
            ("Datasets", "datasets/", self.linked_datasets, self.linked_datasets_total),
            ("Spaces", "spaces/", self.linked_spaces, self.linked_spaces_total),
        )
        groups = []
        for label, path, ids, total in kinds:
            links = tuple((repo, f"{HUB_URL}/{path}{repo}") for repo in ids[:shown])
            # The total may lag the list (or be missing): never claim fewer than were listed.
            more = max(total or 0, len(ids)) - len(links)
            if links or more:
                groups.append(LinkedRepos(label, links, more))
        return groups

    @property
    def summary(self) -> str:
        """The AI summary when there is one, else the abstract."""
        return self.ai_summary or self.abstract
