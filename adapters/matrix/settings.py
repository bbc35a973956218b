"""Matrix's settings, joined into Paperboy's `Settings` through the platform entry point."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from bot.ports.platforms import blank_as_unset, env, url_value


class MatrixSettings(BaseSettings):
    """``MATRIX_HOMESERVER`` turns Matrix on; the bot signs in with an access token or a password."""

    matrix_homeserver: str | None = Field(None, examples=["https://matrix.example.org"],
                                          validation_alias=env("MATRIX_HOMESERVER"))
    matrix_user_id: str | None = Field(None, examples=["@paperboy:example.org"],
                                       validation_alias=env("MATRIX_USER_ID"))
    matrix_access_token: SecretStr | None = Field(None, validation_alias=env("MATRIX_ACCESS_TOKEN"))
    matrix_password: SecretStr | None = Field(None, validation_alias=env("MATRIX_PASSWORD"))
    matrix_device_id: str = Field("PAPERBOY", validation_alias=env("MATRIX_DEVICE_ID"))
    """One device for every start: the homeserver keys transaction ids (exactly once) by device."""
    matrix_homeservers: str | None = Field(None, examples=["example.org,matrix.org"],
                                           validation_alias=env("PAPERBOY_MATRIX_HOMESERVERS"))
    """Join only rooms whose inviter is on one of these servers (comma separated); unset: any server."""

    # Validator names are unique across the platforms: in `Settings` one of the same name would hide another.
    @field_validator("matrix_homeserver")
    @classmethod
    def _matrix_url(cls, value: str | None) -> str | None:
        return url_value(value) if value is not None else None

    @field_validator("matrix_homeserver", "matrix_user_id", "matrix_access_token", "matrix_password",
                     "matrix_homeservers", mode="before")
    @classmethod
    def _matrix_blank_is_unset(cls, value: object) -> object:
        return blank_as_unset(value)

    @field_validator("matrix_device_id", mode="before")
    @classmethod
    def _matrix_device(cls, value: object) -> object:
        return "PAPERBOY" if blank_as_unset(value) is None else value


def allowed_servers(settings: MatrixSettings) -> frozenset[str]:
    """The homeservers whose people may invite Paperboy (empty: any)."""
    return frozenset(s.strip().lower() for s in (settings.matrix_homeservers or "").split(",") if s.strip())


def check_matrix_settings(settings: MatrixSettings) -> str | None:
    """Refuse Matrix settings that cannot work together: one line naming the setting, or None."""
    if not settings.matrix_homeserver:
        return None
    user = settings.matrix_user_id or ""
    if not user.startswith("@") or ":" not in user:
        return ("bad setting MATRIX_USER_ID: set it to Paperboy's full Matrix id, such as @paperboy:example.org"
                if user else "bad setting MATRIX_USER_ID: MATRIX_HOMESERVER is set without it; set it to "
                "Paperboy's full Matrix id, such as @paperboy:example.org")
    if settings.matrix_access_token is None and settings.matrix_password is None:
        return ("bad setting MATRIX_ACCESS_TOKEN: Matrix needs it or MATRIX_PASSWORD to sign in as "
                f"{user}; copy the token from the account's settings (Help & About in Element)")
    return None
