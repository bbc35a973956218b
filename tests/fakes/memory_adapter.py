"""An in-memory adapter (errbot's test backend, in small): push commands, pop what was said."""

from __future__ import annotations

from collections import deque

from bot.channels import Caller, ChannelRef, parse_command
from bot.delivery import CommandEngine, DeliveryResult, DeliveryStatus
from bot.replies import Post, Reply


class MemoryAdapter:
    """A platform that lives in lists: every post is kept, results can be scripted."""

    def __init__(self, engine: CommandEngine | None = None, *, platform: str = "memory") -> None:
        self.platform = platform
        self.engine = engine
        self.posts: list[tuple[ChannelRef, Post]] = []
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
            result = DeliveryResult(DeliveryStatus.SENT, message_ref=f"m{len(self.posts)}")
        return result

    async def push(self, text: str, *, channel: str = "general", can_manage: bool = True) -> Reply:
        """Run *text* as a command in *channel* and return the engine's reply."""
        assert self.engine is not None
        caller = Caller(id="U1", name="ada", can_manage=can_manage)
        return await self.engine.handle(parse_command(text, caller=caller, channel=self.channel(channel)))

    def pop_posts(self) -> list[tuple[ChannelRef, Post]]:
        posts, self.posts = self.posts, []
        return posts
