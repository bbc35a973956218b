"""Where log records go: PAPERBOY_LOG_FILE while the console is the conversation, else standard error.

The level is enforced by the handlers, not only by the root logger: a library that sets its own
logger's level (bm25s sets DEBUG when imported) still writes nothing below PAPERBOY_LOG_LEVEL.
"""

from __future__ import annotations

import logging
import os
import sys

from bot.runtime.logformat import JsonFormatter
from bot.ports.platforms import platforms
from bot.runtime.redaction import RedactingFilter
from bot.runtime.settings import Settings, SettingsError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
IDLE_WARNINGS = tuple(warning for platform in platforms() for warning in platform.idle_warnings)
"""Library warnings about features Paperboy does not use: they would only alarm people."""
NOISY = ("httpx", "httpcore", "aiohttp.access", *(logger for platform in platforms() for logger in platform.loggers))
"""Libraries whose INFO records are request lines: noise, since Paperboy reports failures itself."""


def configure_logging(settings: Settings, *, console: bool) -> None:
    """Log to standard error; while the console is the conversation, to PAPERBOY_LOG_FILE instead.

    Log lines would land in the middle of the answers, so there they reach the terminal (or
    a script's standard error) only when PAPERBOY_LOG_FILE is "-", whatever the level. Every
    handler hides tokens and secrets (a handler filter: records from child loggers skip the
    loggers' own filters).
    """
    handler = log_file(settings.log_file) if console and settings.log_file != "-" else logging.StreamHandler(sys.stderr)
    handler.setLevel(settings.log_level)  # whatever level a library gives its own logger
    handler.addFilter(RedactingFilter.for_settings(settings))
    handler.addFilter(_not_idle_warning)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())  # basicConfig leaves a handler's own formatter alone
    logging.basicConfig(level=settings.log_level, format=LOG_FORMAT, handlers=[handler])
    logging.captureWarnings(True)  # library warnings too go to the log, not the terminal
    # At DEBUG the request lines show (NOTSET: the root's level), whatever an earlier configuration said.
    quiet = logging.NOTSET if settings.log_level == "DEBUG" else logging.WARNING
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(quiet)


def log_place(settings: Settings) -> str:
    """Where the console's log goes, for its greeting."""
    return "standard error" if settings.log_file == "-" else os.path.abspath(settings.log_file)


def log_file(path: str) -> logging.Handler:
    try:
        return logging.FileHandler(path, encoding="utf-8")
    except OSError as error:
        raise SettingsError(f"bad setting PAPERBOY_LOG_FILE: cannot write {path} ({error.strerror or error}); "
                            "name a file in a writable folder, or set it to - to log to standard error") from None


def _not_idle_warning(record: logging.LogRecord) -> bool:
    return not any(text in record.getMessage() for text in IDLE_WARNINGS)
