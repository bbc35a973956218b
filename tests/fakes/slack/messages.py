"""The fake Slack's messages: chat.postMessage (with Slack's rate limits), chat.update, history and threads."""

from __future__ import annotations

import copy
import math
import time
from collections import deque
from typing import Any

from aiohttp import web

from tests.fakes.slack.records import APP_ID, BOT_ID, BOT_USER_ID, _after, _is_reply, _truthy, _without_metadata


class MessagesMixin:
    """FakeSlack's chat and conversations methods (its state is set up in FakeSlack.__post_init__)."""

    def _api_chat_postMessage(self, token: str | None, params: dict) -> dict | web.Response:
        team = self.tokens[token or ""]
        channel = str(params.get("channel", ""))
        if channel[:1] in ("U", "W"):  # posting to a user opens the app's direct message with them
            channel = self.dm_channel(channel)
        if channel in self.archived:
            return {"ok": False, "error": "is_archived"}
        wait = self._rate_limit_wait(team, channel)
        if wait is not None:
            self.count_429 += 1
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(wait)})
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID, "team": team,
                   "ts": self._new_ts(), "text": params.get("text"), "blocks": params.get("blocks")}
        if params.get("metadata"):
            message["metadata"] = params["metadata"]
        if params.get("thread_ts"):
            thread_ts = str(params["thread_ts"])
            if self._top_level(channel, thread_ts) is None:
                return {"ok": False, "error": "thread_not_found"}
            message["thread_ts"] = thread_ts
        self._messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": _without_metadata(message)}

    def _rate_limit_wait(self, team: str, channel: str) -> int | None:
        """Record one accepted message now, or return the whole seconds to wait if a window is full."""
        now = time.monotonic()
        windows = [(("channel", f"{team}/{channel}"), self.channel_limit), (("workspace", team), self.workspace_limit)]
        waits = []
        for key, limit in windows:
            if limit is None:
                continue
            count, per = limit
            accepted = self._accepted.setdefault(key, deque())
            while accepted and accepted[0] <= now - per:
                accepted.popleft()
            if len(accepted) >= count:
                waits.append(accepted[-count] + per - now)
        if waits:
            return max(1, math.ceil(max(waits)))
        for key, limit in windows:
            if limit is not None:
                self._accepted[key].append(now)
        return None

    def _api_chat_update(self, token: str | None, params: dict) -> dict:
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        message = next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        for key in ("text", "blocks", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        message["edited"] = {"user": BOT_USER_ID, "ts": self._new_ts()}
        return {"ok": True, "channel": channel, "ts": ts, "text": message.get("text"),
                "message": _without_metadata(message)}

    def _top_level(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self._messages.get(channel, []) if m["ts"] == ts and not _is_reply(m)), None)

    def _history_wait(self, token: str | None, method: str) -> web.Response | None:
        """Count one history call now, or return the 429 that `history_limit` answers when its window is full."""
        if self.history_limit is None:
            return None
        count, per = self.history_limit
        now = time.monotonic()
        accepted = self._accepted.setdefault(("history", f"{self.tokens.get(token or '')}/{method}"), deque())
        while accepted and accepted[0] <= now - per:
            accepted.popleft()
        if len(accepted) >= count:
            self.count_429 += 1
            wait = max(1, math.ceil(accepted[-count] + per - now))
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(wait)})
        accepted.append(now)
        return None

    def _page_limit(self, params: dict, default: int) -> int:
        limit = int(str(params.get("limit") or default))
        return min(limit, self.history_page_max) if self.history_page_max else limit

    def _api_conversations_replies(self, token: str | None, params: dict) -> dict | web.Response:
        # Like Slack: the thread of *ts* (a parent, or any reply in it), the parent first, oldest first.
        refused = self._history_wait(token, "conversations.replies")
        if refused is not None:
            return refused
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        named = next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)
        if named is None:
            return {"ok": False, "error": "thread_not_found"}
        parent_ts = named.get("thread_ts", named["ts"])
        thread = [m for m in self._messages.get(channel, []) if m["ts"] == parent_ts or m.get("thread_ts") == parent_ts]
        thread = [m for m in thread if m["ts"] == parent_ts or _after(m, params.get("oldest"))]
        start = int(str(params.get("cursor") or "0"))
        limit = self._page_limit(params, 1000)
        page = thread[start:start + limit]
        if not _truthy(params.get("include_all_metadata")):
            page = [_without_metadata(m) for m in page]
        has_more = start + limit < len(thread)
        return {"ok": True, "messages": copy.deepcopy(page), "has_more": has_more,
                "response_metadata": {"next_cursor": str(start + limit) if has_more else ""}}

    def _api_conversations_history(self, token: str | None, params: dict) -> dict | web.Response:
        # Thread replies are not part of a channel's history; newest first, like Slack; after ``oldest`` only.
        refused = self._history_wait(token, "conversations.history")
        if refused is not None:
            return refused
        top_level = [m for m in self._messages.get(str(params.get("channel", "")), [])
                     if not _is_reply(m) and _after(m, params.get("oldest"))]
        newest_first = top_level[::-1]
        start = int(str(params.get("cursor") or "0"))
        limit = self._page_limit(params, 100)
        page = newest_first[start:start + limit]
        if not _truthy(params.get("include_all_metadata")):
            page = [_without_metadata(m) for m in page]
        has_more = start + limit < len(newest_first)
        return {"ok": True, "messages": copy.deepcopy(page), "has_more": has_more, "pin_count": 0,
                "response_metadata": {"next_cursor": str(start + limit) if has_more else ""}}

    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _api_conversations_open(self, token: str | None, params: dict) -> dict:
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if len(users) != 1:  # group DMs are not needed by Paperboy
            return {"ok": False, "error": "users_list_not_supplied" if not users else "not_supported"}
        channel = self.dm_channel(users[0])
        return {"ok": True, "channel": {"id": channel, "is_im": True, "user": users[0]}}

    def _api_chat_postEphemeral(self, token: str | None, params: dict) -> dict:
        return {"ok": True, "message_ts": f"{int(time.time())}.{next(self._ts):06d}"}
