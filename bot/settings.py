"""Paperboy's settings, read from the environment and `.env` by pydantic-settings."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal, get_args

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.setting_errors import describe_errors


def _env(name: str) -> AliasChoices:
    # Accept the environment name and the field name, so tests can pass keywords.
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    """Every setting Paperboy reads. Secrets are `SecretStr` so they never print."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database: str = Field("paperboy.db", validation_alias=_env("PAPERBOY_DATABASE"))
    """A file path (SQLite, one process) or a ``postgresql://`` URL (Postgres, any number of processes)."""
    hf_api_url: str = Field("https://huggingface.co", validation_alias=_env("PAPERBOY_HF_API_URL"))
    arxiv_api_url: str = Field("https://export.arxiv.org", validation_alias=_env("PAPERBOY_ARXIV_API_URL"))
    hf_token: SecretStr | None = Field(None, validation_alias=_env("HF_TOKEN"))
    arxiv_interval: float = Field(3600.0, ge=1, validation_alias=_env("PAPERBOY_ARXIV_INTERVAL"))
    """How often, in seconds, each arXiv category that an active topic names is read (new listings appear daily)."""
    poll_interval: float = Field(900.0, ge=1, validation_alias=_env("PAPERBOY_POLL_INTERVAL"))
    poll_timeout: float = Field(300.0, gt=0, validation_alias=_env("PAPERBOY_POLL_TIMEOUT"))
    """The watchdog: a poll cycle still running after this many seconds is stopped and reported."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("PAPERBOY_LOG_LEVEL")
    )
    claim_lease: float = Field(30.0, ge=1, validation_alias=_env("PAPERBOY_CLAIM_LEASE"))
    """Postgres: seconds before a live process confirms the sends of one that died (longer than a send's
    HTTP deadline, so a process that only lost its database connection is not second-guessed)."""
    http_timeout: float = Field(10.0, gt=0, validation_alias=_env("PAPERBOY_HTTP_TIMEOUT"))
    answer_timeout: float = Field(2.5, gt=0, validation_alias=_env("PAPERBOY_ANSWER_TIMEOUT"))
    max_posts_per_hour: int = Field(10, ge=1, validation_alias=_env("PAPERBOY_MAX_POSTS_PER_HOUR"))
    update_posts: bool = Field(False, validation_alias=_env("PAPERBOY_UPDATE_POSTS"))
    log_format: Literal["text", "json"] = Field("text", validation_alias=_env("PAPERBOY_LOG_FORMAT"))
    """``json``: one JSON object per log line (time, level, logger, message, channel and paper where known)."""
    health_port: int | None = Field(None, ge=1, le=65535, examples=[8080], validation_alias=_env("PAPERBOY_HEALTH_PORT"))
    """Serve ``GET /healthz`` and ``GET /metrics`` on this port; unset: off."""
    log_file: str = Field("paperboy.log", validation_alias=_env("PAPERBOY_LOG_FILE"))
    """Where the log goes while the console is in use ("-": standard error)."""

    discord_token: SecretStr | None = Field(None, validation_alias=_env("DISCORD_TOKEN"))
    discord_api_url: str = Field(
        "https://discord.com/api/v10", validation_alias=_env("PAPERBOY_DISCORD_API_URL")
    )
    discord_gateway_url: str = Field(
        "wss://gateway.discord.gg", validation_alias=_env("PAPERBOY_DISCORD_GATEWAY_URL")
    )
    discord_guild: int | None = Field(None, examples=[123456789012345678], validation_alias=_env("PAPERBOY_DISCORD_GUILD"))
    discord_shards: tuple[tuple[int, ...], int] | None = Field(None, validation_alias=_env("PAPERBOY_DISCORD_SHARDS"))
    """The gateway shards this process connects, written ``0-1/4`` (or ``2,3/4``, ``0/1``): ids, then the count."""

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("PAPERBOY_SLACK_API_URL"))
    slack_port: int = Field(3000, ge=1, le=65535, validation_alias=_env("PAPERBOY_SLACK_PORT"))
    slack_admins_only: bool = Field(False, validation_alias=_env("PAPERBOY_SLACK_ADMINS_ONLY"))
    slack_client_id: str | None = Field(None, validation_alias=_env("SLACK_CLIENT_ID"))
    slack_client_secret: SecretStr | None = Field(None, validation_alias=_env("SLACK_CLIENT_SECRET"))

    @field_validator("hf_api_url", "arxiv_api_url", "discord_api_url", "discord_gateway_url", "slack_api_url")
    @classmethod
    def _must_be_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("needs a URL")  # the field's default follows as the example
        return value

    @field_validator("hf_token", "discord_token", "slack_bot_token", "slack_app_token",
                     "slack_signing_secret", "slack_client_secret", "discord_guild", "slack_client_id", "health_port",
                     mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `.env.example` copied as is leaves `DISCORD_TOKEN=`: that means "not configured".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        # `info` and `INFO` alike: the choice written in any case; anything else is left for the error to quote.
        choices = get_args(cls.model_fields[info.field_name].annotation)
        if not isinstance(value, str):
            return value
        return next((choice for choice in choices if choice.lower() == value.strip().lower()), value)

    @field_validator("discord_shards", mode="before")
    @classmethod
    def _shard_spec(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        return parse_shards(value)

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
    _check_slack(settings)
    return settings


def _check_slack(settings: Settings) -> None:
    """Refuse Slack settings that cannot work together.

    Checked here rather than in the model, so tests can still build partial settings.
    """
    if settings.slack_client_id and not settings.slack_client_secret:
        raise SettingsError("bad setting SLACK_CLIENT_SECRET: SLACK_CLIENT_ID is set without it; copy it "
                            "from Basic Information at https://api.slack.com/apps, or unset SLACK_CLIENT_ID")
    many_workspaces = bool(settings.slack_client_id)
    socket_mode = settings.slack_app_token is not None and not many_workspaces
    uses_slack = settings.slack_bot_token is not None or many_workspaces
    if uses_slack and not socket_mode and settings.slack_signing_secret is None:
        # "Add to Slack" installs over HTTP, so Socket Mode is no way out there.
        other_way = "" if many_workspaces else ", or set SLACK_APP_TOKEN (xapp-…) to use Socket Mode instead"
        raise SettingsError("bad setting SLACK_SIGNING_SECRET: Slack's HTTP mode needs it to check requests; "
                            f"copy it from Basic Information at https://api.slack.com/apps{other_way}")


def parse_shards(text: str) -> tuple[tuple[int, ...], int]:
    """Parse ``0-1/4`` (a range), ``0,2/4`` (a list) or ``3/4`` into (shard ids, shard count)."""
    ids_text, slash, count_text = text.strip().partition("/")
    try:
        count = int(count_text)
        ids: list[int] = []
        for part in ids_text.split(","):
            low, dash, high = part.strip().partition("-")
            ids.extend(range(int(low), int(high) + 1) if dash else [int(low)])
    except ValueError:
        raise ValueError(f"write the shards as ids/count, such as 0-1/4 or 0,2/4, not {text!r}") from None
    if not slash or count < 1 or not ids or any(not 0 <= i < count for i in ids) or len(set(ids)) != len(ids):
        raise ValueError(f"{text!r} needs distinct shard ids from 0 to count-1 and a count of at least 1, "
                         "such as 0-1/4")
    return tuple(sorted(ids)), count


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
