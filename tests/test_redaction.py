"""Tokens and secrets never reach the log: the filter on its own, then the real OAuth flow at DEBUG."""

from __future__ import annotations

import io
import logging
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from bot.runtime.app import open_core
from bot.runtime.logsetup import configure_logging as _configure_logging
from bot.runtime.redaction import REDACTED, RedactingFilter
from bot.runtime.settings import Settings
from paperboy_testing.hf_server import FakeHuggingFace
from paperboy_testing.seed import seed_items
from tests.fakes.slack_server import FakeSlack, mention_event_body
from tests.test_slack_adapter import install, make_settings, post_signed

DISCORD_TOKEN = "MTAxNjg5NjM0NTY3ODkwMTIzNA.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
TOKENS = [
    # (token, what is left of it)
    ("xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-[redacted]"),
    ("xoxp-1234567890-1234567890-1234567890-0123456789abcdef0123456789abcdef", "xoxp-[redacted]"),
    ("xoxa-2-1234567890-abcdef", "xoxa-[redacted]"),
    ("xoxe-1-My0xLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MA", "xoxe-[redacted]"),
    ("xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MA", "xoxe.xoxp-[redacted]"),
    ("xoxe.xoxb-1-Mi0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MA", "xoxe.xoxb-[redacted]"),
    ("xapp-1-A0123456789-1234567890123-0123456789abcdef", "xapp-[redacted]"),
    ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", "hf_[redacted]"),
    (DISCORD_TOKEN, "[redacted]"),
]


def redacted(message: str, *args: object, secrets: tuple[str, ...] = (), exc_info: object = None,
             sinfo: str | None = None) -> logging.LogRecord:
    record = logging.LogRecord("paperboy.test", logging.DEBUG, __file__, 1, message, args or None,
                               exc_info, sinfo=sinfo)  # type: ignore[arg-type]
    assert RedactingFilter(secrets).filter(record) is True  # it hides, never drops
    return record


def written(record: logging.LogRecord) -> str:
    return logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)


@pytest.mark.parametrize("token, left", TOKENS, ids=[t[1] if t[1] != REDACTED else "discord" for t in TOKENS])
def test_each_token_form_is_redacted_from_the_formatted_message(token: str, left: str) -> None:
    record = redacted("Received the following response - body: %s", {"ok": True, "access_token": token})
    text = written(record)
    assert token not in text
    assert f"'access_token': '{left}'" in text


def test_exact_secrets_are_redacted_as_they_are_and_url_encoded() -> None:
    secret = "s3cr3t value&more"
    text = written(redacted("client_secret=%s, body=%s, json=%s", secret, "client_secret=s3cr3t+value%26more",
                            '{"s": "s3cr3t value&more"}', secrets=(secret, "signing-secret-for-tests")))
    assert "s3cr3t" not in text
    assert text.count(REDACTED) == 3
    assert "signing-secret-for-tests" not in written(redacted("x %s", "signing-secret-for-tests",
                                                              secrets=("signing-secret-for-tests",)))


def test_tracebacks_and_stacks_are_redacted() -> None:
    token = TOKENS[0][0]
    try:
        raise RuntimeError(f"Slack said no to {token}")
    except RuntimeError:
        record = redacted("failed", exc_info=sys.exc_info(), sinfo=f"Stack (most recent call last):\n  {token}")
    assert token not in record.exc_text and "RuntimeError: Slack said no to xoxb-[redacted]" in record.exc_text
    assert token not in record.stack_info
    text = written(record)  # Formatter.format reuses the redacted exc_text
    assert token not in text and "Traceback" in text and "xoxb-[redacted]" in text


def test_what_is_no_token_is_left_alone() -> None:
    ordinary = ("copy the Bot User OAuth Token (xoxb-…) again; PAPERBOY_HF_API_URL=hf_api_url "
                "https://huggingface.co/papers/2403.12345 slack_sdk.web.async_base_client v0:1700000000.000100")
    assert written(redacted("%s", ordinary)).endswith(ordinary)


def test_a_message_whose_arguments_do_not_fit_is_still_written_redacted() -> None:
    token = TOKENS[0][0]
    text = written(redacted("%d tokens", token))
    assert token not in text and "xoxb-[redacted]" in text


