"""The console: one channel, ``console``, driven by lines on standard input."""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import logging
import re
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Callable, TextIO

from bot.channels import Caller, ChannelRef, parse_command
from bot.delivery import CommandEngine, DeliveryResult, DeliveryStatus
from bot.paper import FULL_CARD_AUTHORS, Paper
from bot.replies import Content, Error, File, PaperCard, Post, Reply, Text

CONSOLE_CHANNEL = ChannelRef(platform="console", workspace="local", channel="console")

# Paper text could carry terminal escape sequences; a title must not repaint the screen.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_WIDTH = 100
PROMPT = "papers> "
HISTORY_FILE = "~/.paperboy_history"
HISTORY_LENGTH = 1000

log = logging.getLogger(__name__)


class ConsoleAdapter:
    """A terminal as a chat channel: type commands, read replies and posts."""

    platform = "console"
    limits = ()  # a terminal takes whatever we print
    capabilities: frozenset[str] = frozenset()  # no buttons (type save/vote), no threads, files printed

    def __init__(
        self,
        engine: CommandEngine,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        user: str | None = None,
        prompt: bool | None = None,
        greeting: str | None = None,
    ) -> None:
        self.engine = engine
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.caller = Caller(id="console", name=user or _user(), can_manage=True)
        self.prompt = self.stdin.isatty() if prompt is None else prompt
        self.greeting = greeting
        # input() edits lines with readline only on the process's own terminal.
        self.interactive = (self.prompt and self.stdin is sys.stdin and self.stdout is sys.stdout
                            and self.stdin.isatty())
        self._next_prompt = threading.Event()
        self._at_prompt = False
        self._terminal_mode: list[Any] | None = None

    async def start(self) -> None:
        """Print the greeting, if any. Nothing to connect: the terminal is always there."""
        if self.greeting:
            self._print(self.greeting)

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

    async def open_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        """A terminal has no threads (the core never asks: `capabilities` has none)."""
        return DeliveryResult(DeliveryStatus.PERMANENT, reason="the console has no threads")

    async def find_thread(self, channel: ChannelRef, message_ref: str, post: Post) -> str | None:
        return None

    async def handle_line(self, line: str) -> str | None:
        """Run one typed line and return the printed answer (None for a blank line)."""
        if not line.strip():
            return None
        command = parse_command(line, caller=self.caller, channel=CONSOLE_CHANNEL)
        # The console is one person's own place, like a direct message: `recommend` learns from their signals.
        return render_reply(await self.engine.handle(dataclasses.replace(command, direct=True)))

    async def run(self, *, on_eof: Callable[[], None] | None = None) -> None:
        """Read commands until end of input or `quit`; each answer is printed before the next prompt.

        Cancelled (Paperboy was asked to stop), it ends the prompt's line and gives the terminal back.
        """
        lines = self._read_terminal() if self.interactive else self._read_lines()
        try:
            while True:
                if self.prompt and not self.interactive:
                    self.stdout.write(PROMPT)
                    self.stdout.flush()
                line = await lines.get()
                if line is None or line.strip().lower() in ("quit", "exit"):
                    break
                answer = await self.handle_line(line)
                if answer:
                    self._print(answer)
                self._next_prompt.set()
        finally:
            self._leave_terminal()
        if on_eof:
            on_eof()

    def _read_lines(self) -> asyncio.Queue[str | None]:
        """Read standard input on a daemon thread, so a pending read never blocks exit."""
        queue, put = _thread_queue()

        def read() -> None:
            for line in iter(self.stdin.readline, ""):
                put(line)
            put(None)

        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        return queue

    def _read_terminal(self) -> asyncio.Queue[str | None]:
        """Read the terminal with line editing and history, prompting again only once an answer is printed."""
        queue, put = _thread_queue()
        _load_history()
        self._terminal_mode = _terminal_mode(self.stdin)
        self._next_prompt.set()

        def read() -> None:
            while True:
                self._next_prompt.wait()
                self._next_prompt.clear()
                self._at_prompt = True
                try:
                    line = input(PROMPT)  # readline: arrow keys, history (blocks this thread only)
                except EOFError:  # Ctrl-D: end the prompt's line, as a shell does
                    self._at_prompt = False
                    self.stdout.write("\n")
                    self.stdout.flush()
                    break
                except Exception:
                    self._at_prompt = False
                    log.warning("cannot read the terminal any more", exc_info=True)
                    break
                self._at_prompt = False
                put(line)
            put(None)

        threading.Thread(target=read, name="console-terminal", daemon=True).start()
        return queue

    def _leave_terminal(self) -> None:
        if not self.interactive:
            return
        if self._at_prompt:  # stopped (Ctrl-C, SIGTERM) while the prompt waits: end its line
            self.stdout.write("\n")
            self.stdout.flush()
        _restore_terminal(self.stdin, self._terminal_mode)
        _save_history()

    def _print(self, text: str) -> None:
        if self._at_prompt:
            # A post arrived while the prompt waits: print it above, then redraw the prompt and the typing.
            self.stdout.write(f"\r\x1b[K{text.rstrip()}\n\n{PROMPT}{_typed_so_far()}")
        else:
            self.stdout.write(text.rstrip() + "\n\n")
        self.stdout.flush()


