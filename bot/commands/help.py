"""``help`` and ``help <command>``: read from the command table, so help and the platforms never disagree."""

from __future__ import annotations

from bot.commands.registry import COMMANDS, EXAMPLES, CommandSpec
from bot.model.replies import Reply, Text
from bot.model.usage import UsageError

_TOPIC_LINES = (
    "Topic queries: words match whole words (and plurals) in titles, abstracts and keywords;",
    '"exact phrase", prefix*, OR, -exclude or NOT exclude, (groups), title:, abstract:, author:',
    "Filters: cat:cs.CL or cat:cs.* (also follows arXiv's new papers there), upvotes:>=20, stars:>100, "
    "comments:>=3, has:code",
    'Example: subscribe "model merging" OR unlearning -diffusion',
    'Example: subscribe cat:cs.CL "machine unlearning" upvotes:>=10',
)
_SIGNAL_LINES = (
    "What this channel likes: 👍 and 🔖 saves made here count for, 👎 against (the buttons on every post, "
    "or vote/downvote <id>); in a direct message, your reading list and your own 👍/👎 there.",
    "recommend, picks and rank interest use them; until there are 3 👍 or saves they rank by upvotes "
    "and say so. 'forget me' removes yours.",
)
_QUERY_COMMANDS = ("search", "subscribe", "preview")


def help_reply(args: str) -> Reply:
    """Every command in a line each; or, given a command's name, its usage, options and examples."""
    wanted = args.strip().lower().removeprefix("/papers").strip().lstrip("/")
    if not wanted:
        lines = [f"{spec.usage}: {spec.summary}" for spec in COMMANDS.values()]
        lines += ["", "A paper id or link on its own shows that paper.",
                  "'help <command>' shows a command's options and examples.", "", *_TOPIC_LINES, "",
                  *_SIGNAL_LINES]
        return Reply(Text("\n".join(lines), title="Paperboy commands"), private=True)
    spec = COMMANDS.get(wanted.split()[0])
    if spec is None:
        raise UsageError(f"There is no command '{wanted.split()[0][:30]}'; the commands are "
                         f"{', '.join(COMMANDS)}.")
    return Reply(Text("\n".join(_command_lines(spec)), title=f"Paperboy: {spec.name}"), private=True)


def _command_lines(spec: CommandSpec) -> list[str]:
    lines = [f"Usage: {spec.usage}", spec.summary[:1].upper() + spec.summary[1:] + "."]
    if spec.manages:
        lines.append("Only people who can manage the channel can use it.")
    if spec.args:
        lines += ["", "Options:"]
        lines += [f"  {arg.name}: {arg.description}" + ("" if arg.required else " (optional)") for arg in spec.args]
    examples = EXAMPLES.get(spec.name, ())
    if examples:
        lines += ["", "Examples:", *(f"  {example}" for example in examples)]
    if spec.name in _QUERY_COMMANDS:
        lines += ["", *_TOPIC_LINES[:3]]
    return lines
