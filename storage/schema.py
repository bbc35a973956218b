"""Schema migrations as numbered ``.sql`` files, shared by both backends: reading them, naming the pending ones."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files

from bot.ports.store_errors import SchemaTooNewError

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered ``.sql`` file from a backend's ``migrations`` folder."""

    version: int
    name: str
    sql: str


def read_migrations(package: str) -> tuple[Migration, ...]:
    """Return the migrations shipped in *package*'s ``migrations`` folder in order, checking they are numbered 1..n."""
    found = []
    for entry in files(package).joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{package} migrations are not numbered 1..n: {[m.name for m in found]}")
    return tuple(found)


def pending_names(known: Sequence[Migration], current: int) -> list[str]:
    """Return the names of the *known* migrations above version *current*; `SchemaTooNewError` past them all."""
    if current > len(known):
        raise SchemaTooNewError(
            f"the database is at schema version {current}, but this Paperboy only knows versions up to "
            f"{len(known)}; run a newer Paperboy or restore a backup"
        )
    return [m.name for m in known[current:]]
