"""`paperboy doctor`'s Matrix check: who the homeserver says Paperboy is (``/account/whoami``), changing nothing."""

from __future__ import annotations

from nio import AsyncClient, AsyncClientConfig, LoginError, WhoamiError

from adapters.matrix.delivery import NETWORK_ERRORS
from bot.runtime.doctor import Finding
from bot.runtime.settings import Settings


async def check_matrix(settings: Settings) -> list[Finding]:
    """With an access token: ``whoami``. With a password: the check would have to sign in (a new session),
    so it says what it would do instead of doing it."""
    if settings.matrix_access_token is None:
        return [Finding("Matrix", None, f"signs in as {settings.matrix_user_id} with MATRIX_PASSWORD at start "
                                        "(set MATRIX_ACCESS_TOKEN to have it checked here)")]
    client = AsyncClient(settings.matrix_homeserver or "", settings.matrix_user_id or "",
                         config=AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0,
                                                  request_timeout=settings.http_timeout))
    client.access_token = settings.matrix_access_token.get_secret_value()
    try:
        who = await client.whoami()
    except NETWORK_ERRORS as error:
        return [Finding("Matrix", False, f"no answer from {settings.matrix_homeserver} "
                                         f"({error or type(error).__name__}); check MATRIX_HOMESERVER and the network")]
    finally:
        await client.close()
    if isinstance(who, (WhoamiError, LoginError)):
        return [Finding("Matrix", False, f"the homeserver refuses MATRIX_ACCESS_TOKEN ({who.status_code or 'error'}: "
                                         f"{who.message}); copy a new one from the account's settings")]
    if who.user_id != settings.matrix_user_id:
        return [Finding("Matrix", False, f"MATRIX_ACCESS_TOKEN belongs to {who.user_id}, not MATRIX_USER_ID "
                                         f"{settings.matrix_user_id}; set MATRIX_USER_ID to {who.user_id}")]
    return [Finding("Matrix", True, f"MATRIX_ACCESS_TOKEN accepted by /account/whoami: {who.user_id} "
                                    f"(device {who.device_id or 'unknown'})")]
