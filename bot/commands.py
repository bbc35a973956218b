"""The commands Paperboy understands: names, usage and who may run them.

Adapters read `COMMANDS` to register their platform's command list and options; the
engine reads it for help and permission checks. One table, so they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    usage: str
    summary: str
    manages: bool = False
    """Changes the channel's subscriptions or schedule: needs permission to manage the channel."""
    needs_network: bool = False
    """May call a paper source, so platforms with a deadline should defer first."""
    private: bool = False
    """Answered privately to the caller (help, settings, errors are always private)."""


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("help", "help", "what Paperboy can do", private=True),
        CommandSpec("trending", "trending [n]", "the papers trending on Hugging Face now", needs_network=True),
        CommandSpec("today", "today [YYYY-MM-DD]", "the day's Daily Papers", needs_network=True),
        CommandSpec("search", "search <query>", "search papers (same syntax as topics)", needs_network=True),
        CommandSpec("show", "show <arXiv id or URL>", "one paper in full", needs_network=True),
        CommandSpec("save", "save <arXiv id or URL>", "save a paper to your reading list",
                    needs_network=True, private=True),
        CommandSpec("unsave", "unsave <arXiv id or URL>", "take a paper off your reading list", private=True),
        CommandSpec("saved", "saved | saved bibtex", "your reading list, or it as BibTeX", private=True),
        CommandSpec("vote", "vote <arXiv id or URL>", "👍 a paper in this channel (again: take it back)",
                    private=True),
        CommandSpec("leaderboard", "leaderboard [week|month]", "this channel's most 👍 papers of the week or month"),
        CommandSpec("more", "more", "the next page of the last list you asked for"),
        CommandSpec("subscribe", "subscribe <query> | subscribe *", "post new papers matching a topic (or every paper) here",
                    manages=True, needs_network=True),
        CommandSpec("unsubscribe", "unsubscribe <topic number or text>", "stop following a topic", manages=True),
        CommandSpec("topics", "topics", "this channel's topics"),
        CommandSpec("preview", "preview <query>", "what a topic would have matched recently, and why",
                    needs_network=True, private=True),
        CommandSpec("digest", "digest <HH:MM> [time zone] [top N] | digest off",
                    "one daily digest at a local time instead of instant posts", manages=True),
        CommandSpec("realtime", "realtime on|off", "post each new match as it appears", manages=True),
        CommandSpec("threshold", "threshold <min upvotes>", "only post papers with at least this many upvotes",
                    manages=True),
        CommandSpec("resume", "resume", "turn a paused channel back on", manages=True),
        CommandSpec("settings", "settings", "this channel's delivery settings", private=True),
        CommandSpec("status", "status", "poller health: last poll, errors, paused channels", private=True),
    )
}
