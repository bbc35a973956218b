"""What Slack sends an app: signed headers and the bodies of slash commands, mentions and button clicks."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack.records import APP_ID, BOT_ID, BOT_USER_ID


def signed_headers(secret: str, body: str, *, timestamp: int | None = None,
                   content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
    """Return the headers Slack sends with *body*: timestamp and ``v0=`` HMAC-SHA256 signature."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature, "Content-Type": content_type}


def slash_command_body(text: str, *, response_url: str, team_id: str = "T1", channel_id: str = "C1",
                       user_id: str = "U1", user_name: str = "ada", channel_name: str | None = None) -> str:
    """Return the form body Slack posts for ``/papers <text>`` (in a ``D…`` channel: from a direct message)."""
    if channel_name is None:
        channel_name = "directmessage" if channel_id.startswith("D") else "papers"
    return urlencode({
        "token": "legacy-verification", "team_id": team_id, "team_domain": team_id.lower(),
        "channel_id": channel_id, "channel_name": channel_name, "user_id": user_id, "user_name": user_name,
        "command": "/papers", "text": text, "api_app_id": APP_ID, "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": "1.2.3",
    })


def mention_event_body(text: str, *, team_id: str = "T1", channel_id: str = "C1", user_id: str = "U1",
                       event_id: str = "Ev1") -> str:
    """Return the JSON body of an ``app_mention`` event callback."""
    return json.dumps({
        "token": "legacy-verification", "team_id": team_id, "api_app_id": APP_ID, "type": "event_callback",
        "event_id": event_id, "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": BOT_USER_ID,
                            "is_bot": True, "is_enterprise_install": False}],
        "event": {"type": "app_mention", "user": user_id, "text": f"<@{BOT_USER_ID}> {text}",
                  "ts": "1700000000.000100", "channel": channel_id, "event_ts": "1700000000.000100",
                  "team": team_id},
    })


def block_actions_body(action_id: str, *, response_url: str | None, value: str = "", message_ts: str = "1.000001",
                       team_id: str = "T1", channel_id: str = "C1", user_id: str = "U1",
                       user_name: str = "ada") -> str:
    """Return the form body (``payload=<json>``) Slack posts when someone clicks the button *action_id*.

    The button sits on the message *message_ts* in *channel_id*; *response_url* None leaves it
    out (as for a button Slack gives no response URL).
    """
    payload: dict[str, Any] = {
        "type": "block_actions", "token": "legacy-verification", "api_app_id": APP_ID, "trigger_id": "1.2.3",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "team": {"id": team_id, "domain": team_id.lower()},
        "enterprise": None, "is_enterprise_install": False,
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False},
        "channel": {"id": channel_id, "name": "papers"},
        "message": {"type": "message", "ts": message_ts, "user": BOT_USER_ID, "bot_id": BOT_ID},
        "state": {"values": {}},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1", "value": value,
                     "text": {"type": "plain_text", "text": "button"}, "action_ts": str(time.time())}],
    }
    if response_url is not None:
        payload["response_url"] = response_url
    return urlencode({"payload": json.dumps(payload)})