def test_records_of_child_loggers_are_redacted_by_the_handler() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(["top-secret-value"]))
    parent = logging.getLogger("redaction_test")
    parent.addHandler(handler)
    parent.setLevel(logging.DEBUG)
    try:
        logging.getLogger("redaction_test.child.grandchild").debug("token %s and %s", TOKENS[0][0],
                                                                  "top-secret-value")
    finally:
        parent.removeHandler(handler)
    assert stream.getvalue() == f"token xoxb-{REDACTED} and {REDACTED}\n"


def test_secret_settings_are_hidden_whatever_their_form(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database=tmp_path / "x.db", slack_signing_secret="plain-signing-secret",  # type: ignore[call-arg]
                        slack_client_secret="plain-client-secret", hf_token="short-hf")
    text = RedactingFilter.for_settings(settings).redact("plain-signing-secret plain-client-secret short-hf")
    assert text == " ".join([REDACTED] * 3)


# -- end to end: the real OAuth flow, slack_sdk's real DEBUG log, the handlers the CLI sets up -----


@contextmanager
def cli_logging(settings: Settings) -> Iterator[None]:
    """Set up the root logger with `_configure_logging`, as at start-up; put pytest's logging back after.

    Used inside the test: pytest adds its own handlers to the root logger for each phase.
    """
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []  # basicConfig only configures a root logger that has no handlers
    try:
        _configure_logging(settings, console=False)
        yield
    finally:
        for handler in root.handlers:
            handler.flush()
        root.handlers, level = saved
        root.setLevel(level)
        logging.captureWarnings(False)


async def install_and_mention(settings: Settings, slack: FakeSlack, team_token: str) -> None:
    """Install Paperboy in team TA through the real OAuth flow, get a mention answered, log a failure."""
    async with open_core(settings) as core:
        bot = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0, store=core.store)
        await bot.start()
        try:
            async with aiohttp.ClientSession() as browser:
                assert await install(browser, f"http://127.0.0.1:{bot.port}", "code-a") == 200
            body = mention_event_body("help", team_id="TA")
            assert (await post_signed(bot, body, content_type="application/json"))[0] == 200
            await slack.wait_for_call("chat.postEphemeral")  # sent with the token just installed
            try:
                raise RuntimeError(f"refused {team_token}")
            except RuntimeError:
                logging.getLogger("slack_bolt.test").exception("a failure naming the token")
        finally:
            await bot.stop()


async def test_the_oauth_install_at_debug_logs_no_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    team_token = "xoxb-1111111111-2222222222-InstalledWorkspaceToken"
    async with FakeSlack() as slack, FakeHuggingFace(seed_items(today=datetime.now(timezone.utc).date())) as hf:
        slack.oauth_codes = {"code-a": ("TA", team_token)}
        settings = make_settings(tmp_path, slack, hf, slack_bot_token=None, slack_client_id="111.222",
                                 slack_client_secret="the-client-secret", log_level="DEBUG", log_file="-")
        with cli_logging(settings):
            await install_and_mention(settings, slack, team_token)
    assert [call.token for call in slack.calls_to("chat.postEphemeral")] == [team_token]

    log = capsys.readouterr().err
    assert "oauth.v2.access" in log and "Received the following response" in log  # slack_sdk did log it
    assert "a failure naming the token" in log and "Traceback" in log
    for secret in (team_token, "InstalledWorkspaceToken", "the-client-secret", "signing-secret-for-tests"):
        assert secret not in log
    assert f"'access_token': 'xoxb-{REDACTED}'" in log
    assert f"RuntimeError: refused xoxb-{REDACTED}" in log


def test_a_platform_names_the_patterns_of_its_tokens(monkeypatch):
    # A platform that lives in no file of Paperboy: its tokens are hidden too, its kept prefix shown.
    from bot.runtime import redaction
    from bot.ports.platforms import platforms

    class Pigeon:
        secret_patterns = (r"(?P<keep>pgn)-[0-9a-f]{8,}", r"loft:[A-Z]{6,}")

    monkeypatch.setattr(redaction, "platforms", lambda: (*platforms(), Pigeon()))
    redact = redaction.RedactingFilter().redact
    assert redact("sent pgn-0123abcd4567 via loft:ABCDEFG, bot xoxb-1-2-abc") == (
        "sent pgn-[redacted] via [redacted], bot xoxb-[redacted]")
