"""Refuse to start the bot when nobody can talk to it: no platform configured and no console input.

In a container (`docker run -d`, compose) or under systemd, standard input is /dev/null: the console
would read end of input at once and exit 0, and a restart policy would start it again, forever.
Input piped in (`printf 'trending\\n' | paperboy run`) is still a conversation, and is served.
"""

from __future__ import annotations

import os
import stat
import sys

from bot.ports.platforms import switches
from bot.runtime.settings import StartupError

NOBODY_TO_TALK_TO = (
    f"no platform is configured ({switches()}) and standard input is "
    "not a terminal, so nobody can talk to Paperboy; set a token in .env, or run `paperboy console` "
    "with commands on standard input")


def stdin_is_empty(fd: int = 0) -> bool:
    """Whether *fd* can never give input: closed, or the null device."""
    if fd == 0 and sys.stdin is None:  # closed at start; fd 0 may since name a file Paperboy opened
        return True
    try:
        found = os.fstat(fd)
    except OSError:  # closed (`<&-`)
        return True
    if not stat.S_ISCHR(found.st_mode):  # a pipe or a file: a script to run
        return False
    return not os.isatty(fd) and found.st_rdev == os.stat(os.devnull).st_rdev


def refuse_when_unattended(platforms_configured: bool) -> None:
    """Raise `StartupError` (one line, exit 1) when no platform is set and standard input is empty."""
    if not platforms_configured and stdin_is_empty():
        raise StartupError(NOBODY_TO_TALK_TO)
