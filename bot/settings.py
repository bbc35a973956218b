"""Paperboy's settings, read from the environment and `.env` by pydantic-settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    # Accept the environment name and the field name, so tests can pass keywords.
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    """Every setting Paperboy reads. Secrets are `SecretStr` so they never print."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database: Path = Field(Path("paperboy.db"), validation_alias=_env("PAPERBOY_DATABASE"))
    hf_api_url: str = Field("https://huggingface.co", validation_alias=_env("PAPERBOY_HF_API_URL"))
    arxiv_api_url: str = Field("https://export.arxiv.org", validation_alias=_env("PAPERBOY_ARXIV_API_URL"))
    hf_token: SecretStr | None = Field(None, validation_alias=_env("HF_TOKEN"))
    poll_interval: float = Field(900.0, ge=1, validation_alias=_env("PAPERBOY_POLL_INTERVAL"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("PAPERBOY_LOG_LEVEL")
    )
    http_timeout: float = Field(10.0, gt=0, validation_alias=_env("PAPERBOY_HTTP_TIMEOUT"))
    answer_timeout: float = Field(2.5, gt=0, validation_alias=_env("PAPERBOY_ANSWER_TIMEOUT"))
    max_posts_per_hour: int = Field(10, ge=1, validation_alias=_env("PAPERBOY_MAX_POSTS_PER_HOUR"))
    update_posts: bool = Field(False, validation_alias=_env("PAPERBOY_UPDATE_POSTS"))

    discord_token: SecretStr | None = Field(None, validation_alias=_env("DISCORD_TOKEN"))
    discord_api_url: str = Field(
        "https://discord.com/api/v10", validation_alias=_env("PAPERBOY_DISCORD_API_URL")
    )
    discord_gateway_url: str = Field(
        "wss://gateway.discord.gg", validation_alias=_env("PAPERBOY_DISCORD_GATEWAY_URL")
    )
    discord_guild: int | None = Field(None, validation_alias=_env("PAPERBOY_DISCORD_GUILD"))

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
            raise ValueError("must be a URL such as https://example.org")
        return value

    @field_validator("hf_token", "discord_token", "slack_bot_token", "slack_app_token",
                     "slack_signing_secret", "slack_client_secret", "discord_guild", "slack_client_id",
                     mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `.env.example` copied as is leaves `DISCORD_TOKEN=`: that means "not configured".
        return None if isinstance(value, str) and not value.strip() else value


class SettingsError(Exception):
    """A setting has a bad value; ``str(error)`` is one line naming it."""


_ENV_NAMES = {
    name: next(a for a in field.validation_alias.choices if a.isupper())  # type: ignore[union-attr]
    for name, field in Settings.model_fields.items()
}


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise `SettingsError` naming the first bad one."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else "settings"
        env_name = _ENV_NAMES.get(where, where.upper())
        raise SettingsError(f"bad setting {env_name}: {first['msg']}") from None
