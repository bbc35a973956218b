"""Collaborators ask for what they use: each one's ``store`` is typed with narrow Protocols of `bot.ports.store`
that hold every store method it calls, and every store it hands the store to."""

from __future__ import annotations

import ast
import importlib
import inspect
import typing

import pytest

from bot.ports.store import Store

COLLABORATORS = [
    ("bot.delivery.worker", "DeliveryWorker"), ("bot.delivery.recovery", "recover"), ("bot.delivery.poller", "Poller"),
    ("bot.commands.leaderboard", "Leaderboard"), ("bot.commands.picks", "Picks"), ("bot.ranking.channel_interest", "Interest"),
    ("bot.sources.arxiv_feeds", "CategoryFeeds"), ("bot.sources.arxiv_feeds", "last_reads"), ("bot.sources.lists", "remember_list"),
    ("bot.sources.lists", "as_known"), ("bot.sources.lists", "cached_lists"), ("bot.commands.channel", "ChannelCommands"),
    ("bot.commands.preview", "Preview"), ("bot.commands.recommend", "Recommend"),
    ("bot.commands.engine", "Engine"), ("bot.commands.signals", "SignalCommands"),
    ("bot.commands.reading_list", "ReadingList"), ("bot.commands.similar", "SimilarPapers"),
    ("bot.commands.periods", "Periods"), ("bot.commands.lookup", "LookupCommands"), ("bot.sources.lookups", "Lookups"),
    ("bot.commands.history", "History"), ("bot.commands.feeds", "Feeds"),
]


def members(protocol: type) -> set[str]:
    """The methods and properties *protocol* declares, with those of the Protocols it joins."""
    return {name for cls in protocol.__mro__ if cls not in (object, typing.Protocol, typing.Generic)
            for name in vars(cls) if not name.startswith("_")}


def store_type(target) -> type:
    """The annotation of *target*'s ``store`` parameter (a class's: its ``__init__``'s)."""
    function = target.__init__ if inspect.isclass(target) else target
    return typing.get_type_hints(function)["store"]


def is_store(node: ast.AST) -> bool:
    """Whether *node* is ``store`` or ``self.store``."""
    return (isinstance(node, ast.Name) and node.id == "store") or (
        isinstance(node, ast.Attribute) and node.attr == "store" and isinstance(node.value, ast.Name)
        and node.value.id == "self")


def uses(tree: ast.AST) -> set[str]:
    """The names read on ``store`` / ``self.store`` in *tree*."""
    return {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and is_store(n.value)}


def handed_to(tree: ast.AST, module) -> list[tuple[str, type]]:
    """(callee, the store type it asks for) of each call in *tree* handing it ``store`` / ``self.store``."""
    found = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)):
        callee = getattr(module, call.func.id, None)
        if callee is None or not (inspect.isclass(callee) or inspect.isfunction(callee)):
            continue
        if any(keyword.arg == "store" and is_store(keyword.value) for keyword in call.keywords) or (
                call.args and is_store(call.args[0]) and not inspect.isclass(callee)):
            found.append((call.func.id, store_type(callee)))
    return found


def definition(module, name: str) -> ast.AST:
    tree = ast.parse(inspect.getsource(module))
    return next(n for n in tree.body if getattr(n, "name", None) == name)


@pytest.mark.parametrize(("module_name", "name"), COLLABORATORS)
def test_each_collaborator_types_its_store_with_what_it_uses(module_name, name):
    module = importlib.import_module(module_name)
    wanted = store_type(getattr(module, name))
    assert wanted is not Store, f"{name} takes the whole store"
    asked = members(wanted)
    assert asked < members(Store)
    tree = definition(module, name)
    assert uses(tree) <= asked, f"{name} calls {sorted(uses(tree) - asked)} that {wanted.__name__} lacks"
    for callee, needed in handed_to(tree, module):
        assert members(needed) <= asked, f"{name} hands its store to {callee}, which needs more"


def test_the_worker_no_longer_asks_for_installations_or_the_queueing_side():
    from bot.delivery.worker import DeliveryStore

    asked = members(DeliveryStore)
    assert {"claim_outbox_many", "get_papers", "trouble"} <= asked
    assert not asked & {"save_installation", "enqueue_posts", "enqueue_digest", "set_state"}


def test_the_found_uses_are_real_so_the_check_above_bites():
    from bot.delivery import settling, worker

    found = uses(definition(worker, "DeliveryWorker"))
    assert {"due_outbox", "trouble"} <= found
    # The worker's record-keeping half (`Settling`, mixed into it) is held to the worker's own store type.
    settles = uses(definition(settling, "Settling"))
    assert {"claim_outbox_many", "mark_outbox_sent_many", "mark_outbox_retry"} <= settles
    assert settles <= members(worker.DeliveryStore), f"{sorted(settles - members(worker.DeliveryStore))}"


async def test_the_composition_root_hands_the_engine_one_lookups_that_every_collaborator_shares(core):
    from bot.commands.engine import Engine

    assert not {"hf", "arxiv", "answer_timeout"} & set(inspect.signature(Engine).parameters)
    lookups = core.engine.lookups
    assert lookups.hf is core.hf and lookups.arxiv is core.arxiv
    assert lookups.answer_timeout == core.settings.answer_timeout
    engine = core.engine
    for collaborator in (engine.lookup_commands, engine.channels, engine.reading, engine.periods, engine.previews,
                         engine.similar_papers, engine.signals):
        assert collaborator.lookups is lookups, type(collaborator).__name__
    assert engine.previews.answer_timeout == engine.similar_papers.answer_timeout == lookups.answer_timeout
