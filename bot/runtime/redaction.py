"""Keep tokens and secrets out of the log, whatever logs them and at whatever level.

At DEBUG a platform's library may log whole API answers, tokens among them, and the
parameters it sends, client secrets among those. Each platform names the patterns of its
tokens (`bot.ports.platforms.Platform.secret_patterns`); the secret settings are hidden as they are. A
`RedactingFilter` on every handler rewrites each record before it is written: its
message, its traceback and its stack. It sits on handlers, not loggers, because a record
logged by a child logger (``slack_sdk.web.async_base_client``) skips the filters of the
loggers it propagates through, but never those of the handlers that write it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Iterable
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, SecretStr

from bot.ports.platforms import platforms

REDACTED = "[redacted]"

# Hugging Face: hf_ and some thirty letters and digits; the prefix stays, as that of a platform's ``keep`` group.
_HF_PATTERN = r"(?P<keep>hf_)[0-9A-Za-z]{20,}"
# A feed's URL (`bot.commands.feeds`): its token is the only key to the feed; the path before it stays.
_FEED_PATTERN = r"(?P<keep>/feeds/[0-9]+/)[0-9A-Za-z_=-]{16,}"


def _token_patterns() -> list[str]:
    """Every token pattern, each ``keep`` group renamed ``keep<n>``: a pattern may name a group only once."""
    patterns = [_HF_PATTERN, _FEED_PATTERN, *(pattern for platform in platforms() for pattern in platform.secret_patterns)]
    return [pattern.replace("(?P<keep>", f"(?P<keep{n}>") for n, pattern in enumerate(patterns)]

_formatter = logging.Formatter()


class RedactingFilter(logging.Filter):
    """A handler filter that replaces tokens and the given *secrets* in every record with ``[redacted]``.

    It never drops a record. Tokens whose pattern has a ``keep`` group keep their prefix
    (``hf_[redacted]``) so that the log still says which kind of token was there.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        exact = sorted({form for secret in secrets if secret and secret.strip() for form in _forms(secret)},
                       key=len, reverse=True)  # the longest first, so that no secret is left half-hidden
        alternatives = [re.escape(value) for value in exact] + _token_patterns()
        self._pattern = re.compile("|".join(f"(?:{alternative})" for alternative in alternatives))

    @classmethod
    def for_settings(cls, settings: BaseModel) -> RedactingFilter:
        """Return a filter hiding the value of every secret setting (each `SecretStr` field) as well as tokens."""
        values = (getattr(settings, name) for name in type(settings).model_fields)
        return cls(value.get_secret_value() for value in values if isinstance(value, SecretStr))

    def redact(self, text: str) -> str:
        """Return *text* with every token and secret replaced."""
        return self._pattern.sub(_replacement, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(_message(record)), None
        if record.exc_info and not record.exc_text:
            # Formatter.format reuses exc_text when it is set: the traceback is written redacted.
            record.exc_text = _formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a call such as log.info("%d", "x"): keep what there is, redacted like the rest
        return f"{record.msg!s} (arguments that do not fit the message: {record.args!r})"


def _forms(secret: str) -> set[str]:
    """Return *secret* as it may appear in a log line: as is, URL-encoded, inside a JSON string."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


def _replacement(match: re.Match[str]) -> str:
    prefix = next((kept for name, kept in match.groupdict().items() if kept and name.startswith("keep")), None)
    if prefix is None:
        return REDACTED
    return f"{prefix}{'' if prefix.endswith(('_', '/')) else '-'}{REDACTED}"
