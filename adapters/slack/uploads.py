"""Files on Slack (bibtex, reading lists): uploaded with ``files_upload_v2``, or given as text when that fails."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from slack_sdk.errors import SlackClientError

from adapters.slack.render import SlackMessage, escape, render, render_file
from adapters.slack.web import PERMANENT_ERRORS
from bot.model.channels import ChannelRef
from bot.ports.adapter import DeliveryResult
from bot.model.replies import File, Text

log = logging.getLogger(__name__)

FILE_ERRORS: dict[str, str] = {
    "missing_scope": "Paperboy may not upload files in this workspace (missing_scope): "
                     "reinstall it from the manifest to grant files:write",
}
"""Upload errors (``conversations.open``, ``files_upload_v2``) that say more than their channel-access meaning."""
_FILE_PERMANENT = {**PERMANENT_ERRORS, **FILE_ERRORS}


async def send_file(call: Callable[..., Awaitable[Any]], item: File, channel: ChannelRef, user_id: str, *,
                    private: bool) -> SlackMessage | None:
    """Upload *item* with ``files_upload_v2``: to the caller's DM with Paperboy when *private*, else the channel.

    *call* is `WorkspaceClients.call`. Slack shows a file to everyone in the channel it is shared in,
    so a private file goes to the direct message, and the answer points there. When the upload fails
    (no files:write scope, or anything else), the answer is the file as text with one line why.
    """
    target: str | None = channel.channel
    if private:
        opened = await call(channel.workspace, "conversations_open", permanent=_FILE_PERMANENT, users=user_id)
        if isinstance(opened, DeliveryResult):
            return file_fallback(item, opened.reason)
        target = (opened.get("channel") or {}).get("id")
        if not target:
            return file_fallback(item, "Slack opened no direct message")
    try:
        uploaded = await call(
            channel.workspace, "files_upload_v2", permanent=_FILE_PERMANENT,
            channel=target, filename=item.name, content=item.content, title=item.name,
            initial_comment=escape(item.note),
        )
    except SlackClientError as error:  # the upload URL refused the bytes (files_upload_v2's step 2)
        log.warning("Slack: uploading %s failed: %s", item.name, str(error)[:300])
        return file_fallback(item, "Slack refused the file's bytes")
    if isinstance(uploaded, DeliveryResult):
        return file_fallback(item, uploaded.reason)
    if not private:
        return None
    return render(Text(f"{item.note}: sent to your direct messages with Paperboy as {item.name}"))


def file_fallback(item: File, reason: str | None) -> SlackMessage:
    why = reason or "unknown error"
    log.warning("Slack: could not upload %s, answering with its text: %s", item.name, why)
    return render_file(item, reason=f"Paperboy could not send {item.name} as a file: {why}. Here it is as text.")
