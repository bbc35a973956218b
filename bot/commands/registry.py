"""The commands Paperboy understands: names, usage, typed arguments and who may run them.

Adapters read `COMMANDS` to register their platform's command list and options (Discord
builds its whole `/papers` tree from the typed `Arg`s); the engine reads it for help and
permission checks. One table, so they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


TEXT = "text"
INT = "int"
CHOICE = "choice"
ROLE = "role"
"""A group of people to notify (a Discord role): written ``<name> @group`` in the text (``notify @Researchers``)."""
TIMEZONE = "timezone"
"""An IANA time zone, offered as the user types."""
TOPIC = "topic"
"""One of the channel's topics (its number or text), offered as the user types."""
ARG_KINDS = (TEXT, INT, CHOICE, ROLE, TIMEZONE, TOPIC)


@dataclass(frozen=True, slots=True)
class Arg:
    """One typed argument of a command, in the order the console grammar writes them.

    ``low``/``high`` bound an ``int``'s value or a text's length; ``choices`` are a
    ``choice``'s words. A platform with typed options (Discord) offers exactly these, and
    joins the values given, in order, into the command's text.
    """

    name: str
    kind: str
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None


_PAPER = Arg("paper", TEXT, "arXiv id or URL (arXiv or Hugging Face)", required=True, low=1, high=200)
_QUERY = 'words, "exact phrases", -excluded, author:"Name"'
_TIME = dict(kind=TEXT, low=1, high=5)
_ZONE = dict(kind=TIMEZONE, low=1, high=64)


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
    args: tuple[Arg, ...] = ()
    """The typed arguments, in the order the text writes them."""
    family: str | None = None
    """The `FAMILIES` entry it belongs to: a platform with nested commands (and a limit on how many
    one level holds, as Discord's 25) lists it there; typed, it is the same command."""


FAMILIES = {"interest": "what this channel likes: 👍, 👎, recommend, picks, rank, forget me",
            "reading": "your reading list (save, unsave, saved) and Atom feeds for Zotero and feed readers",
            "activity": "what Paperboy did here: why a paper was or was not posted, the last deliveries, status"}
