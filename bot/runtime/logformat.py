"""``PAPERBOY_LOG_FORMAT=json``: one JSON object per log line, for log collectors.

The handlers' `RedactingFilter` runs before any formatter, so the message and the
traceback written here are already free of tokens and secrets.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

CONTEXT_FIELDS = ("channel", "paper")
"""Fields a log call may add with ``extra=`` (the worker's send lines do), written when present."""


class JsonFormatter(logging.Formatter):
    """Write a record as ``{"time", "level", "logger", "message"}``, plus channel, paper, error and stack when there."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["error"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)
