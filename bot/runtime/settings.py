"""Paperboy's settings, read from the environment and `.env` by pydantic-settings."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.ports.platforms import blank_as_unset, env, platforms, url_value
from bot.runtime.setting_errors import describe_errors


MIN_FEED_SECRET = 16
"""PAPERBOY_FEED_SECRET's least length: the feeds' URLs are only as hard to guess as it is."""


class CoreSettings(BaseSettings):
    """The settings of the core; each platform's own join them in `Settings`. Secrets are `SecretStr`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database: str = Field("paperboy.db", validation_alias=env("PAPERBOY_DATABASE"))
    """A file path (SQLite, one process) or a ``postgresql://`` URL (Postgres, any number of processes)."""
    hf_api_url: str = Field("https://huggingface.co", validation_alias=env("PAPERBOY_HF_API_URL"))
    arxiv_api_url: str = Field("https://export.arxiv.org", validation_alias=env("PAPERBOY_ARXIV_API_URL"))
    hf_token: SecretStr | None = Field(None, validation_alias=env("HF_TOKEN"))
    arxiv_interval: float = Field(3600.0, ge=1, validation_alias=env("PAPERBOY_ARXIV_INTERVAL"))
    """How often, in seconds, each arXiv category that an active topic names is read (new listings appear daily)."""
    poll_interval: float = Field(900.0, ge=1, validation_alias=env("PAPERBOY_POLL_INTERVAL"))
    poll_timeout: float = Field(300.0, gt=0, validation_alias=env("PAPERBOY_POLL_TIMEOUT"))
    """The watchdog: a poll cycle still running after this many seconds is stopped and reported."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=env("PAPERBOY_LOG_LEVEL")
    )
    claim_lease: float = Field(30.0, ge=1, validation_alias=env("PAPERBOY_CLAIM_LEASE"))
    """Postgres: seconds before a live process confirms the sends of one that died (longer than a send's
    HTTP deadline, so a process that only lost its database connection is not second-guessed)."""
    http_timeout: float = Field(10.0, gt=0, validation_alias=env("PAPERBOY_HTTP_TIMEOUT"))
    http_backoff: float = Field(0.5, ge=0, validation_alias=env("PAPERBOY_HTTP_BACKOFF"))
    """Seconds before Hugging Face is asked again after a failure, doubled at each retry (three retries)."""
    answer_timeout: float = Field(2.5, gt=0, validation_alias=env("PAPERBOY_ANSWER_TIMEOUT"))
    max_posts_per_hour: int = Field(10, ge=1, validation_alias=env("PAPERBOY_MAX_POSTS_PER_HOUR"))
    update_posts: bool = Field(False, validation_alias=env("PAPERBOY_UPDATE_POSTS"))
    log_format: Literal["text", "json"] = Field("text", validation_alias=env("PAPERBOY_LOG_FORMAT"))
    """``json``: one JSON object per log line (time, level, logger, message, channel and paper where known)."""
    health_port: int | None = Field(None, ge=1, le=65535, examples=[8080], validation_alias=env("PAPERBOY_HEALTH_PORT"))
    """Serve ``GET /healthz`` and ``GET /metrics`` on this port; unset: off."""
    log_file: str = Field("paperboy.log", validation_alias=env("PAPERBOY_LOG_FILE"))
    """Where the log goes while the console is in use ("-": standard error)."""
    feed_url: str | None = Field(None, examples=["https://paperboy.example.org"],
                                 validation_alias=env("PAPERBOY_FEED_URL"))
    """The public address of Paperboy's HTTP server: turns on `feed` (Atom feeds) and that server."""
    feed_secret: SecretStr | None = Field(None, validation_alias=env("PAPERBOY_FEED_SECRET"))
    """The key the feeds' unguessable URLs are derived from (HMAC); changing it changes every feed's URL."""

    @field_validator("hf_api_url", "arxiv_api_url")
    @classmethod
    def _must_be_url(cls, value: str) -> str:
        return url_value(value)

    @field_validator("feed_url")
    @classmethod
    def _feed_url(cls, value: str | None) -> str | None:
        return None if value is None else url_value(value).rstrip("/")

    @field_validator("feed_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_FEED_SECRET:
            raise ValueError(f"needs at least {MIN_FEED_SECRET} random characters, such as the output of "
                             "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return value

    @field_validator("hf_token", "health_port", "feed_url", "feed_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return blank_as_unset(value)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        # `info` and `INFO` alike: the choice written in any case; anything else is left for the error to quote.
        choices = get_args(cls.model_fields[info.field_name].annotation)
        if not isinstance(value, str):
            return value
        return next((choice for choice in choices if choice.lower() == value.strip().lower()), value)

    @field_validator("database", mode="before")
    @classmethod
    def _path_is_text(cls, value: object) -> object:
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        return "paperboy.db" if isinstance(value, str) and not value.strip() else value

    @field_validator("log_file", mode="before")
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        return "paperboy.log" if isinstance(value, str) and not value.strip() else value


# The core's fields first (pydantic lists the fields of the last base first), then each platform's.
class Settings(*(platform.settings for platform in reversed(platforms())), CoreSettings):  # type: ignore[misc]
    """Every setting Paperboy reads: the core's, then those of each installed platform."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )


class SettingsError(Exception):
    """Settings have bad values; ``str(error)`` is one line per bad setting, naming it (exit status 2)."""


class StartupError(RuntimeError):
    """The settings are valid but Paperboy cannot start with them here: a token refused, a port taken.

    ``str(error)`` is one line naming the setting and the fix (exit status 1).
    """


_ENV_NAMES = {
    name: next(a for a in field.validation_alias.choices if a.isupper())  # type: ignore[union-attr]
    for name, field in Settings.model_fields.items()
}


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise `SettingsError` naming each bad one, one line each, with what it needs."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = describe_errors(error, Settings.model_fields, _ENV_NAMES)
        raise SettingsError("\n".join(lines)) from None
    for problem in (check_feed_settings(settings), *(p.check_settings(settings) for p in platforms())):
        if problem is not None:
            raise SettingsError(problem)
    return settings


def check_feed_settings(settings: CoreSettings) -> str | None:
    """One line when the feeds are turned on without the secret their URLs are derived from; else None."""
    if settings.feed_url and settings.feed_secret is None:
        return ("PAPERBOY_FEED_URL is set but PAPERBOY_FEED_SECRET is not: set it to a long random text, such as "
                "the output of python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return None


def check_database(database: str, setting: str = "PAPERBOY_DATABASE") -> None:
    """Raise `SettingsError` unless SQLite can write the file *database* and its journal files beside it.

    A ``postgresql://`` URL is checked by connecting to it, at start-up. The error names *setting*,
    where the value came from (``--to`` for `paperboy db copy`).
    """
    database = os.fspath(database)
    prefix = f"bad setting {setting}" if setting.isupper() else f"{setting} {database!r}"
    if "://" in database:
        if not database.lower().startswith(("postgresql://", "postgres://")):
            raise SettingsError(f"{prefix}: only a file path (SQLite) or a postgresql:// URL "
                                f"works, not {database.split('://', 1)[0]}://")
        return
    path = Path(database)
    folder = path.parent
    if path.is_dir():
        problem = f"{path} is a folder; point {setting} at a file in it, such as {path / 'paperboy.db'}"
    elif not folder.exists():
        problem = (f"the folder {folder} does not exist; create it, "
                   f"or point {setting} at a file in an existing folder")
    elif not folder.is_dir():
        problem = f"{folder} is a file, not a folder; point {setting} at a file inside a folder"
    elif stuck := [f for f in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm"))
                   if f.exists() and not os.access(f, os.W_OK)]:
        # os.access asks the kernel: an immutable file or a read-only mount counts even for root.
        problem = f"{stuck[0]} is read-only; make it writable, or point {setting} at another file"
    elif (reason := _cannot_create_files(folder)) is not None:
        problem = (f"Paperboy cannot create files in {folder} ({reason}); make the folder writable, "
                   f"or point {setting} at a file in a writable folder")
    else:
        return
    raise SettingsError(f"{prefix}: {problem}")


def _cannot_create_files(folder: Path) -> str | None:
    """Return why no file can be created in *folder*, or None.

    Tried for real, as root ignores permission bits; SQLite's WAL mode needs to
    create its -wal and -shm files there even when the database exists.
    """
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return error.strerror or str(error)
    return None
