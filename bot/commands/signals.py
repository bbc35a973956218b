"""👎 and `forget me`: a channel's "not for us", and a person taking back everything they signalled.

A 👎 belongs to (channel, paper, person), like a 👍, and is never shown as a count: it only
teaches the channel's interest model (`bot.ranking.channel_interest`). `forget me` removes the caller's
👍, 👎 and saves in this workspace or server; the models are caches, dropped so that none keeps
what was removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Protocol

from bot.commands.answers import UsageError
from bot.ranking.channel_interest import Interest
from bot.model.channels import Command
from bot.model.ids import normalize_paper_id
from bot.sources.lookups import Lookups
from bot.commands.reading_list import reader
from bot.model.replies import Reply, Text
from bot.ports.store import ChannelStore, CommunityStore, PaperStore

CONFIRM = "me confirm"


class SignalsStore(ChannelStore, CommunityStore, PaperStore, Protocol):
    """What 👎 and `forget` use: the channel, the paper, and the person's signals."""


class SignalCommands:
    """`downvote` (and the 👎 button) and `forget me`."""

    def __init__(self, *, store: SignalsStore, clock: Callable[[], datetime], lookups: Lookups, interest: Interest) -> None:
        self.store = store
        self.clock = clock
        self.lookups = lookups
        """Fetches a paper as `show` does and caches it: a 👎 teaches only about papers the cache has."""
        self.interest = interest

    async def downvote(self, command: Command, *, clicked: bool = False) -> Reply:
        """Toggle the caller's 👎 on a paper in this channel; *clicked*: it came from the button."""
        if not command.args.strip():
            raise UsageError("Give an arXiv id or a paper URL.")
        paper_id = normalize_paper_id(command.args)
        if await self.store.get_paper(paper_id) is None:
            paper, note, cached = await self.lookups.look_up(paper_id)
            if paper is None and cached is None:
                raise UsageError(note or f"No paper {paper_id}.")
        channel = await self.store.ensure_channel(command.channel)
        again = "click again" if clicked else f"type 'downvote {paper_id}' again"
        if await self.store.toggle_downvote(channel.id, paper_id, command.caller.id, at=self.clock()):
            return Reply(Text(f"Noted: fewer papers like this here; {again} to take it back."))
        return Reply(Text(f"Took back your 👎 on {paper_id}: it no longer counts against papers like it here."))

    async def forget(self, command: Command) -> Reply:
        """``forget me`` says what would go; ``forget me confirm`` removes it."""
        words = " ".join(command.args.lower().split())
        if words not in ("me", CONFIRM):
            raise UsageError("Type 'forget me' to see what it removes, then 'forget me confirm'.")
        if words == "me":
            return Reply(Text("This removes all your 👍, 👎 and saves (your reading list) in this workspace or "
                              "server, for good. Type 'forget me confirm' to do it."))
        votes, downvotes, saves = await self.store.forget_reader(reader(command))
        # Models are caches of the signals: drop them all, so none holds what was just removed.
        self.interest.cache.clear()
        total = votes + downvotes + saves
        if not total:
            return Reply(Text("Nothing to remove: you have no 👍, 👎 or saves here."))
        return Reply(Text(f"Removed {total} signal{'s' if total != 1 else ''}: {votes} 👍, {downvotes} 👎 and "
                          f"{saves} save{'s' if saves != 1 else ''}. What Paperboy learned from them is gone too."))
