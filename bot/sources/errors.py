"""Errors raised by paper sources. Each message is one clear sentence for a user."""

from __future__ import annotations


class SourceError(Exception):
    """A paper source failed; ``str(error)`` is fit to show a user.

    *cause* names what failed (by default the message itself): errors with one cause are one
    problem, such as a host that is down for every request of a poll, and are reported once.
    """

    def __init__(self, message: str = "", *, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause or message


class SourceUnavailable(SourceError):
    """The source could not be reached or kept failing (network, timeouts, 5xx, 429)."""


class MalformedResponse(SourceError):
    """The source answered with something that is not the shape we expect."""


class PaperNotFound(SourceError):
    """The source has no paper with that id."""
