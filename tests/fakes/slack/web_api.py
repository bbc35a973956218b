"""The fake Slack's Web API entry point and its other methods: auth, users, files, OAuth, response URLs."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from tests.fakes.slack.records import (
    APP_ID, ApiCall, BOT_ID, BOT_USER_ID, Failure, UploadedFile, _manifest_bot_scopes, _params,
)


class WebApiMixin:
    """FakeSlack's Web API dispatch and non-message methods (its state is set up in FakeSlack.__post_init__)."""

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
        async with self._new_call:
            self.calls.append(ApiCall(method, token, params))
            self._new_call.notify_all()
        if self.latency.get(method):
            await asyncio.sleep(self.latency[method])
        failure = self._next_failure(method)
        if failure is not None:
            if failure.status == 429:
                self.count_429 += 1
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            if failure.body is not None:
                return web.Response(body=failure.body.encode(), status=failure.status,
                                    headers={**headers, "Content-Type": failure.content_type})
            return web.json_response({"ok": False, "error": failure.error}, status=failure.status, headers=headers)
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        if method.startswith(("chat.", "conversations.", "files.")) and token not in self.tokens:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        answer = handler(token, params)
        if isinstance(answer, web.Response):
            return answer
        return web.json_response(answer)

    def _next_failure(self, method: str) -> Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _api_auth_test(self, token: str | None, params: dict) -> dict | web.Response:
        team = self.tokens.get(token or "")
        if team is None:
            return {"ok": False, "error": "invalid_auth"}
        scopes = _manifest_bot_scopes() if self.scopes is None else self.scopes
        return web.json_response(
            {"ok": True, "url": f"https://{team.lower()}.slack.com/", "team": f"Team {team}",
             "user": "paperboy", "team_id": team, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
             "is_enterprise_install": False},
            headers={"x-oauth-scopes": ",".join(scopes)})  # as Slack answers for a bot token

    def _api_users_info(self, token: str | None, params: dict) -> dict:
        user = self.users.get(params.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": params["user"], "name": params["user"].lower(), **user}}

    def _api_files_getUploadURLExternal(self, token: str | None, params: dict) -> dict:
        filename, length = params.get("filename"), str(params.get("length") or "")
        if not filename or not length.isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ts):08d}"
        self._pending_files[file_id] = {"filename": filename, "length": int(length),
                                        "team": self.tokens[token or ""]}
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        # Like Slack's upload URLs: no token, the URL itself is the permission (once).
        pending = self._pending_files.get(request.match_info["file_id"])
        if pending is None or "content" in pending:
            return web.Response(status=404, text="upload URL not found")
        pending["content"] = await request.read()
        return web.Response(text=f"OK - {len(pending['content'])}")

    def _api_files_completeUploadExternal(self, token: str | None, params: dict) -> dict:
        files = params.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        if not files:
            return {"ok": False, "error": "invalid_arguments"}
        team = self.tokens[token or ""]
        done: list[UploadedFile] = []
        for item in files:
            pending = self._pending_files.get(str(item.get("id")))
            if pending is None or "content" not in pending or pending["team"] != team:
                return {"ok": False, "error": "file_not_found"}
            done.append(UploadedFile(
                id=str(item["id"]), filename=pending["filename"], content=pending["content"],
                channel_id=params.get("channel_id") or None, title=item.get("title") or pending["filename"],
                initial_comment=params.get("initial_comment") or None, team=team,
            ))
        for uploaded in done:
            del self._pending_files[uploaded.id]
        self.files += done
        return {"ok": True, "files": [{"id": f.id, "name": f.filename, "title": f.title} for f in done]}

    def _api_apps_connections_open(self, token: str | None, params: dict) -> dict:
        if not (token or "").startswith("xapp-"):
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": f"{self.base_url.replace('http', 'ws', 1)}/socket"}

    def _api_oauth_v2_access(self, token: str | None, params: dict) -> dict:
        grant = self.oauth_codes.get(params.get("code", ""))
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        team, bot_token = grant
        self.tokens[bot_token] = team
        return {"ok": True, "app_id": APP_ID, "authed_user": {"id": "UINSTALLER"},
                "scope": "commands,chat:write", "token_type": "bot", "access_token": bot_token,
                "bot_user_id": BOT_USER_ID, "team": {"id": team, "name": f"Team {team}"},
                "enterprise": None, "is_enterprise_install": False}

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self._new_response:
            self.responses.append({"name": request.match_info["name"], **body})
            self._new_response.notify_all()
        return web.Response(text="ok")
