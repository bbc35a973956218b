"""A real Matrix homeserver for the tests: Synapse (the dev extra) on 127.0.0.1, on SQLite, once per session.

`synapse_server` writes a config into a temporary folder (no federation, no key servers, no URL
previews, Synapse's own rate limits), starts the homeserver as a child process on a free port,
waits until it answers, registers the bot, two people and an admin by shared-secret registration,
and stops it by its PID at the end. Everyone but `Synapse.register(..., limited=True)` accounts is
exempt from the message rate limit (Synapse's admin API), so only a test that wants 429s gets them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

SERVER_NAME = "localhost"
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class Account:
    user_id: str
    password: str
    access_token: str
    device_id: str


@dataclass
class Synapse:
    """A running homeserver: its URL, its shared secret, and the accounts made so far."""

    url: str
    shared_secret: str
    folder: Path
    process: subprocess.Popen[bytes]
    accounts: dict[str, Account] = field(default_factory=dict)

    def call(self, method: str, path: str, body: dict | None = None, *, token: str | None = None) -> dict:
        """One client-server (or admin) API call; an error answer raises `urllib.error.HTTPError`."""
        request = urllib.request.Request(self.url + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"{}")

    def register(self, name: str, *, admin: bool = False, limited: bool = False) -> Account:
        """Register *name* by shared secret (HMAC-SHA1 over nonce, user, password, admin flag), once."""
        if name in self.accounts:
            return self.accounts[name]
        password = secrets.token_hex(8)
        nonce = self.call("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), name.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        made = self.call("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": name, "password": password, "admin": admin, "mac": mac.hexdigest()})
        account = Account(made["user_id"], password, made["access_token"], made["device_id"])
        self.accounts[name] = account
        if not limited and not admin:
            self.call("POST", f"/_synapse/admin/v1/users/{account.user_id}/override_ratelimit",
                      {"messages_per_second": 0, "burst_count": 0}, token=self.admin.access_token)
        return account

    @property
    def admin(self) -> Account:
        return self.accounts["admin"]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(folder: Path, port: int, shared_secret: str) -> Path:
    """Synapse's config (JSON is YAML) and signing key in *folder*; returns the config's path."""
    from signedjson.key import generate_signing_key, write_signing_keys

    key_path = folder / "signing.key"
    with key_path.open("w") as out:
        write_signing_keys(out, [generate_signing_key("test")])
    log_config = folder / "log.yaml"
    log_config.write_text(json.dumps({
        "version": 1, "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(folder / "synapse.log"),
                              "formatter": "plain"}},
        "root": {"level": "WARNING", "handlers": ["file"]}, "disable_existing_loggers": False}))
    plenty = {"per_second": 1000, "burst_count": 1000}
    config = {
        "server_name": SERVER_NAME, "pid_file": str(folder / "synapse.pid"), "report_stats": False,
        "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                       "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
        "database": {"name": "sqlite3", "args": {"database": str(folder / "homeserver.db")}},
        "log_config": str(log_config), "media_store_path": str(folder / "media"),
        "signing_key_path": str(key_path), "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(16), "form_secret": secrets.token_hex(16),
        "trusted_key_servers": [], "suppress_key_server_warning": True, "federation_domain_whitelist": [],
        "url_preview_enabled": False, "enable_metrics": False, "presence": {"enabled": False},
        # Synapse's message limit stays (a test account made `limited` meets it); the rest never gets in the way.
        "rc_message": {"per_second": 0.5, "burst_count": 5},
        "rc_login": {"address": plenty, "account": plenty, "failed_attempts": plenty},
        "rc_registration": plenty, "rc_joins": {"local": plenty, "remote": plenty}, "rc_joins_per_room": plenty,
        "rc_invites": {"per_room": plenty, "per_user": plenty, "per_issuer": plenty},
        "rc_admin_redaction": plenty, "rc_room_creation": plenty,
    }
    path = folder / "homeserver.yaml"
    path.write_text(json.dumps(config))
    return path


def start_synapse(folder: Path) -> Synapse:
    """Start Synapse in *folder* and return once it answers and the standard accounts exist."""
    port, secret = free_port(), secrets.token_hex(16)
    config = write_config(folder, port, secret)
    output = (folder / "stdout.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(config)],
                               stdout=output, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True)
    server = Synapse(f"http://127.0.0.1:{port}", secret, folder, process)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            log = (folder / "stdout.log").read_text()[-3000:] + (folder / "synapse.log").read_text()[-3000:]
            raise RuntimeError(f"Synapse exited with {process.returncode}:\n{log}")
        try:
            server.call("GET", "/_matrix/client/versions")
            break
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"Synapse did not answer on {server.url} within {START_TIMEOUT:.0f} s") from None
            time.sleep(0.2)
    server.register("admin", admin=True)
    for name in ("paperboy", "ada", "bob"):
        server.register(name)
    return server


@pytest.fixture(scope="session")
def synapse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """One Synapse per test process (xdist worker), started at its first Matrix test."""
    server = start_synapse(tmp_path_factory.mktemp("synapse"))
    try:
        yield server
    finally:
        server.stop()


def room_events(server: Synapse, room_id: str, account: Account, limit: int = 500) -> list[dict[str, Any]]:
    """The room's timeline as the server holds it, oldest first (one page of *limit* events)."""
    from urllib.parse import quote

    answer = server.call("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b&limit={limit}",
                         token=account.access_token)
    return list(reversed(answer.get("chunk", [])))
