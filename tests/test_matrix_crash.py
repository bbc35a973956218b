"""Exactly once on Matrix: SIGKILL the bot while it delivers to 20 rooms of a real Synapse, restart, count.

The bot runs as a subprocess (`python -m bot run`) on Matrix alone, against the session's Synapse and
a fake Hugging Face in this process. Each (room, paper) is counted in the server's own room timelines:
a send retried after a kill reuses its transaction id (the server answers with the first event), and
the history check covers the rest. No duplicate, no miss.

Reading 20 timelines costs Synapse (which the bot needs) about half a second, so the test waits for
new posts on one long-polling /sync (`Arrivals`) and reads the timelines only when some came.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from adapters.matrix.render import MARKER
from bot.model.channels import ChannelRef
from storage.sqlite import Store
from tests.fakes.hf_server import FakeHuggingFace
from tests.fakes.seed import make_item, seed_items
from tests.synapse import Synapse, room_events

ROOT = Path(__file__).resolve().parents[1]
KILLS = int(os.environ.get("PAPERBOY_CRASH_KILLS", "4"))
ROOMS = 20
PAPERS = 6


def make_rooms(server: Synapse) -> list[str]:
    """Rooms Ada made, with Paperboy joined (through the API: the bot is not running yet)."""
    ada, bot = server.accounts["ada"], server.accounts["paperboy"]
    rooms = []
    for n in range(ROOMS):
        room = server.call("POST", "/_matrix/client/v3/createRoom", {"name": f"crash-{n}", "invite": [bot.user_id]},
                           token=ada.access_token)["room_id"]
        server.call("POST", f"/_matrix/client/v3/join/{room}", {}, token=bot.access_token)
        rooms.append(room)
    return rooms


async def prepare_database(path: Path, rooms: list[str], seed_ids: list[str]) -> None:
    now = datetime.now(timezone.utc)
    store = await Store.open(path)
    try:
        for room in rooms:
            channel = await store.ensure_channel(ChannelRef("matrix", "localhost", room))
            topic = await store.add_topic(channel.id, "crashproof", "tester", at=now)
            await store.mark_baseline_taken([topic.id])
            await store.record_baseline(channel.id, seed_ids, at=now)
    finally:
        await store.close()


def delivered(server: Synapse, rooms: list[str]) -> dict[str, Counter]:
    """Each room's posts by paper, as the homeserver holds them."""
    bot = server.accounts["paperboy"]
    counts = {}
    for room in rooms:
        posts = [e["content"][MARKER] for e in room_events(server, room, bot)
                 if e["type"] == "m.room.message" and e["sender"] == bot.user_id and MARKER in e["content"]]
        counts[room] = Counter(p["paper_ids"][0] for p in posts if p.get("kind") == "post")
    return counts


def total(counts: dict[str, Counter]) -> int:
    return sum(sum(c.values()) for c in counts.values())


class Arrivals:
    """Ada's /sync over *rooms*, filtered to the bot's messages: `wait` blocks until some arrive (cheap for Synapse)."""

    def __init__(self, server: Synapse, rooms: list[str]) -> None:
        self.server, self.token = server, server.accounts["ada"].access_token
        only_posts = {"rooms": rooms, "timeline": {"senders": [server.accounts["paperboy"].user_id],
                                                   "types": ["m.room.message"], "limit": 1},
                      "state": {"types": []}, "ephemeral": {"types": []}, "account_data": {"types": []}}
        self.filter = quote(json.dumps({"room": only_posts, "presence": {"types": []},
                                        "account_data": {"types": []}}))
        self.since = self._sync(None, 0)["next_batch"]

    def _sync(self, since: str | None, timeout: float) -> dict:
        after = f"&since={since}" if since else ""
        return self.server.call("GET", f"/_matrix/client/v3/sync?filter={self.filter}&timeout={int(timeout * 1000)}"
                                       f"{after}", token=self.token)

    def wait(self, timeout: float) -> bool:
        """Whether the bot posted since the last call, waiting up to *timeout* seconds for it."""
        answer = self._sync(self.since, timeout)
        self.since = answer["next_batch"]
        return any(room["timeline"]["events"] for room in answer.get("rooms", {}).get("join", {}).values())