"""Families of commands, by name, with a one-line description."""


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("help", "help [command]", "what Paperboy can do, or one command's options and examples",
                    private=True, args=(Arg("command", TEXT, "a command's name, for its options and examples",
                                            low=1, high=20),)),
        CommandSpec("trending", "trending [n]", "the papers trending on Hugging Face now", needs_network=True,
                    args=(Arg("count", INT, "how many papers (1-25)", low=1, high=25),)),
        CommandSpec("today", "today [YYYY-MM-DD]", "the day's Daily Papers", needs_network=True,
                    args=(Arg("date", TEXT, "a day as YYYY-MM-DD (default: today)", low=10, high=10),)),
        CommandSpec("week", "week [YYYY-Www]", "Hugging Face's top papers of an ISO week, by upvotes",
                    needs_network=True,
                    args=(Arg("week", TEXT, "an ISO week as YYYY-Www (default: this week)", low=8, high=8),)),
        CommandSpec("month", "month [YYYY-MM]", "Hugging Face's top papers of a month, by upvotes",
                    needs_network=True,
                    args=(Arg("month", TEXT, "a month as YYYY-MM (default: this month)", low=7, high=7),)),
        CommandSpec("search", "search <query>", "search papers (same syntax as topics)", needs_network=True,
                    args=(Arg("query", TEXT, _QUERY, required=True, low=1, high=300),)),
        CommandSpec("show", "show <arXiv id or URL>", "one paper in full", needs_network=True, args=(_PAPER,)),
        CommandSpec("similar", "similar <arXiv id or URL>", "papers like this one, with the words they share",
                    needs_network=True, args=(_PAPER,)),
        CommandSpec("save", "save <arXiv id or URL>", "save a paper to your reading list",
                    needs_network=True, private=True, args=(_PAPER,), family="reading"),
        CommandSpec("unsave", "unsave <arXiv id or URL>", "take a paper off your reading list", private=True,
                    args=(_PAPER,), family="reading"),
        CommandSpec("saved", "saved | saved bibtex", "your reading list, or it as BibTeX", private=True,
                    args=(Arg("format", CHOICE, "bibtex: the whole list as BibTeX", choices=("bibtex",)),),
                    family="reading"),
        CommandSpec("feed", "feed | feed reset",
                    "this channel's posts (in a direct message: your reading list) as an Atom feed's URL",
                    private=True, family="reading",
                    args=(Arg("action", CHOICE, "reset: replace the URL (the old one stops working; "
                              "managers, in a channel)", choices=("reset",)),)),
        CommandSpec("vote", "vote <arXiv id or URL>", "👍 a paper in this channel (again: take it back)",
                    private=True, args=(_PAPER,), family="interest"),
        CommandSpec("downvote", "downvote <arXiv id or URL>",
                    "👎 a paper: fewer like it here; never shown as a count (again: take it back)",
                    private=True, args=(_PAPER,), family="interest"),
        CommandSpec("recommend", "recommend [n]",
                    "papers this channel may want, ranked by what it 👍, saved and 👎, with why",
                    family="interest", args=(Arg("count", INT, "how many papers (1-25)", low=1, high=25),)),
        CommandSpec("forget", "forget me [confirm]", "remove your 👍, 👎 and saves in this workspace or server",
                    private=True, family="interest",
                    args=(Arg("what", CHOICE, "me: say what would go; me confirm: remove it", required=True,
                              choices=("me", "me confirm")),)),
        CommandSpec("leaderboard", "leaderboard [week|month] | leaderboard weekly <day> <HH:MM> [time zone] | leaderboard off",
                    "this channel's most 👍 papers of the week or month; or post them every week",
                    args=(Arg("period", CHOICE, "week or month: the board now; weekly: post it every week; off: stop",
                              choices=("week", "month", "weekly", "off")),
                          Arg("day", CHOICE, "weekly: the day of the week",
                              choices=("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
                          Arg("time", description="weekly: local time as HH:MM", **_TIME),
                          Arg("timezone", description="weekly: IANA time zone (default: the channel's)", **_ZONE))),
        CommandSpec("more", "more", "the next page of the last list you asked for"),
        CommandSpec("subscribe", "subscribe <query> [notify @group] | subscribe *",
                    "post new papers matching a topic (or every paper) here; notify: mention that group in its posts",
                    manages=True, needs_network=True,
                    args=(Arg("query", TEXT, "the topic: " + _QUERY, required=True, low=1, high=300),
                          Arg("notify", ROLE, "a group to mention in this topic's posts"))),
        CommandSpec("unsubscribe", "unsubscribe <topic number or text>", "stop following a topic", manages=True,
                    args=(Arg("topic", TOPIC, "the topic's number or text", required=True, low=1, high=300),)),
        CommandSpec("topics", "topics", "this channel's topics"),
        CommandSpec("preview", "preview <query>", "what a topic would have matched recently, and why",
                    needs_network=True, private=True,
                    args=(Arg("query", TEXT, "the topic you are thinking of following", required=True, low=1,
                              high=300),)),
        CommandSpec("digest", "digest [weekly <day> | weekdays] <HH:MM> [time zone] [top N] | digest off",
                    "a digest at a local time (daily, weekdays or weekly) instead of instant posts", manages=True,
                    args=(Arg("schedule", CHOICE, "daily (default), weekdays (mon-fri), weekly (pick the day); "
                              "off: stop", choices=("daily", "weekdays", "weekly", "off")),
                          Arg("day", CHOICE, "weekly: the day of the week",
                              choices=("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
                          Arg("time", description="local time as HH:MM", **_TIME),
                          Arg("timezone", description="IANA time zone (default UTC)", **_ZONE),
                          Arg("count", INT, "how many papers in the digest (1-10)", low=1, high=10))),
        CommandSpec("realtime", "realtime on|off", "post each new match as it appears", manages=True,
                    args=(Arg("state", CHOICE, "on: post each match as it appears", required=True,
                              choices=("on", "off")),)),
        CommandSpec("threads", "threads on|off", "open a discussion thread on each paper posted here", manages=True,
                    args=(Arg("state", CHOICE, "on: open a thread on each paper posted here", required=True,
                              choices=("on", "off")),)),
        CommandSpec("threshold", "threshold <min upvotes>", "only post papers with at least this many upvotes",
                    manages=True, args=(Arg("upvotes", INT, "minimum Hugging Face upvotes", required=True, low=0,
                                            high=100_000),)),
        CommandSpec("rank", "rank interest|upvotes",
                    "order a digest's top papers by this channel's interest, or by upvotes", manages=True,
                    family="interest", args=(Arg("order", CHOICE, "interest: by what this channel likes",
                                                 required=True, choices=("interest", "upvotes")),)),
        CommandSpec("picks", "picks <n> | picks off",
                    "once a day, the n papers this channel may like most, at its digest time (or 09:00)",
                    manages=True, family="interest",
                    args=(Arg("count", CHOICE, "how many papers a day (1-10), or off", required=True,
                              choices=(*(str(n) for n in range(1, 11)), "off")),)),
        CommandSpec("resume", "resume", "turn a paused channel back on", manages=True),
        CommandSpec("settings", "settings", "this channel's delivery settings", private=True),
        CommandSpec("status", "status", "poller health: last poll, errors, paused channels", private=True,
                    family="activity"),
        CommandSpec("why", "why <arXiv id or URL>", "why a paper was or was not posted in this channel",
                    needs_network=True, private=True, family="activity", args=(_PAPER,)),
        CommandSpec("log", "log [n]", "this channel's last deliveries and failures, newest first",
                    private=True, family="activity",
                    args=(Arg("count", INT, "how many entries (1-50)", low=1, high=50),)),
    )
}

EXAMPLES: dict[str, tuple[str, ...]] = {
    "help": ("help subscribe",),
    "trending": ("trending", "trending 5"),
    "today": ("today", "today 2026-11-27"),
    "week": ("week", "week 2026-W48"),
    "month": ("month", "month 2026-11"),
    "search": ('search "model merging" OR unlearning', "search unlearn* -diffusion upvotes:>=20"),
    "show": ("show 2403.10005", "show https://arxiv.org/abs/2403.10005", "2403.10005"),
    "similar": ("similar 2403.10005",),
    "save": ("save https://huggingface.co/papers/2403.10005",),
    "unsave": ("unsave 2403.10005",),
    "saved": ("saved", "saved bibtex"),
    "feed": ("feed", "feed reset"),
    "vote": ("vote 2403.10005",),
    "downvote": ("downvote 2403.10005",),
    "recommend": ("recommend", "recommend 5"),
    "picks": ("picks 3", "picks off"),
    "rank": ("rank interest", "rank upvotes"),
    "forget": ("forget me",),
    "leaderboard": ("leaderboard", "leaderboard month", "leaderboard weekly fri 17:00 Europe/Paris", "leaderboard off"),
    "more": ("more",),
    "subscribe": ('subscribe "model merging" OR unlearning -diffusion', "subscribe cat:cs.CL upvotes:>=10",
                  "subscribe *"),
    "unsubscribe": ("unsubscribe 1",),
    "topics": ("topics",),
    "preview": ("preview unlearn* -diffusion",),
    "digest": ("digest 09:00 Europe/Paris top 5", "digest weekdays 08:30 America/New_York",
               "digest weekly mon 09:00 Europe/Paris top 10", "digest off"),
    "realtime": ("realtime on",),
    "threads": ("threads on", "threads off"),
    "threshold": ("threshold 10", "threshold 0"),
    "resume": ("resume",),
    "settings": ("settings",),
    "status": ("status",),
    "why": ("why 2403.10005", "why https://huggingface.co/papers/2403.10005"),
    "log": ("log", "log 30"),
}
"""Lines that work as written, for ``help <command>`` (a test runs every one)."""
