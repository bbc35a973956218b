"""Read what Slack sends as a command's text back into plain words, and the groups it names.

The manifest sets ``should_escape: true`` on ``/papers``, so Slack sends mentions and links
in its markup: ``<!subteam^S123|@ml-team>``, ``<@U123|ada>``, ``<#C123|papers>``,
``<https://arxiv.org/abs/2403.12345>`` and ``&amp; &lt; &gt;``. The core never parses platform
markup: it gets ``@ml-team`` in the text and `Group` ``("S123", "ml-team")`` beside it.
"""

from __future__ import annotations

import re

from bot.model.channels import Group

_MARKUP = re.compile(r"<([^<>]*)>")
_URL = re.compile(r"^(?:https?|mailto):")
_BROADCASTS = frozenset({"here", "channel", "everyone"})
_SUBTEAM = "!subteam^"


def decode(text: str) -> tuple[str, tuple[Group, ...]]:
    """Return *text* as the person typed it (mentions as ``@name``, links as URLs) and the groups it mentions."""
    groups: dict[str, Group] = {}

    def plain(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith(_SUBTEAM):
            group = _group(target[len(_SUBTEAM):], label)
            if group is None:
                return match.group(0)
            groups.setdefault(group.id, group)
            return f"@{group.name}"
        return _plain_markup(target, label, match.group(0))

    # Entities last: an escaped "&lt;!channel&gt;" the person typed stays text, never markup.
    return _unescape(_MARKUP.sub(plain, text)), tuple(groups.values())


def _group(group_id: str, label: str) -> Group | None:
    group_id = group_id.strip()
    if not group_id:
        return None
    name = label.strip().lstrip("@").strip() or group_id
    return Group(group_id, name)


def _plain_markup(target: str, label: str, whole: str) -> str:
    """What one piece of markup other than a group mention stands for in plain text."""
    if target.startswith("@"):  # a person: <@U123|ada>
        return f"@{label.strip().lstrip('@') or target[1:]}"
    if target.startswith("#"):  # a channel: <#C123|papers>
        return f"#{label.strip().lstrip('#') or target[1:]}"
    if target.startswith("!"):  # <!here>, or <!date^…|fallback>: what Slack showed
        name = target[1:]
        return f"@{name}" if name in _BROADCASTS else (label or whole)
    if _URL.match(target):  # <https://…|label>: the URL is what a command needs
        return target
    return whole


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
