"""The one `Paper` model every source parses into and every adapter renders."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict


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
    source: str = "huggingface"
    """Where this record came from: ``huggingface`` or ``arxiv``."""

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

    @property
    def summary(self) -> str:
        """The AI summary when there is one, else the abstract."""
        return self.ai_summary or self.abstract
