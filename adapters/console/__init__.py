"""Paperboy in a terminal: the console adapter (`adapter`) and its plain-text rendering (`render`)."""

from adapters.console.adapter import CONSOLE_CHANNEL, ConsoleAdapter
from adapters.console.render import render, terminal_width

__all__ = ["CONSOLE_CHANNEL", "ConsoleAdapter", "render", "terminal_width"]
