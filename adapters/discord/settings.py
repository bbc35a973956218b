"""Discord's settings, joined into Paperboy's `Settings` through the platform entry point."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from bot.ports.platforms import blank_as_unset, env, url_value


class DiscordSettings(BaseSettings):
    """``DISCORD_TOKEN`` turns Discord on; the URLs are for tests and proxies."""

    discord_token: SecretStr | None = Field(None, validation_alias=env("DISCORD_TOKEN"))
    discord_api_url: str = Field("https://discord.com/api/v10", validation_alias=env("PAPERBOY_DISCORD_API_URL"))
    discord_gateway_url: str = Field("wss://gateway.discord.gg", validation_alias=env("PAPERBOY_DISCORD_GATEWAY_URL"))
    discord_guild: int | None = Field(None, examples=[123456789012345678], validation_alias=env("PAPERBOY_DISCORD_GUILD"))
    discord_shards: tuple[tuple[int, ...], int] | None = Field(None, validation_alias=env("PAPERBOY_DISCORD_SHARDS"))
    """The gateway shards this process connects, written ``0-1/4`` (or ``2,3/4``, ``0/1``): ids, then the count."""
    discord_guild_ready_timeout: float = Field(2.0, ge=0, validation_alias=env("PAPERBOY_DISCORD_GUILD_READY_TIMEOUT"))
    """Seconds discord.py waits after the last guild arrives before it calls itself ready (its own default).

    Discord never says how many guilds are coming, so every start sits this out; a fake gateway
    sends them all at once, and its tests set it small."""

    # Validator names are unique across the platforms: in `Settings` one of the same name would hide another.
    @field_validator("discord_api_url", "discord_gateway_url")
    @classmethod
    def _discord_url(cls, value: str) -> str:
        return url_value(value)

    @field_validator("discord_token", "discord_guild", mode="before")
    @classmethod
    def _discord_blank_is_unset(cls, value: object) -> object:
        return blank_as_unset(value)

    @field_validator("discord_shards", mode="before")
    @classmethod
    def _discord_shard_spec(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        return parse_shards(value)


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
