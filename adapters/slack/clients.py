"""The Slack Web API clients of every workspace: one shared HTTP session, and each workspace's bot token
read from the installation store at most every `TOKEN_TTL_SECONDS`.

Every delivery call goes through `WorkspaceClients.call`, so every failure is mapped in one place.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Mapping

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.web import AUTH_ERRORS, LOST_ACCESS, PERMANENT_ERRORS, Answer, attempt, bound_call, delivery_error
from bot.delivery.batching import Batcher
from bot.ports.adapter import DeliveryResult, DeliveryStatus

TOKEN_TTL_SECONDS = 30.0
"""How long a workspace's bot token, once read from the installation store, is used without reading it again."""
MAX_CONNECTIONS = 64
"""Open connections to Slack at once for the shared HTTP session; more calls wait for one to be free.

A round to a thousand workspaces starts a thousand calls at once: without a limit each would
open (and later keep) its own connection, which cost most of a send's CPU, for no speed gained
(Slack paces each channel and workspace, not the connection)."""

NOT_INSTALLED = DeliveryResult(
    DeliveryStatus.PERMANENT,
    reason=f"{LOST_ACCESS} (not installed): Paperboy is no longer installed in this workspace",
)


def shared_session(timeout: float) -> aiohttp.ClientSession:
    """The HTTP session every Web API client shares: `MAX_CONNECTIONS` connections, a whole call timed
    out after *timeout* seconds, no cookies (nothing carries from one workspace to another)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
                                 timeout=aiohttp.ClientTimeout(total=timeout), cookie_jar=aiohttp.DummyCookieJar())


class WorkspaceClients:
    """Paperboy's own Web API calls, each made with its workspace's bot token.

    *client* is the client of Paperboy's own calls (with the one bot token, or none when many
    workspaces install Paperboy through *installation_store*). *clock* is monotonic seconds.
    """

    def __init__(self, client: AsyncWebClient, installation_store: Any, clock: Callable[[], float]) -> None:
        self.client = client
        self.installation_store = installation_store
        self.clock = clock
        self._team_clients: dict[str, AsyncWebClient] = {}
        """Bot token → its Web API client (all of them on `_session` once started)."""
        self._bot_reads: Batcher[str, str | None] = Batcher(self._read_bots)
        self._tokens: dict[str, tuple[str, float]] = {}
        """Workspace → (bot token, until when on `clock`): read from the installation store at most every 30 s."""
        self._session: aiohttp.ClientSession | None = None
        """The one HTTP session (and connection pool) of every client, from `open_session` to `close_session`."""

    def open_session(self) -> None:
        """Give every Web API client one shared HTTP session, so calls reuse their connections to Slack.

        Called in the running loop (by the adapter's `start`). Like the session slack_sdk opens per call
        without one (before `start`, after `stop`), it times out a whole call after
        ``client.timeout`` and keeps no cookies (nothing carries from one workspace to another).
        """
        if self._session is not None and not self._session.closed:
            return
        asyncio.get_running_loop()  # an aiohttp session belongs to the loop it was made in
        self._session = shared_session(self.client.timeout)
        self._use_session(self._session)

    async def close_session(self) -> None:
        session, self._session = self._session, None
        self._use_session(None)
        if session is not None:
            await session.close()

    def _use_session(self, session: aiohttp.ClientSession | None) -> None:
        self.client.session = session
        for client in self._team_clients.values():
            client.session = session

    async def call(
        self, workspace: str, method: str, *, permanent: Mapping[str, str] = PERMANENT_ERRORS, **params: Any,
    ) -> AsyncSlackResponse | DeliveryResult:
        """Call the client method *method* (``chat_postMessage``) with *workspace*'s token.

        Returns Slack's answer, or the `DeliveryResult` saying why there is none. Every
        delivery path goes through here, so every failure is mapped in one place;
        *permanent* names the error codes that retrying cannot fix.
        """
        client, remembered = await self._workspace_client(workspace)
        if client is None:
            return NOT_INSTALLED
        outcome = await attempt(bound_call(client, method), params)  # a wrong name is a bug: AttributeError
        if remembered and isinstance(outcome, SlackApiError) and Answer.of(outcome).code in AUTH_ERRORS:
            # The token was remembered: another process may have stored a new one since (a reinstall).
            refused = client.token
            self.forget_token(workspace, refused)
            client, _ = await self._workspace_client(workspace)
            if client is None:
                return NOT_INSTALLED
            if client.token != refused:
                outcome = await attempt(bound_call(client, method), params)
        if isinstance(outcome, SlackApiError):
            return delivery_error(outcome, permanent=permanent)
        return outcome

    async def client_for(self, workspace: str) -> AsyncWebClient | None:
        """Return a Web API client holding *workspace*'s bot token (None: not installed there)."""
        client, _ = await self._workspace_client(workspace)
        return client

    async def _workspace_client(self, workspace: str) -> tuple[AsyncWebClient | None, bool]:
        """Return *workspace*'s client (None: not installed there), and whether its token was remembered.

        A token read from the installation store is remembered for `TOKEN_TTL_SECONDS`;
        `call` reads it again sooner when Slack refuses it.
        """
        if self.installation_store is None:
            return self.client, False
        remembered = self._tokens.get(workspace)
        if remembered is not None and remembered[1] > self.clock():
            return self._token_client(remembered[0]), True
        token = await self._bot_reads.submit(workspace)
        if not token:
            self.forget_token(workspace)
            return None, False
        if remembered is not None and remembered[0] != token:
            self._team_clients.pop(remembered[0], None)  # reinstalled: the old token is of no more use
        self._tokens[workspace] = (token, self.clock() + TOKEN_TTL_SECONDS)
        return self._token_client(token), False

    async def _read_bots(self, workspaces: list[str]) -> list[str | None]:
        """The bot tokens of *workspaces*: the reads that wait at once (a round sends to many) go in one."""
        store = self.installation_store
        assert store is not None
        find_many = getattr(store, "async_find_bot_tokens", None)  # Paperboy's store; Bolt's own read one by one
        if find_many is None:
            bots = [await store.async_find_bot(enterprise_id=None, team_id=w) for w in workspaces]
            return [bot.bot_token if bot is not None else None for bot in bots]
        found = await find_many(list(dict.fromkeys(workspaces)))
        return [found.get(workspace) for workspace in workspaces]

    def _token_client(self, token: str) -> AsyncWebClient:
        # One client per token: a reinstall brings a new token, and so a new client.
        client = self._team_clients.get(token)
        if client is None:
            client = self._team_clients[token] = AsyncWebClient(
                token=token,
                base_url=self.client.base_url,
                timeout=self.client.timeout,
                session=self._session,
                retry_handlers=list(self.client.retry_handlers),
                logger=self.client.logger,
            )
        return client

    def forget_token(self, workspace: str | None, token: str | None = None) -> None:
        """Read *workspace*'s token from the store on its next call, and drop the client of the old one.

        With *token*, only if that is the token remembered (another call may have read a newer one).
        """
        remembered = self._tokens.get(workspace or "")
        if remembered is None or (token is not None and remembered[0] != token):
            return
        del self._tokens[workspace or ""]
        self._team_clients.pop(remembered[0], None)