async def test_sigkill_during_delivery_to_20_rooms_never_duplicates_or_misses(tmp_path, synapse_server):
    rng = random.Random(int(os.environ.get("PAPERBOY_CRASH_SEED", "25")))
    today = datetime.now(timezone.utc).date()
    seeds = seed_items(today=today)
    new = [make_item(700 + n, f"Crashproof rooms, part {n}", "Once per room.", daily=today,
                     paper_id=f"2411.{700 + n:05d}", upvotes=400 + n) for n in range(PAPERS)]
    rooms = await asyncio.to_thread(make_rooms, synapse_server)
    bot = synapse_server.accounts["paperboy"]
    async with FakeHuggingFace(seeds) as hf:
        database = tmp_path / "crash.db"
        await prepare_database(database, rooms, [i["paper"]["id"] for i in seeds])
        for item in new:
            hf.add(item)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_", "MATRIX_"))}
        env |= {
            "PYTHONPATH": str(ROOT), "PAPERBOY_DATABASE": str(database), "PAPERBOY_HF_API_URL": hf.base_url,
            "PAPERBOY_ARXIV_API_URL": "http://127.0.0.1:9", "PAPERBOY_POLL_INTERVAL": "2",
            "PAPERBOY_MAX_POSTS_PER_HOUR": "1000", "PAPERBOY_LOG_LEVEL": "WARNING",
            "MATRIX_HOMESERVER": synapse_server.url, "MATRIX_USER_ID": bot.user_id,
            "MATRIX_ACCESS_TOKEN": bot.access_token, "MATRIX_DEVICE_ID": bot.device_id,
        }
        log = (tmp_path / "bot.log").open("ab")
        expected = {p["paper"]["id"] for p in new}
        wanted = len(expected) * ROOMS

        async def launch() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)

        async def count() -> int:
            return total(await asyncio.to_thread(delivered, synapse_server, rooms))

        kills = 0
        started = time.monotonic()
        arrivals = await asyncio.to_thread(Arrivals, synapse_server, rooms)
        try:
            while kills < KILLS and await count() < wanted:
                await asyncio.to_thread(arrivals.wait, 0)  # what came before this run is not its post
                process = await launch()
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:  # kill while it delivers: once this run has posted
                    if await asyncio.to_thread(arrivals.wait, max(0.0, min(5.0, deadline - time.monotonic()))):
                        break
                await asyncio.sleep(rng.uniform(0.0, 0.5))
                process.send_signal(signal.SIGKILL)
                await process.wait()
                kills += 1
                print(f"kill {kills} at {time.monotonic() - started:.1f} s: {await count()} posts")
            process = await launch()
            deadline = time.monotonic() + 180
            while await count() < wanted and time.monotonic() < deadline:
                await asyncio.to_thread(arrivals.wait, 3.0)  # until more posts come (or 3 s pass): then count
            await asyncio.sleep(3)  # anything still to come would be a duplicate: give it time to show
            print(f"{kills} kills; {await count()} of {wanted} posts after {time.monotonic() - started:.1f} s")
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)
        finally:
            log.close()
            for leftover in (p for p in [locals().get("process")] if p and p.returncode is None):
                leftover.kill()

        counts = await asyncio.to_thread(delivered, synapse_server, rooms)
        duplicates = {room: [p for p, n in c.items() if n > 1] for room, c in counts.items()}
        missing = {room: sorted(expected - set(c)) for room, c in counts.items()}
        assert all(not d for d in duplicates.values()), f"duplicates: {duplicates}"
        assert all(not m for m in missing.values()), f"missing: {missing}\n{(tmp_path / 'bot.log').read_text()[-3000:]}"
        assert kills >= KILLS, f"only {kills} kills happened before everything was delivered"
