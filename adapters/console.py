"""The console: one channel, ``console``, driven by lines on standard input."""

from __future__ import annotations

import asyncio
import getpass
import re
import sys
import textwrap
import threading
from typing import Callable, TextIO

from bot.channels import Caller, ChannelRef, parse_command
from bot.delivery import CommandEngine, DeliveryResult, DeliveryStatus
from bot.replies import Content, Error, PaperCard, Post, Reply, Text

CONSOLE_CHANNEL = ChannelRef(platform="console", workspace="local", channel="console")

# Paper text could carry terminal escape sequences; a title must not repaint the screen.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_WIDTH = 100


class ConsoleAdapter:
    """A terminal as a chat channel: type commands, read replies and posts."""

    platform = "console"
    limits = ()  # a terminal takes whatever we print

    def __init__(
        self,
        engine: CommandEngine,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        user: str | None = None,
        prompt: bool | None = None,
    ) -> None:
        self.engine = engine
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.caller = Caller(id="console", name=user or _user(), can_manage=True)
        self.prompt = self.stdin.isatty() if prompt is None else prompt

    async def start(self) -> None:
        """Nothing to connect: the terminal is always there."""

    async def stop(self) -> None:
        """Nothing to release."""

    async def send(self, channel: ChannelRef, post: Post) -> DeliveryResult:
        """Print a post from the poller."""
        self._print(render(post.content))
        return DeliveryResult(DeliveryStatus.SENT, message_ref=post.tag)

    async def find_post(self, channel: ChannelRef, post: Post) -> str | None:
        """A terminal keeps no history to search: an ambiguous post is printed again."""
        return None

    async def edit(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        """Print the changed post again, marked as an update."""
        self._print("(updated) " + render(post.content))
        return DeliveryResult(DeliveryStatus.SENT, message_ref=message_ref)

    async def notify(self, channel: ChannelRef, user_id: str | None, text: str) -> DeliveryResult:
        self._print(f"Notice: {_clean(text)}")
        return DeliveryResult(DeliveryStatus.SENT)

    async def handle_line(self, line: str) -> str | None:
        """Run one typed line and return the printed answer (None for a blank line)."""
        if not line.strip():
            return None
        command = parse_command(line, caller=self.caller, channel=CONSOLE_CHANNEL)
        return render_reply(await self.engine.handle(command))

    async def run(self, *, on_eof: Callable[[], None] | None = None) -> None:
        """Read commands until end of input."""
        lines = self._read_lines()
        while True:
            if self.prompt:
                self.stdout.write("papers> ")
                self.stdout.flush()
            line = await lines.get()
            if line is None:
                break
            if line.strip().lower() in ("quit", "exit"):
                break
            answer = await self.handle_line(line)
            if answer:
                self._print(answer)
        if on_eof:
            on_eof()

    def _read_lines(self) -> asyncio.Queue[str | None]:
        """Read standard input on a daemon thread, so a pending read never blocks exit."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def put(item: str | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop has closed: nobody is listening any more
                pass

        def read() -> None:
            for line in iter(self.stdin.readline, ""):
                put(line)
            put(None)

        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        return queue

    def _print(self, text: str) -> None:
        self.stdout.write(text.rstrip() + "\n\n")
        self.stdout.flush()


def render_reply(reply: Reply) -> str:
    """Render a reply as plain text; private replies are marked as such."""
    text = render(reply.content)
    return f"(only you can see this)\n{text}" if reply.private and not isinstance(reply.content, Error) else text


def render(content: Content) -> str:
    """Render any reply content as readable plain text."""
    if isinstance(content, Error):
        return f"Error: {_clean(content.message)}"
    if isinstance(content, Text):
        body = _clean(content.body)
        return f"{_clean(content.title)}\n{body}" if content.title else body
    if isinstance(content, PaperCard):
        return _card(content)
    lines = [_clean(content.title)]
    if content.note:
        lines.append(f"({_clean(content.note)})")
    if not content.cards:
        lines.append(_clean(content.empty))
    for number, card in enumerate(content.cards, 1):
        lines.append(textwrap.indent(_card(card, number=number, full=False), "  ").lstrip())
    return "\n".join(lines)


def _card(card: PaperCard, *, number: int | None = None, full: bool = True) -> str:
    paper = card.paper
    head = f"{number}. " if number else ""
    lines = [f"{head}{_clean(paper.title)}  [{paper.id}]"]
    if paper.authors:
        shown = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        lines.append(f"   {_clean(shown)}")
    figures = [_count(paper.upvotes, "upvote"), _count(paper.comments, "comment"),
               _count(paper.github_stars, "star")]
    if any(figures):
        lines.append("   " + " · ".join(f for f in figures if f))
    if card.why:
        lines.append(f"   matched: {_clean(card.why)}")
    if card.note:
        lines.append(f"   ({_clean(card.note)})")
    summary = _clean(paper.summary)
    if summary:
        limit = 1200 if full else 240
        short = summary if len(summary) <= limit else summary[: limit - 1].rsplit(" ", 1)[0] + "…"
        lines.append(textwrap.fill(short, _WIDTH, initial_indent="   ", subsequent_indent="   "))
    lines.append("   " + " | ".join(url for _, url in (paper.links() if full else paper.links()[:1])))
    return "\n".join(lines)


def _count(number: int | None, noun: str) -> str | None:
    if number is None:
        return None
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _clean(text: str) -> str:
    return _CONTROL.sub("", text)  # keeps newlines and tabs, drops escapes and other controls


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "console"
