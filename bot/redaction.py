"""Keep tokens and secrets out of the log, whatever logs them and at whatever level.

At DEBUG slack_sdk logs whole Web API answers, ``oauth.v2.access`` with the workspace's
token among them, and the parameters it sends, the client secret among those. A
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

REDACTED = "[redacted]"

_TOKEN_PATTERNS = (
    # Slack: xoxb- (bot), xoxp- (user), xoxa- / xoxe- / xoxr- / xoxs- …, rotating xoxe.xoxp-, app-level xapp-.
    r"(?P<slack>xox(?:e\.xox)?[a-z]|xapp)-[0-9A-Za-z-]+",
    # Hugging Face: hf_ and some thirty letters and digits.
    r"(?P<hf>hf_)[0-9A-Za-z]{20,}",
    # Discord bot tokens: base64url(user id) . base64url(timestamp) . HMAC; a JWT looks alike and goes too.
    r"(?<![\w-])[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,8}\.[A-Za-z0-9_-]{20,}(?![\w-])",
)

_formatter = logging.Formatter()


class RedactingFilter(logging.Filter):
    """A handler filter that replaces tokens and the given *secrets* in every record with ``[redacted]``.

    It never drops a record. Slack and Hugging Face tokens keep their prefix
    (``xoxb-[redacted]``) so that the log still says which kind of token was there.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        exact = sorted({form for secret in secrets if secret and secret.strip() for form in _forms(secret)},
                       key=len, reverse=True)  # the longest first, so that no secret is left half-hidden
        alternatives = [re.escape(value) for value in exact] + list(_TOKEN_PATTERNS)
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
    prefix = match.group("slack") or match.group("hf")
    if prefix is None:
        return REDACTED
    return f"{prefix}{'' if prefix.endswith('_') else '-'}{REDACTED}"
