"""`paperboy doctor`'s Slack checks: the bot token (``auth.test``), the signing secret, the scopes."""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.oauth import bot_scopes, is_multi_workspace
from bot.runtime.doctor import Finding
from bot.runtime.settings import Settings

_APPS = "https://api.slack.com/apps"


async def check_slack(settings: Settings) -> list[Finding]:
    """The token line, the signing secret line, then the scopes line (when the token works)."""
    secret = _signing_secret(settings)
    if settings.slack_bot_token is None:  # "Add to Slack": each workspace brings its own token
        return [Finding("Slack token", None, "many workspaces (SLACK_CLIENT_ID): each install brings its own"), secret]
    answer = await _auth_test(settings)
    if isinstance(answer, Finding):
        return [answer, secret]
    team = answer.get("team") or answer.get("team_id") or "?"
    token = Finding("Slack token", True, f"SLACK_BOT_TOKEN accepted by auth.test: {answer.get('user')} in {team}")
    return [token, secret, _scopes(answer)]


async def _auth_test(settings: Settings) -> AsyncSlackResponse | Finding:
    assert settings.slack_bot_token is not None
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url,
                            timeout=max(1, round(settings.http_timeout)))
    try:
        return await client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        if code in ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"):
            return Finding("Slack token", False, f"Slack refuses SLACK_BOT_TOKEN ({code}); copy the Bot User "
                                                 f"OAuth Token (xoxb-…) from OAuth & Permissions at {_APPS}")
        return Finding("Slack token", False, f"auth.test failed ({code or f'HTTP {error.response.status_code}'}); "
                                             "try again later")
    except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
        reason = str(error) or type(error).__name__
        return Finding("Slack token", False, f"no answer from Slack at {settings.slack_api_url} ({reason}); "
                                             "check PAPERBOY_SLACK_API_URL and the network")


def _signing_secret(settings: Settings) -> Finding:
    """HTTP mode (and "Add to Slack") must check each request's signature; Socket Mode needs no secret."""
    if settings.slack_app_token is not None and not is_multi_workspace(settings):
        return Finding("Slack signing secret", True, "not needed: Socket Mode (SLACK_APP_TOKEN is set)")
    if settings.slack_signing_secret is not None:
        return Finding("Slack signing secret", True, f"set (HTTP mode, port {settings.slack_port})")
    return Finding("Slack signing secret", False, "SLACK_SIGNING_SECRET is not set and HTTP mode needs it; copy it "
                                                  f"from Basic Information at {_APPS}, or set SLACK_APP_TOKEN "
                                                  "(xapp-…) to use Socket Mode")


def _scopes(answer: AsyncSlackResponse) -> Finding:
    """Compare the token's scopes (auth.test's ``x-oauth-scopes`` header) with the manifest's bot scopes."""
    header = answer.headers.get("x-oauth-scopes")
    if header is None:
        return Finding("Slack scopes", None, "Slack did not list the token's scopes; compare them with "
                                             "`paperboy slack manifest` under OAuth & Permissions")
    granted = {scope.strip() for scope in header.split(",") if scope.strip()}
    missing = [scope for scope in bot_scopes() if scope not in granted]
    if missing:
        return Finding("Slack scopes", False, f"the token lacks {', '.join(missing)}; add them under OAuth & "
                                              f"Permissions at {_APPS}, then reinstall the app to the workspace")
    return Finding("Slack scopes", True, f"all {len(bot_scopes())} bot scopes of the manifest granted")
