"""`paperboy doctor`'s Discord check: does Discord accept ``DISCORD_TOKEN``?"""

from __future__ import annotations

import httpx

from bot.runtime.doctor import Finding
from bot.runtime.settings import Settings

_USER_AGENT = "DiscordBot (paperboy, 0.1)"  # Discord asks bots for this form
_PORTAL = "https://discord.com/developers/applications"


async def check_discord(settings: Settings) -> list[Finding]:
    """Ask ``GET /users/@me`` who the token belongs to: one plain request, no gateway connection."""
    assert settings.discord_token is not None
    url = settings.discord_api_url.rstrip("/") + "/users/@me"
    headers = {"Authorization": f"Bot {settings.discord_token.get_secret_value()}", "User-Agent": _USER_AGENT}
    try:
        async with httpx.AsyncClient(timeout=settings.http_timeout) as http:
            response = await http.get(url, headers=headers)
    except httpx.HTTPError as error:
        return [Finding("Discord", False, f"no answer from {settings.discord_api_url} ({_reason(error)}); "
                                          "check PAPERBOY_DISCORD_API_URL and the network")]
    if response.status_code == 401:
        return [Finding("Discord", False, f"Discord refuses DISCORD_TOKEN (HTTP 401); reset the token on Bot at "
                                          f"{_PORTAL} and set DISCORD_TOKEN to it")]
    if response.status_code != 200:
        return [Finding("Discord", False, f"GET /users/@me answered HTTP {response.status_code}; try again later")]
    return [Finding("Discord", True, f"DISCORD_TOKEN accepted: bot {_bot_name(response)}")]


def _bot_name(response: httpx.Response) -> str:
    try:
        me = response.json()
        return f"{me['username']} (id {me['id']})"
    except (ValueError, KeyError, TypeError):
        return "(Discord did not say its name)"


def _reason(error: httpx.HTTPError) -> str:
    return str(error) or type(error).__name__
