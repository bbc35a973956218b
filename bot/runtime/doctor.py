"""`paperboy doctor`: check every configured piece, one line each with ✓ or ✗ and the fix.

It changes nothing: the database is opened shared and without migrating, and each platform
is asked only who its token belongs to. Each installed platform (`bot.ports.platforms`) brings its own check,
run when it is configured.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bot.runtime.app import open_database
from bot.ports.platforms import Platform, platforms
from bot.runtime.redaction import RedactingFilter
from bot.runtime.settings import Settings, SettingsError, StartupError, check_database, load_settings
from bot.sources import HuggingFaceClient
from bot.sources.errors import SourceError
from bot.ports.store import backend_name, describe_database
from bot.ports.store_errors import SchemaTooNewError, StorageUnavailable

_MARKS = {True: "✓", False: "✗", None: "–"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One checked piece: *ok* True (passes), False (fails: *text* says the fix) or None (not configured)."""

    name: str
    ok: bool | None
    text: str

    def line(self) -> str:
        return f"{_MARKS[self.ok]} {self.name}: {self.text}"


PlatformCheck = Callable[[Settings], Awaitable[list[Finding]]]
"""A check of some settings: the core's, or a platform's against its API (`Platform.doctor_check`)."""


async def run_doctor() -> int:
    """Print a finding per piece on standard output; return 0 when none fails, else 1."""
    findings, settings = _settings_finding()
    _print(findings, settings)
    if settings is None:
        return 1
    with _library_warnings_hidden(settings):
        for name, check in _checks(settings):
            found = await _guarded(name, check, settings)
            _print(found, settings)
            findings += found
    return 1 if any(finding.ok is False for finding in findings) else 0


def _settings_finding() -> tuple[list[Finding], Settings | None]:
    """Load the settings; when only their combination is wrong, go on with the values as they are."""
    try:
        return [Finding("settings", True, "loaded from the environment and .env")], load_settings()
    except SettingsError as error:
        findings = [Finding("settings", False, f"{line}; correct it in .env or the environment")
                    for line in str(error).splitlines()]
    try:
        return findings, Settings()  # type: ignore[call-arg]
    except Exception:  # values no check can use: each is named above
        last = findings.pop()
        return findings + [Finding("settings", False, f"{last.text} (the other checks need valid settings)")], None


def _checks(settings: Settings) -> list[tuple[str, PlatformCheck]]:
    """The checks in the order they print, each with the name a failure of the check itself gets."""
    checks: list[tuple[str, PlatformCheck]] = [("database", _database), ("Hugging Face", _hugging_face)]
    return checks + [(platform.title, _platform_check(platform, settings)) for platform in platforms()]


def _platform_check(platform: Platform, settings: Settings) -> PlatformCheck:
    """The platform's own check when it is configured (its libraries load only then)."""
    if platform.configured(settings):
        return platform.doctor_check
    unset = " and ".join(platform.switches) + (" are" if len(platform.switches) > 1 else " is")
    return _not_configured(platform.title, f"{unset} not set")


async def _guarded(name: str, check: PlatformCheck, settings: Settings) -> list[Finding]:
    """Run *check* within a bound; whatever goes wrong in it is one failing line, never a traceback."""
    limit = settings.http_timeout * 4 + 5  # every request inside has its own, shorter, timeout
    try:
        return await asyncio.wait_for(check(settings), timeout=limit)
    except asyncio.TimeoutError:
        return [Finding(name, False, f"no answer within {limit:.0f} s; check the network and try again")]
    except Exception as error:
        return [Finding(name, False, f"the check failed ({type(error).__name__}: {error}); "
                                     "run with PAPERBOY_LOG_LEVEL=DEBUG and report it")]


def _not_configured(name: str, why: str) -> PlatformCheck:
    async def check(settings: Settings) -> list[Finding]:
        return [Finding(name, None, f"not configured ({why})")]
    return check


async def _database(settings: Settings) -> list[Finding]:
    """Open the database as Paperboy would, but shared and unmigrated, and list the migrations it lacks."""
    database = os.fspath(settings.database)
    shown = describe_database(database)
    try:
        check_database(database)
    except SettingsError as error:
        return [Finding("database", False, str(error))]
    if backend_name(database) == "sqlite" and not os.path.exists(database):
        return [Finding("database", True, f"{shown} does not exist yet; Paperboy creates it at first start")]
    try:
        store = await open_database(settings, exclusive=False, apply_migrations=False)
    except StartupError as error:
        return [Finding("database", False, str(error))]
    try:
        pending = await store.pending_migrations()
        version = await store.schema_version()
    except (SchemaTooNewError, StorageUnavailable) as error:
        return [Finding("database", False, f"PAPERBOY_DATABASE={shown}: {error}")]
    finally:
        await store.close()
    if version == 0:  # never migrated (a fresh Postgres from compose): nothing to back up, nothing to lose
        return [Finding("database", True, f"{shown} is empty; Paperboy creates its tables at first start")]
    if pending:
        return [Finding("database", False, f"{shown} lacks {len(pending)} migration(s) ({', '.join(pending)}); "
                                           "back it up, then start Paperboy once: it applies them")]
    return [Finding("database", True, f"{shown} opens at schema version {version}, no migration pending")]


async def _hugging_face(settings: Settings) -> list[Finding]:
    """Ask for one trending paper, through the client the poller uses, without its patient retries."""
    token = settings.hf_token.get_secret_value() if settings.hf_token else None
    async with HuggingFaceClient(base_url=settings.hf_api_url, token=token, timeout=settings.http_timeout,
                                 max_retries=0) as hf:
        try:
            await hf.trending(limit=1)
        except SourceError as error:
            fix = "check HF_TOKEN" if "HTTP 401" in str(error) else "check PAPERBOY_HF_API_URL and the network"
            return [Finding("Hugging Face", False, f"{error}; {fix}")]
    return [Finding("Hugging Face", True, f"{settings.hf_api_url} answers")]


def _print(findings: list[Finding], settings: Settings | None) -> None:
    # Belt and braces: no finding should hold a secret, and none is printed even if one did.
    redact = RedactingFilter.for_settings(settings).redact if settings is not None else RedactingFilter().redact
    for finding in findings:
        print(redact(finding.line()), flush=True)


@contextmanager
def _library_warnings_hidden(settings: Settings) -> Iterator[None]:
    """While the checks run, only errors reach standard error (redacted): the findings say the rest better.

    Without a handler of its own, Python would print every library warning there.
    """
    root = logging.getLogger()
    if root.handlers:  # logging is set up already (a test run): leave it be
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.ERROR)
    handler.addFilter(RedactingFilter.for_settings(settings))
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
