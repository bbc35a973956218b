"""Who sees a reply is decided once, in the core: the engine marks `Reply.private`, adapters carry it out.

The engine makes errors, private commands and clicks private; the Slack adapter, given a stub
engine whose decisions differ from the registry's, follows the reply and not its own judgement.
"""

from __future__ import annotations

from pathlib import Path

from adapters.memory import MemoryAdapter
from adapters.slack import SlackAdapter
from bot.commands.registry import COMMANDS
from bot.model.replies import Error, Reply, Text
from tests.fakes.slack_server import FakeSlack
from tests.test_slack_adapter import hf, make_settings, run_command, slack  # noqa: F401  (fixtures)


async def test_the_engine_marks_errors_private_commands_and_clicks_private(core):
    chat = MemoryAdapter(core.engine)
    for name in ("help", "settings", "status", "saved"):
        assert COMMANDS[name].private and (await chat.push(name)).private, name
    assert not (await chat.push("topics")).private
    for text in ("frobnicate", "show not-a-paper", "threshold lots"):
        reply = await chat.push(text)
        assert isinstance(reply.content, Error) and reply.private, text
    clicked = await chat.click("save", "not-a-paper", message_ref="m1")
    assert isinstance(clicked.content, Error) and clicked.private


class Decided:
    """An engine that answers `settings` (a private command) publicly and `topics` (a public one) privately."""

    async def handle(self, command):
        return Reply(Text(f"answer to {command.name}"), private=command.name == "topics")

    async def act(self, action):
        return Reply(Text("clicked"), private=True)


async def test_slack_shows_a_reply_as_the_core_decided(tmp_path: Path, slack: FakeSlack, hf) -> None:
    adapter = SlackAdapter(make_settings(tmp_path, slack, hf), Decided(), host="127.0.0.1", port=0)
    await adapter.start()
    try:
        assert (await run_command(adapter, slack, "settings"))["response_type"] == "in_channel"
        assert (await run_command(adapter, slack, "topics"))["response_type"] == "ephemeral"
    finally:
        await adapter.stop()
