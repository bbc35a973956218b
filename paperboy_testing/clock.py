"""A clock a test moves by hand: pass it as ``clock=`` to `bot.runtime.app.open_core` (or any collaborator)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock on by ``timedelta(**delta)``, e.g. ``advance(hours=1)``."""
        self.now += timedelta(**delta)
