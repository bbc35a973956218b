"""The console adapter: one channel, ``console``, driven by lines on standard input."""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import logging
import sys
import textwrap
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, TextIO

from adapters.console.render import fill_lines, render, terminal_width
from bot.model.channels import Caller, ChannelRef, parse_command
from bot.ports.adapter import CommandEngine, DeliveryResult, DeliveryStatus
from bot.model.replies import Content, Post

CONSOLE_CHANNEL = ChannelRef(platform="console", workspace="local", channel="console")

PROMPT = "papers> "
HISTORY_FILE = "~/.paperboy_history"
HISTORY_LENGTH = 1000
REMEMBERED_POSTS = 500  # posts whose printed text the console keeps, to print only what an edit changes

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
        width: int | None = None,
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
        self.width = width
        self._printed: OrderedDict[str, list[str]] = OrderedDict()
        """The recent posts as printed (one line per logical line), by message ref: an edit prints what changed."""
        self._next_prompt = threading.Event()
        self._at_prompt = False
        self._terminal_mode: list[Any] | None = None

    async def start(self) -> None:
        """Print the greeting, if any. Nothing to connect: the terminal is always there."""
        if self.greeting:
            self.say(self.greeting)

    async def stop(self) -> None:
        """Nothing to release."""

    async def send(self, channel: ChannelRef, post: Post) -> DeliveryResult:
        """Print a post from the poller."""
        self._remember(post.tag, post.content)
        self._print(render(post.content, width=self.width))
        return DeliveryResult(DeliveryStatus.SENT, message_ref=post.tag)

    async def find_post(self, channel: ChannelRef, post: Post) -> str | None:
        """A terminal keeps no history to search: an ambiguous post is printed again."""
        return None

    async def edit(self, channel: ChannelRef, message_ref: str, post: Post) -> DeliveryResult:
        """Say in one line what changed in a post printed earlier, instead of printing it all again.

        Nothing is printed when nothing the console shows changed: a 👍 count, which needs buttons to show.
        """
        before = self._printed.get(message_ref)
        now = self._remember(message_ref, post.content)
        if now != before:
            changed = [line for line in now[1:] if before is not None and line not in before]
            note = "Updated: " + (f"{' · '.join(changed)} — " if changed else "") + now[0]  # what changed first
            self._print(textwrap.shorten(note, self.width or terminal_width(), placeholder=" …"))
        return DeliveryResult(DeliveryStatus.SENT, message_ref=message_ref)

    def _remember(self, message_ref: str, content: Content) -> list[str]:
        lines = [line.strip() for line in render(content, width=sys.maxsize).splitlines() if line.strip()]
        self._printed[message_ref] = lines
        self._printed.move_to_end(message_ref)
        if len(self._printed) > REMEMBERED_POSTS:
            self._printed.popitem(last=False)
        return lines

    async def notify(self, channel: ChannelRef, user_id: str | None, text: str) -> DeliveryResult:
        self.say(f"Notice: {text}")
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
        reply = await self.engine.handle(dataclasses.replace(command, direct=True))
        return render(reply.content, width=self.width)  # private or not: the console has one reader

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
            self._at_prompt = False  # for good: what is printed while stopping needs no prompt redrawn
        _restore_terminal(self.stdin, self._terminal_mode)
        _save_history()

    def say(self, text: str) -> None:
        """Print Paperboy's own words (not an answer): the greeting, a notice, what stopping waits for."""
        self._print(fill_lines(text, self.width or terminal_width()))

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


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "console"
