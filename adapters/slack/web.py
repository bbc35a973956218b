"""Slack's Web API as Paperboy calls it: clients that wait out rate limits, and every failure mapped to a result.

Split from the adapter so the sending path (what each of a thousand posts costs) is in one place.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.history import HISTORY_METHODS
from bot.ports.adapter import DeliveryResult, DeliveryStatus

RATE_LIMIT_RETRIES = 2
DEFAULT_RETRY_AFTER = 30.0

LOST_ACCESS = "Paperboy lost access to this channel"
REINSTALL = "reinstall Paperboy in this workspace"
PERMANENT_ERRORS: dict[str, str] = {
    "channel_not_found": f"{LOST_ACCESS} (channel_not_found): it was deleted or Paperboy was removed from it",
    "not_in_channel": f"{LOST_ACCESS} (not_in_channel): invite it with /invite @Paperboy",
    "is_archived": f"{LOST_ACCESS} (is_archived): the channel was archived",
    "restricted_action": f"{LOST_ACCESS} (restricted_action): only some members may post here",
    "account_inactive": f"{LOST_ACCESS} (account_inactive): {REINSTALL}",
    "token_revoked": f"{LOST_ACCESS} (token_revoked): {REINSTALL}",
    "invalid_auth": f"{LOST_ACCESS} (invalid_auth): {REINSTALL} or check SLACK_BOT_TOKEN",
    "not_authed": f"{LOST_ACCESS} (not_authed): {REINSTALL} or check SLACK_BOT_TOKEN",
    "missing_scope": f"{LOST_ACCESS} (missing_scope): {REINSTALL} from the manifest",
}
"""Slack errors that retrying cannot fix: the channel is paused with this reason."""


AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "account_inactive", "token_expired"})
"""Errors that say the token was refused: a remembered token is then read from the store again."""

NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
"""What a Web API call raises when Slack cannot be reached at all."""



@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """What answered a failed Web API call, read safely from whatever slack_sdk kept of it."""

    status: int | None
    content_type: str
    headers: Mapping[str, str]
    code: str | None
    """Slack's error code; None when the body was not Slack's JSON (something in between answered)."""

    @classmethod
    def of(cls, error: SlackApiError) -> Answer:
        # Usually an AsyncSlackResponse whose data is Slack's dict, a str (text/plain) or {} (any
        # other non-JSON type); the raw aiohttp response when a body claimed to be JSON but was not.
        response = error.response
        status = getattr(response, "status_code", None) or getattr(response, "status", None)
        headers = getattr(response, "headers", None) or {}
        data = getattr(response, "data", None)
        code = str(data.get("error") or "unknown_error") if isinstance(data, dict) and "ok" in data else None
        return cls(status=status, content_type=content_type(headers), headers=headers, code=code)


def delivery_error(error: SlackApiError, *, permanent: Mapping[str, str] = PERMANENT_ERRORS) -> DeliveryResult:
    """Map a failed Web API call onto a `DeliveryResult`; *permanent* maps codes that retrying cannot fix."""
    answer = Answer.of(error)
    if answer.status == 429 or answer.code == "ratelimited":
        return DeliveryResult(DeliveryStatus.RATE_LIMITED, reason="Slack rate limit (429)",
                              retry_after=retry_after(answer.headers))
    if answer.code is None:
        return not_json(answer.status, answer.content_type)
    if answer.code in permanent:
        return DeliveryResult(DeliveryStatus.PERMANENT, reason=permanent[answer.code])
    return DeliveryResult(DeliveryStatus.TRANSIENT,
                          reason=f"Slack refused the message ({answer.code}, HTTP {answer.status})")


async def attempt(call: Any, params: Mapping[str, Any]) -> AsyncSlackResponse | DeliveryResult | SlackApiError:
    """Make one Web API call: Slack's answer, the `DeliveryResult` of an answer that is not one, or Slack's refusal."""
    try:
        response = await call(**params)
    except SlackApiError as error:
        return error
    except AttributeError as error:
        # slack_sdk keeps a text/plain body as a str, and for a 200 its own validate() then
        # calls .get on it: this is how a proxy's "200 OK" page surfaces. Anything else is a bug.
        if not raised_in(error, AsyncSlackResponse.validate):
            raise
        return not_json(200, "text/plain")
    except NETWORK_ERRORS as error:
        return unreachable(error)
    if not isinstance(response.data, dict):  # a 200 application/gzip body passes validate() as bytes
        return not_json(response.status_code, content_type(response.headers))
    return response


class RateLimitRetries(AsyncRateLimitErrorRetryHandler):
    """Wait out a 429 and try again, except on history reads: `HistoryReader` paces those per
    workspace, since a wait of a minute there must not hold up the other channels' recovery."""

    async def _can_retry_async(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
        if response is None or response.status_code != 429:
            return False  # asked of every answer: the URL is read only for a 429
        return urlsplit(request.url).path.rsplit("/", 1)[-1] not in HISTORY_METHODS


def web_client(token: str | None, base_url: str) -> AsyncWebClient:
    """A Web API client that waits out Slack's rate limits (history reads aside) up to `RATE_LIMIT_RETRIES` times."""
    client = AsyncWebClient(token=token, base_url=base_url, logger=calls_logger())
    client.retry_handlers.append(RateLimitRetries(max_retry_count=RATE_LIMIT_RETRIES))
    return client


def calls_logger() -> logging.Logger:
    """The logger of Paperboy's Web API clients, its own level set above DEBUG unless this module logs DEBUG.

    slack_sdk formats a debug line with every request's whole body (blocks and all) whenever its
    logger's *own* level is DEBUG or unset, whether or not anything would write it: most of a
    post's cost on a thousand channels.
    """
    logger = logging.getLogger(f"{__name__}.calls")
    logger.setLevel(logging.DEBUG if logging.getLogger(__name__).isEnabledFor(logging.DEBUG) else logging.INFO)
    return logger


def bound_call(client: AsyncWebClient, method: str) -> Callable[..., Awaitable[AsyncSlackResponse]]:
    """The call of *method*: the client's own method (``chat_update``), or for a Web API name
    (``chat.postMessage``) `api_call` with the fields, None left out, as its JSON body (`json_body`).

    The named methods convert block objects on every call; Paperboy renders plain dicts, cached.
    """
    if "." not in method:
        return getattr(client, method)

    async def call(**fields: Any) -> AsyncSlackResponse:
        # The body as bytes, typed JSON as slack_sdk types its own `json=` bodies (a new dict: it adds to it).
        return await client.api_call(method, data=json_body(fields), headers={"Content-Type": JSON_TYPE})
    return call


JSON_TYPE = "application/json;charset=utf-8"
_ENCODER = json.JSONEncoder(separators=(",", ":"))
"""`json.dumps` with separators makes an encoder per call: one, for every post's body."""


def json_body(fields: Mapping[str, Any]) -> bytes:
    """*fields*, None left out, as a JSON object; blocks rendered once (`render.EncodedBlocks`) as they were encoded."""
    blocks = fields.get("blocks")
    encoded = getattr(blocks, "json", None)
    rest = {k: v for k, v in fields.items() if v is not None and (encoded is None or k != "blocks")}
    if encoded is None:
        return _ENCODER.encode(rest).encode()
    head = _ENCODER.encode(rest)[:-1]  # "{...": the object left open for the blocks
    return f'{head}{"," if rest else ""}"blocks":{encoded}}}'.encode()


def not_json(status: int | None, content_type: str) -> DeliveryResult:
    # Slack itself always answers JSON: anything else came from a proxy or load balancer in
    # between, says nothing about the channel, and is worth another try later.
    answered = f"HTTP {status}" if status else "a request"
    kind = content_type or "no content type"
    return DeliveryResult(DeliveryStatus.TRANSIENT, reason=f"Slack answered {answered} with a non-JSON body ({kind})")


def raised_in(error: BaseException, function: Any) -> bool:
    """Say whether *error* was raised by *function* itself (its traceback's innermost frame)."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return frame is not None and frame.tb_frame.f_code is function.__code__


def content_type(headers: Mapping[str, str]) -> str:
    value = headers.get("Content-Type") or headers.get("content-type") or ""
    return value.split(";", 1)[0].strip()


def retry_after(headers: Mapping[str, str]) -> float:
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER


def unreachable(error: BaseException) -> DeliveryResult:
    return DeliveryResult(DeliveryStatus.TRANSIENT, reason=f"could not reach Slack ({type(error).__name__})")