def _thread_queue() -> tuple[asyncio.Queue[str | None], Callable[[str | None], None]]:
    """Return a queue of the running loop, and a function that puts into it from another thread."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(item: str | None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            pass

    return queue, put


# Line editing and history are comforts: without readline or a history file the console still works.

def _load_history() -> None:
    try:
        import readline  # importing it is what gives input() line editing
    except ImportError:
        return
    readline.set_history_length(HISTORY_LENGTH)
    try:
        readline.read_history_file(Path(HISTORY_FILE).expanduser())
    except OSError:  # none yet, or unreadable
        pass


def _save_history() -> None:
    readline = sys.modules.get("readline")
    if readline is None:
        return
    try:
        readline.write_history_file(Path(HISTORY_FILE).expanduser())
    except OSError as error:
        log.debug("cannot save the console history: %s", error)


def _typed_so_far() -> str:
    readline = sys.modules.get("readline")
    return readline.get_line_buffer() if readline else ""


def _terminal_mode(stream: TextIO) -> list[Any] | None:
    """Return the terminal's settings, to put back however Paperboy stops (readline changes them)."""
    try:
        import termios

        return termios.tcgetattr(stream.fileno())
    except Exception:  # no termios (Windows), or not a terminal after all
        return None


def _restore_terminal(stream: TextIO, mode: list[Any] | None) -> None:
    if mode is None:
        return
    try:
        import termios

        termios.tcsetattr(stream.fileno(), termios.TCSADRAIN, mode)
    except Exception:
        log.debug("cannot restore the terminal's settings", exc_info=True)


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
    if isinstance(content, File):
        # The file's text as it is, to copy or redirect (escape sequences still dropped).
        return f"{_clean(content.note)} ({_clean(content.name)}):\n\n{_clean(content.content).rstrip()}"
    lines = [_clean(content.title)]
    if content.note:
        lines.append(f"({_clean(content.note)})")
    if not content.cards:
        lines.append(_clean(content.empty))
    for number, card in enumerate(content.cards, content.start):
        lines.append(textwrap.indent(_card(card, number=number, full=False), "  ").lstrip())
    return "\n".join(lines)


def _card(card: PaperCard, *, number: int | None = None, full: bool = True) -> str:
    paper = card.paper
    detail = card.detail and full
    head = f"{number}. " if number else ""
    lines = [f"{head}{_clean(paper.title)}  [{paper.id}]"]
    if paper.authors:
        shown = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        lines.append(_paragraph(paper.byline(FULL_CARD_AUTHORS)) if detail else f"   {_clean(shown)}")
    figures = [_count(paper.upvotes, "upvote"), _count(paper.comments, "comment"),
               _count(paper.github_stars, "star")]
    if any(figures):
        lines.append("   " + " · ".join(f for f in figures if f))
    if detail and (dates := _dates(paper)):
        lines.append("   " + dates)
    if card.why:
        lines.append(f"   matched: {_clean(card.why)}")
    if card.note:
        lines.append(f"   ({_clean(card.note)})")
    if detail:
        lines += _full_text(paper)
    elif paper.summary:
        limit = 1200 if full else 240
        summary = _clean(paper.summary)
        lines.append(_paragraph(summary if len(summary) <= limit else summary[: limit - 1].rsplit(" ", 1)[0] + "…"))
    lines.append("   " + " | ".join(url for _, url in (paper.links() if full else paper.links()[:1])))
    return "\n".join(lines)


def _full_text(paper: Paper) -> list[str]:
    """What only a full card shows: the whole abstract, the AI summary apart, and the linked Hub repos."""
    lines: list[str] = []
    for label, text in (("Abstract", paper.abstract), ("AI summary", paper.ai_summary)):
        if text:
            lines += [f"   {label}:", _paragraph(text)]
    for group in paper.linked_repos():
        lines.append(f"   {group.label}:")
        # The URL is the link in a terminal; it names the repo, so the id need not be repeated.
        lines += [f"     {_clean(url)}" for _, url in group.links]
        if more := group.more_text():
            lines.append(f"     {more}")
    return lines


def _dates(paper: Paper) -> str:
    dates = []
    if paper.published_at:
        dates.append(f"published {paper.published_at.date().isoformat()}")
    if paper.daily_date:
        dates.append(f"on Daily Papers {paper.daily_date.isoformat()}")
    return " · ".join(dates)


def _paragraph(text: str) -> str:
    return textwrap.fill(_clean(text), _WIDTH, initial_indent="   ", subsequent_indent="   ")


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
