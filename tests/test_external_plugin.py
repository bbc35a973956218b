"""Proof that a platform is a plugin: a tiny one, built outside the source tree, passes the conformance suite.

The test writes a package `tinychat` (its own settings, adapter and one ``paperboy.platforms`` entry
point, found through its dist-info) and its own test file into a temporary folder, then runs that
test in a fresh interpreter with the folder on its path. The plugin's test uses only the installed
testing kit: it starts a core, starts tinychat as `paperboy run` would (found by its entry point,
turned on by its setting), and runs `check_conformance` through it. No file of Paperboy changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = '''
"""Tinychat: a chat platform that lives in a list, as a Paperboy plugin."""

import html
import re

from pydantic import Field
from pydantic_settings import BaseSettings

from bot.model.actions import Action
from bot.model.channels import Caller, ChannelRef, parse_command
from bot.ports.adapter import BUTTONS, DeliveryResult, DeliveryStatus
from bot.ports.platforms import env
from bot.model.replies import Error, PaperCard, PaperList, Text

SENT = DeliveryStatus.SENT


class TinychatSettings(BaseSettings):
    tinychat_room: str | None = Field(None, validation_alias=env("TINYCHAT_ROOM"))


def render(content, mention=None):
    """Tinychat's markup: ``<@name>`` wakes name, so text from papers is escaped."""
    if isinstance(content, (Text, Error)):
        return html.escape(content.body if isinstance(content, Text) else content.message)
    cards = [content] if isinstance(content, PaperCard) else list(content.cards)
    head = "" if isinstance(content, PaperCard) else html.escape(content.title) + "\\n"
    lines = [f"{c.paper.id} {html.escape(c.paper.title)} {html.escape(c.why or '')}" for c in cards]
    return (f"<@{mention}> " if mention else "") + head + "\\n".join(lines)


def buttons(content):
    cards = [content] if isinstance(content, PaperCard) else list(getattr(content, "cards", ()))
    return [f"paperboy:{a.kind}:{a.paper_id}" for card in cards for a in card.actions]


class TinychatAdapter:
    platform = "tinychat"
    limits = ()
    capabilities = frozenset({BUTTONS})

    def __init__(self, room, engine):
        self.room = ChannelRef("tinychat", "home", room)
        self.engine = engine
        self.messages = []

    async def start(self):
        self.messages.clear()

    async def stop(self):
        pass

    async def send(self, channel, post):
        self.messages.append({"text": render(post.content, post.mention), "tag": post.tag,
                              "buttons": buttons(post.content)})
        return DeliveryResult(SENT, message_ref=str(len(self.messages) - 1))

    async def find_post(self, channel, post):
        return next((str(n) for n, m in enumerate(self.messages) if m["tag"] == post.tag), None)

    async def edit(self, channel, message_ref, post):
        self.messages[int(message_ref)].update(text=render(post.content, post.mention), buttons=buttons(post.content))
        return DeliveryResult(SENT, message_ref=message_ref)

    async def notify(self, channel, user_id, text):
        return DeliveryResult(SENT)

    async def open_thread(self, channel, message_ref, post):
        return DeliveryResult(DeliveryStatus.PERMANENT, reason="tinychat has no threads")

    async def find_thread(self, channel, message_ref, post):
        return None

    async def type(self, text):
        """Someone types ``text`` in the room; return what Paperboy answers."""
        reply = await self.engine.handle(parse_command(text, caller=Caller("ada", "Ada", can_manage=True),
                                                       channel=self.room))
        return render(reply.content)

    async def click(self, message_ref, action_id):
        _, kind, paper_id = action_id.split(":")
        reply = await self.engine.act(Action(kind, paper_id, Caller("ada", "Ada"), self.room, message_ref))
        return render(reply.content)


class Tinychat:
    name = "tinychat"
    title = "Tinychat"
    settings = TinychatSettings
    switches = ("TINYCHAT_ROOM",)
    group_hint = "<@group>"
    secret_patterns = ()
    loggers = ()
    idle_warnings = ()
    capabilities = TinychatAdapter.capabilities

    def configured(self, settings):
        return bool(settings.tinychat_room)

    def check_settings(self, settings):
        return None

    async def doctor_check(self, settings):
        return []

    def add_commands(self, commands):
        pass

    def create(self, core, engine):
        return TinychatAdapter(core.settings.tinychat_room, engine)

    async def unfinished_migration(self, store):
        return None


platform = Tinychat()


def pings(message):
    return {f"group:{name}" for name in re.findall(r"<@(\\w+)>", message["text"])}
'''

PLUGIN_TEST = '''
import asyncio
import contextlib
import json

from bot.ports.platforms import platforms
from paperboy_testing import Driver, check_conformance, running_core, running_platform
from tinychat import pings


def test_tinychat_conforms(tmp_path):
    assert "tinychat" in [p.name for p in platforms()]  # found by its entry point alone

    @contextlib.asynccontextmanager
    async def open_driver():
        folder = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        async with running_core(folder, tinychat_room="lab") as core, running_platform(core, "tinychat") as chat:
            yield Driver("tinychat", chat, chat.room, chat.type, lambda: chat.messages, core, chat.click,
                         pings=pings, buttons=lambda message: message["buttons"], group="papers")

    outcomes = asyncio.run(check_conformance(open_driver))
    print("OUTCOMES", json.dumps(outcomes))
'''


def _write_plugin(site: Path) -> None:
    (site / "tinychat").mkdir(parents=True)
    (site / "tinychat" / "__init__.py").write_text(PLUGIN)
    info = site / "tinychat-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinychat\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[paperboy.platforms]\ntinychat = tinychat:platform\n")


def test_a_plugin_outside_the_source_tree_passes_the_conformance_suite(tmp_path):
    site, project = tmp_path / "site", tmp_path / "tinychat-tests"
    _write_plugin(site)
    project.mkdir()
    (project / "test_tinychat.py").write_text(textwrap.dedent(PLUGIN_TEST))
    before = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    env = {**os.environ, "PYTHONPATH": str(site), "HOME": str(tmp_path)}
    env.pop("PAPERBOY_DATABASE", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--rootdir", str(project), str(project / "test_tinychat.py")],
        cwd=project, env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    outcomes = next(line for line in run.stdout.splitlines() if line.startswith("OUTCOMES"))
    assert '"a_save_click_lands_on_the_clickers_reading_list_and_a_vote_is_counted": "passed"' in outcomes
    assert '"the_one_mention_wakes_only_its_group": "passed"' in outcomes
    assert '"a_thread_opens_on_its_post_and_is_found_again": "skipped: tinychat has no threads"' in outcomes
    # Installed only in that interpreter: this one, and the checkout, never saw it.
    from bot.ports.platforms import named

    assert named("tinychat") is None
    assert subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout == before
