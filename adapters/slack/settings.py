"""Slack's settings, joined into Paperboy's `Settings` through the platform entry point."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from bot.ports.platforms import blank_as_unset, env, url_value


class SlackSettings(BaseSettings):
    """``SLACK_BOT_TOKEN`` (one workspace) or ``SLACK_CLIENT_ID`` ("Add to Slack") turns Slack on."""

    slack_bot_token: SecretStr | None = Field(None, validation_alias=env("SLACK_BOT_TOKEN"))
    slack_app_token: SecretStr | None = Field(None, validation_alias=env("SLACK_APP_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(None, validation_alias=env("SLACK_SIGNING_SECRET"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=env("PAPERBOY_SLACK_API_URL"))
    slack_port: int = Field(3000, ge=1, le=65535, validation_alias=env("PAPERBOY_SLACK_PORT"))
    slack_admins_only: bool = Field(False, validation_alias=env("PAPERBOY_SLACK_ADMINS_ONLY"))
    slack_client_id: str | None = Field(None, validation_alias=env("SLACK_CLIENT_ID"))
    slack_client_secret: SecretStr | None = Field(None, validation_alias=env("SLACK_CLIENT_SECRET"))

    # Validator names are unique across the platforms: in `Settings` one of the same name would hide another.
    @field_validator("slack_api_url")
    @classmethod
    def _slack_url(cls, value: str) -> str:
        return url_value(value)

    @field_validator("slack_bot_token", "slack_app_token", "slack_signing_secret", "slack_client_secret",
                     "slack_client_id", mode="before")
    @classmethod
    def _slack_blank_is_unset(cls, value: object) -> object:
        return blank_as_unset(value)


def check_slack_settings(settings: SlackSettings) -> str | None:
    """Refuse Slack settings that cannot work together: one line naming the setting, or None.

    Checked at load rather than in the model, so tests can still build partial settings.
    """
    if settings.slack_client_id and not settings.slack_client_secret:
        return ("bad setting SLACK_CLIENT_SECRET: SLACK_CLIENT_ID is set without it; copy it "
                "from Basic Information at https://api.slack.com/apps, or unset SLACK_CLIENT_ID")
    many_workspaces = bool(settings.slack_client_id)
    socket_mode = settings.slack_app_token is not None and not many_workspaces
    uses_slack = settings.slack_bot_token is not None or many_workspaces
    if uses_slack and not socket_mode and settings.slack_signing_secret is None:
        # "Add to Slack" installs over HTTP, so Socket Mode is no way out there.
        other_way = "" if many_workspaces else ", or set SLACK_APP_TOKEN (xapp-…) to use Socket Mode instead"
        return ("bad setting SLACK_SIGNING_SECRET: Slack's HTTP mode needs it to check requests; "
                f"copy it from Basic Information at https://api.slack.com/apps{other_way}")
    return None
