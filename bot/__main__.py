"""`python -m bot` is the `paperboy` command."""

from bot.runtime.cli import entry

entry()
