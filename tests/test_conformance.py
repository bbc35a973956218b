"""One conformance suite for every adapter: console, memory, Discord and Slack against their fakes, Matrix on Synapse.

The checks live in the testing kit (`paperboy_testing.conformance`), so a platform plugin runs the
same ones. Each driver here starts its adapter on the real core and reads back what its platform
holds (the fake servers' own records, the console's printed text); every check then runs on every
driver: commands answered through the platform's own path, posts that arrive and are found again,
edits, text that pings nobody, and buttons, threads and the one mention only where declared.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from typing import Any, AsyncIterator

import discord
import pytest
from pydantic import SecretStr

from adapters.console import CONSOLE_CHANNEL, ConsoleAdapter
from adapters.discord import DiscordAdapter
from adapters.slack import SlackAdapter
from bot.runtime.app import open_core
from bot.model.channels import ChannelRef
from bot.commands.registry import COMMANDS
from paperboy_testing.conformance import CHECKS, Check, Driver, NotApplicable, memory_driver
from tests.fakes.discord_server import GUILD_READY_TIMEOUT, FakeDiscord, pings as discord_pings
from tests.fakes.slack_server import FakeSlack, block_actions_body
from tests.test_slack_adapter import SECRET, all_text, post_signed, run_command


# -- drivers ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def console_driver(core) -> AsyncIterator[Driver]:
    out = io.StringIO()
    adapter = ConsoleAdapter(core.engine, stdin=io.StringIO(), stdout=out, user="ada", prompt=False)
    core.platforms.add(adapter)

    async def command(text: str) -> str:
        return await adapter.handle_line(text) or ""

    def shown() -> list[dict[str, Any]]:
        return [{"text": out.getvalue()}] if out.getvalue() else []

    async def click(ref: str, action: str) -> str:  # no buttons: the same act is typed
        _, kind, paper_id = action.split(":")
        return await command(f"{kind} {paper_id}")

    yield Driver("console", adapter, CONSOLE_CHANNEL, command, shown, core, click, keeps_history=False)


def _slack_pings(message: dict[str, Any]) -> set[str]:
    """Slack notifies for ``<!…>`` and ``<@…>`` sequences in a message's text and blocks (escaped ones are text)."""
    raw = (message.get("text") or "") + json.dumps(message.get("blocks") or [])
    woken = set()
    for found in re.findall(r"<(!subteam\^[A-Z0-9]+|![a-z]+|@[A-Z0-9]+)[|>]", raw):
        woken.add(f"group:{found.split('^')[1]}" if found.startswith("!subteam") else found)
    return woken


@contextlib.asynccontextmanager
async def slack_driver(core) -> AsyncIterator[Driver]:
    async with FakeSlack(channel_limit=None, workspace_limit=None) as fake:
        settings = core.settings.model_copy(update={
            "slack_bot_token": SecretStr("xoxb-test"), "slack_signing_secret": SecretStr(SECRET),
            "slack_api_url": fake.api_url})
        adapter = SlackAdapter(settings, core.engine, host="127.0.0.1", port=0)
        core.platforms.add(adapter)
        await adapter.start()
        try:
            async def command(text: str) -> str:
                return all_text(await run_command(adapter, fake, text))

            def shown() -> list[dict[str, Any]]:
                return [{**m, "text": (m.get("text") or "") + json.dumps(m.get("blocks") or [])}
                        for m in fake.messages_in("C1")]

            def buttons(message: dict[str, Any]) -> list[str]:
                return [e["action_id"] for b in message.get("blocks") or [] if b["type"] == "actions"
                        for e in b["elements"] if e.get("action_id", "").startswith("paperboy:")]

            async def click(ref: str, action: str) -> str:
                count = len(fake.responses) + 1
                body = block_actions_body(action, response_url=fake.response_url(f"click{count}"),
                                          value=action.rsplit(":", 1)[1], message_ts=ref.split("/")[1])
                assert (await post_signed(adapter, body))[0] == 200
                return all_text(await fake.wait_for_response(count=count))

            yield Driver("slack", adapter, ChannelRef("slack", "T1", "C1"), command, shown, core, click,
                         pings=_slack_pings, buttons=buttons, group="S0ML1", extra={"fake": fake})
        finally:
            await adapter.stop()


@contextlib.asynccontextmanager
async def discord_driver(core) -> AsyncIterator[Driver]:
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        settings = core.settings.model_copy(update={
            "discord_token": SecretStr(fake.token), "discord_api_url": fake.api_url,
            "discord_gateway_url": fake.gateway_url, "discord_guild_ready_timeout": GUILD_READY_TIMEOUT})
        adapter = DiscordAdapter(settings, core.engine)
        core.platforms.add(adapter)
        await adapter.start()
        try:
            async def command(text: str) -> str:
                name, _, rest = text.partition(" ")
                # Discord types the rest as the command's first option (the registry names it).
                spec = COMMANDS[name]
                options = {spec.args[0].name: rest} if rest else None
                # A command of a family is one level down (``/papers reading saved``).
                interaction = await fake.run_command(f"{spec.family} {name}" if spec.family else name, options)
                await FakeDiscord.wait_for(lambda: interaction.done)
                return json.dumps(interaction.messages(), ensure_ascii=False)

            def shown() -> list[dict[str, Any]]:
                # The messages as Discord holds them, with the allowed mentions each was sent with.
                held, sent = fake.messages.get(fake.channel_id, []), fake.channel_messages.get(fake.channel_id, [])
                return [{**m, "allowed_mentions": body.get("allowed_mentions"), "text": json.dumps(m, ensure_ascii=False)}
                        for m, body in zip(held, sent)]

            def pings(message: dict[str, Any]) -> set[str]:
                return {f"group:{w[5:]}" if w.startswith("role:") else w for w in discord_pings(message)}

            def buttons(message: dict[str, Any]) -> list[str]:
                return [c["custom_id"] for row in message.get("components") or [] for c in row["components"]
                        if c.get("custom_id", "").startswith("paperboy:")]

            async def click(ref: str, action: str) -> str:
                interaction = await fake.click(ref, action)
                await FakeDiscord.wait_for(lambda: interaction.done)
                return json.dumps(interaction.messages(), ensure_ascii=False)

            yield Driver("discord", adapter, ChannelRef("discord", fake.guild_id, fake.channel_id), command, shown,
                         core, click, pings=pings, buttons=buttons, group=fake.roles[0].id, extra={"fake": fake})
        finally:
            await adapter.stop()
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


DRIVERS = {"console": console_driver, "memory": memory_driver, "discord": discord_driver, "slack": slack_driver,
           "matrix": None}  # a real Synapse, started (once per session) only when a Matrix test runs


@pytest.fixture(params=list(DRIVERS))
async def driver(request, settings) -> AsyncIterator[Driver]:
    make = DRIVERS[request.param]
    if make is None:
        from tests.matrix_people import matrix_driver
        make = contextlib.asynccontextmanager(
            lambda core: matrix_driver(core, request.getfixturevalue("synapse_server")))
    async with open_core(settings) as core, make(core) as made:
        yield made


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
async def test_the_adapter_conforms(driver: Driver, check: Check) -> None:
    try:
        await check(driver)
    except NotApplicable as why:
        pytest.skip(str(why))
