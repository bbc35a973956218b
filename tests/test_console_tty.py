"""The console at a real terminal: `paperboy` on a pseudo-terminal, typed at like a person would.

The bot runs as a subprocess whose controlling terminal is the pseudo-terminal, so
Ctrl-C typed there reaches it as SIGINT, and readline sees a terminal. The fake
Hugging Face lives in this test process.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.test_cli import env  # noqa: F401  (a fixture)

# Make the pseudo-terminal the child's controlling terminal (as a terminal emulator does), then run Paperboy.
LAUNCHER = "import os, sys; os.login_tty(0); os.execv(sys.executable, [sys.executable, '-m', 'bot', *sys.argv[1:]])"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")
UP = "\x1b[A"
ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[=>])")
PROMPT = "papers> "


class Terminal:
    """A pseudo-terminal with Paperboy on the other side: type keys, wait for text on the screen."""

    def __init__(self, master: int, slave: int, process: asyncio.subprocess.Process) -> None:
        self.master, self.slave, self.process = master, slave, process
        self.screen = ""
        self._changed = asyncio.Event()
        os.set_blocking(master, False)
        asyncio.get_running_loop().add_reader(master, self._read)

    @classmethod
    async def spawn(cls, *args: str, env: dict[str, str], cwd: Path, columns: int = 200) -> Terminal:
        master, slave = os.openpty()
        termios.tcsetwinsize(slave, (40, columns))  # by default wide enough that readline never wraps a line
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LAUNCHER, *args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd)
        return cls(master, slave, process)

    def _read(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except (BlockingIOError, OSError):
            return
        self.screen += data.decode("utf-8", "replace")
        self._changed.set()

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    async def wait_for(self, text: str, *, after: int = 0, timeout: float = 20) -> int:
        """Wait until *text* shows after position *after*; return the position just past it."""
        async def seen() -> int:
            while (at := self.screen.find(text, after)) < 0:
                self._changed.clear()
                await self._changed.wait()
            return at + len(text)

        try:
            return await asyncio.wait_for(seen(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen}") from None

    async def exit_status(self, timeout: float = 15) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    def text(self, start: int, end: int) -> str:
        """The screen between two positions as plain lines: no escape sequences, no carriage returns."""
        return ANSI.sub("", self.screen[start:end]).replace("\r", "")

    def line_editing_left_on(self) -> bool:
        """Whether the terminal was left as readline sets it (no echo, no line mode) instead of restored."""
        lflag = termios.tcgetattr(self.slave)[3]
        return not (lflag & termios.ECHO and lflag & termios.ICANON)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        if self.process.returncode is None:
            self.process.kill()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
async def terminal(env, tmp_path):
    console_env = {k: v for k, v in env.items() if k != "PAPERBOY_LOG_LEVEL"} | {"TERM": "xterm"}
    term = await Terminal.spawn(env=console_env, cwd=tmp_path)
    yield term
    term.close()


async def ask_trending(terminal: Terminal, title: str, *, after: int = 0) -> int:
    """Type `trending 3` at the prompt; return the position of the next prompt, after the answer."""
    at = await terminal.wait_for(PROMPT, after=after)
    terminal.type("trending 3\r")
    at = await terminal.wait_for(title, after=at)
    return await terminal.wait_for(PROMPT, after=at)


def assert_clean(screen: str) -> None:
    assert "Traceback" not in screen, screen
    assert not LOG_LINE.search(screen), f"a log line in the conversation:\n{screen}"


async def test_typing_recalling_with_the_up_arrow_and_ctrl_d(terminal, fake_hf, tmp_path):
    title = fake_hf.items[fake_hf.trending_ids[0]]["paper"]["title"]
    banner_end = await terminal.wait_for("quits.")  # the banner wraps to the terminal's width
    assert str(tmp_path / "paperboy.log") in terminal.screen, "the banner says where the log goes"
    at = await ask_trending(terminal, title, after=banner_end)

    terminal.type(UP)  # readline recalls the last command onto the prompt line
    at = await terminal.wait_for("trending 3", after=at)
    terminal.type("\r")
    at = await terminal.wait_for(title, after=at)
    at = await terminal.wait_for(PROMPT, after=at)

    terminal.type("\x04")  # Ctrl-D at an empty prompt
    assert await terminal.exit_status() == 0
    assert "\n" in terminal.screen[at:], "Ctrl-D ends the prompt's line"
    assert_clean(terminal.screen)
    assert not terminal.line_editing_left_on()
    assert "trending 3" in (tmp_path / ".paperboy_history").read_text(), "the history outlives the session"
    assert (tmp_path / "paperboy.log").exists()


async def test_ctrl_c_at_the_prompt_quits_with_status_0(terminal, fake_hf, tmp_path):
    title = fake_hf.items[fake_hf.trending_ids[0]]["paper"]["title"]
    at = await ask_trending(terminal, title)

    terminal.type("\x03")  # the terminal turns it into SIGINT for Paperboy
    assert await terminal.exit_status() == 0
    assert "\n" in terminal.screen[at:], "the prompt's line is ended"
    assert_clean(terminal.screen)
    assert not terminal.line_editing_left_on(), "the terminal is given back as it was"
    assert "SIGINT: stopping" in (tmp_path / "paperboy.log").read_text(), "the log went to its file instead"


async def test_piped_console_prints_only_answers_and_logs_to_its_file(env, fake_hf, tmp_path):
    from tests.test_cli import paperboy

    fake_hf.fail_next("missing_fields")  # the trending list comes back broken: a WARNING record
    code, out, err = await paperboy("console", env=env | {"PAPERBOY_LOG_LEVEL": "DEBUG"},
                                    stdin="/papers trending\ntrending 2\n")
    assert code == 0 and err == "", "no log record reaches a script's standard error, at any level"
    assert PROMPT not in out and "Paperboy on the console" not in out and not LOG_LINE.search(out)
    log = (tmp_path / "paperboy.log").read_text()
    assert re.search(r" WARNING bot\.sources\.\S+: skipping ", log), log
    assert " DEBUG " in log

    code, out, err = await paperboy("console", env=env | {"PAPERBOY_LOG_FILE": "-", "PAPERBOY_LOG_LEVEL": "DEBUG"},
                                    stdin="trending 2\n")
    assert code == 0 and LOG_LINE.search(err), "with PAPERBOY_LOG_FILE=- the log is on standard error"
    assert not LOG_LINE.search(out)


@pytest.mark.parametrize("key", ["\x04", "\x03"], ids=["ctrl-d", "ctrl-c"])
async def test_quitting_at_an_idle_prompt_does_not_wait_for_a_slow_look_up(terminal, fake_hf, tmp_path, key):
    fake_hf.delay = 30  # the poll started with the console hangs on Hugging Face
    at = await terminal.wait_for(PROMPT)
    await asyncio.sleep(0.5)
    assert any(r.path == "/api/daily_papers" for r in fake_hf.requests), "the poll is waiting on Hugging Face"
    started = time.monotonic()
    terminal.type(key)
    assert await terminal.exit_status() == 0
    assert time.monotonic() - started < 3, "nothing was being sent: quitting does not wait (it did 10 s)"
    assert "Waiting for" not in terminal.screen[at:]
    assert_clean(terminal.screen)
    assert not terminal.line_editing_left_on()


async def test_the_log_keeps_to_the_configured_level_whatever_a_library_sets(env, fake_hf, tmp_path):
    from tests.test_cli import paperboy

    paper = fake_hf.trending_ids[0]
    code, out, err = await paperboy("console", env=env | {"PAPERBOY_LOG_LEVEL": "INFO"}, stdin=f"similar {paper}\n")
    assert code == 0 and err == "" and "Traceback" not in out
    log = (tmp_path / "paperboy.log").read_text()  # bm25s, imported by `similar`, sets its logger to DEBUG
    assert " DEBUG " not in log and "Building index" not in log, log
