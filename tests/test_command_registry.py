"""Every command names exactly one handler, and every handler answers some command.

`Engine.handlers` is the one table from a command's name to its code: a command missing from
it, a name it has that the registry lacks, two commands sharing one handler, or a handler method
no command reaches (a command added to a collaborator but never wired) fail here.
"""

from __future__ import annotations

import inspect

import pytest

from bot.commands.registry import COMMANDS


def _answers_a_command(method) -> bool:
    """A coroutine method whose one required argument is a `Command`: a command's handler by its shape."""
    if not inspect.iscoroutinefunction(method):
        return False
    required = [p for p in inspect.signature(method).parameters.values()
                if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD]
    return len(required) == 1 and required[0].annotation in ("Command", "'Command'")


async def test_every_command_has_exactly_one_handler(core):
    handlers = core.engine.handlers
    assert set(handlers) == set(COMMANDS), "one handler per command, no handler for a command that does not exist"
    functions = [h.__func__ for h in handlers.values()]
    assert len(set(functions)) == len(functions), "two commands share one handler"
    assert all(_answers_a_command(h) for h in handlers.values())


async def test_no_handler_is_unreachable(core):
    engine = core.engine
    owners = {id(h.__self__): h.__self__ for h in engine.handlers.values()}
    wired = {(id(h.__self__), h.__func__) for h in engine.handlers.values()}
    unreached = [f"{type(owner).__name__}.{name}"
                 for key, owner in owners.items()
                 for name, method in inspect.getmembers(owner, inspect.ismethod)
                 if not name.startswith("_") and _answers_a_command(method)
                 and (key, method.__func__) not in wired and (owner, name) != (engine, "handle")]
    assert unreached == []


async def test_a_command_runs_the_handler_its_table_names(core):
    # Swapping one entry reroutes exactly that command: the table, not a name search, decides.
    from adapters.memory import MemoryAdapter
    from bot.model.replies import Reply, Text

    async def stand_in(command):
        return Reply(Text(f"stand-in for {command.name} {command.args}"))

    core.engine.handlers["topics"] = stand_in
    chat = MemoryAdapter(core.engine)
    assert (await chat.push("topics now")).content.body == "stand-in for topics now"
    assert "stand-in" not in str((await chat.push("help")).content)


async def test_a_command_registered_without_a_handler_stops_the_engine_at_once(core, monkeypatch):
    from bot.commands.registry import CommandSpec
    from bot.commands.engine import Engine

    monkeypatch.setitem(COMMANDS, "ponder", CommandSpec("ponder", "ponder", "think it over"))
    with pytest.raises(TypeError, match=r"ponder \(add each to Engine._handlers\)"):
        Engine(store=core.store, lookups=core.engine.lookups)
