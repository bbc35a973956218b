"""An in-memory adapter (errbot's test backend, in small): push commands, pop what was said.

Tests drive the whole bot through it, and `paperboy poll --dry-run` records into it what a
real poll would send.
"""

from __future__ import annotations

import dataclasses
from collections import deque

from bot.model.channels import Caller, ChannelRef, Group, parse_command
from bot.model.actions import Action
from bot.ports.adapter import BUTTONS, FILES, THREADS, CommandEngine, DeliveryResult, DeliveryStatus, RateLimit
from bot.model.replies import Post, Reply


class MemoryAdapter:
    """A platform that lives in lists: every post is kept, results can be scripted."""

    def __init__(self, engine: CommandEngine | None = None, *, platform: str = "memory",
                 limits: tuple[RateLimit, ...] = (),
                 capabilities: frozenset[str] = frozenset({BUTTONS, THREADS, FILES})) -> None:
        self.platform = platform
        self.limits = limits
        self.capabilities = capabilities
        self.threads: list[tuple[ChannelRef, str, Post]] = []
        """Every thread opened: (channel, the post it is on, the thread's first word)."""
        self.edits: list[tuple[ChannelRef, str, Post]] = []
        self.notices: list[tuple[ChannelRef, str | None, str]] = []
        self.engine = engine
        self.posts: list[tuple[ChannelRef, Post]] = []
        self.history: list[tuple[ChannelRef, Post]] = []
        """Every post ever accepted, which `pop_posts` does not clear: the platform's own record."""
        self.results: deque[DeliveryResult] = deque()
        self.attempts = 0

    def channel(self, name: str = "general") -> ChannelRef:
        return ChannelRef(self.platform, "team", name)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, channel: ChannelRef, post: Post) -> DeliveryResult:
        self.attempts += 1
        result = self.results.popleft() if self.results else DeliveryResult(DeliveryStatus.SENT)
        if result.status is DeliveryStatus.SENT:
            self.posts.append((channel, post))
            self.history.append((channel, post))
            result = DeliveryResult(DeliveryStatus.SENT, message_ref=f"m{len(self.history)}")
        return result

    async def find_post(self, channel: ChannelRef, post: Post) -> str | None:
        for number, (ref, sent) in enumerate(self.history, 1):
            if ref == channel and sent.tag == post.tag:
                return f"m{number}"
        return None

    async def edit(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        self.edits.append((channel, message_ref, post))
        return DeliveryResult(DeliveryStatus.SENT, message_ref=message_ref)

    async def notify(self, channel: ChannelRef, user_id: str | None, text: str) -> DeliveryResult:
        self.notices.append((channel, user_id, text))
        return DeliveryResult(DeliveryStatus.SENT)

    async def open_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        self.attempts += 1
        result = self.results.popleft() if self.results else DeliveryResult(DeliveryStatus.SENT)
        if result.status is DeliveryStatus.SENT:
            self.threads.append((channel, message_ref, post))
            result = DeliveryResult(DeliveryStatus.SENT, message_ref=f"t{len(self.threads)}")
        return result

    async def find_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> str | None:
        for number, (ref, parent, opened) in enumerate(self.threads, 1):
            if (ref, parent, opened.tag) == (channel, message_ref, post.tag):
                return f"t{number}"
        return None

    async def click(self, kind: str, paper_id: str, *, message_ref: str | None, channel: str = "general",
                    user: str = "U1") -> Reply:
        """Click *kind* (save, vote, downvote) on *paper_id* under the post *message_ref*, as *user*."""
        assert self.engine is not None
        action = Action(kind, paper_id, Caller(id=user, name=user), self.channel(channel), message_ref)
        return await self.engine.act(action)

    async def push(self, text: str, *, channel: str = "general", can_manage: bool = True,
                   user: str = "U1", groups: tuple[Group, ...] = (), direct: bool = False) -> Reply:
        """Run *text* as a command in *channel*, from *user* (who picked *groups*), and return the reply.

        *direct*: *channel* is the direct message between *user* and Paperboy.
        """
        assert self.engine is not None
        caller = Caller(id=user, name="ada" if user == "U1" else user, can_manage=can_manage)
        command = parse_command(text, caller=caller, channel=self.channel(channel))
        return await self.engine.handle(dataclasses.replace(command, groups=groups, direct=direct))

    def pop_posts(self) -> list[tuple[ChannelRef, Post]]:
        posts, self.posts = self.posts, []
        return posts
