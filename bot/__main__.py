"""`python -m bot` is the `paperboy` command."""

from bot.cli import entry

entry()
