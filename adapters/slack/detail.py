"""What only a full card (the `show` answer) holds: the whole abstract, the AI summary apart, the linked Hub repos.

Split from `adapters.slack.render`; every string is escaped and clipped to Slack's limits here too.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block, SectionBlock

from adapters.slack.mrkdwn import MAX_SECTION_CHARS, at_most, escape, is_web_url, join_whole, link, mrkdwn, split_chunks
from bot.model.paper import LinkedRepos, Paper

ABSTRACT_SECTIONS = 10
"""A full card splits the abstract over at most this many sections (30,000 characters: any real abstract)."""


def full_text(paper: Paper) -> list[Block]:
    """What only a full card shows: the whole abstract, the AI summary apart, the linked Hub repos."""
    blocks: list[Block] = []
    for label, text, most in (("Abstract", paper.abstract, ABSTRACT_SECTIONS), ("AI summary", paper.ai_summary, 1)):
        if text:
            blocks += _labelled_sections(label, text, most)
    repos = join_whole([line for group in paper.linked_repos() if (line := _repo_line(group))],
                        "\n", MAX_SECTION_CHARS)
    if repos:
        blocks.append(SectionBlock(text=mrkdwn(repos)))
    return blocks


def _labelled_sections(label: str, text: str, most: int) -> list[SectionBlock]:
    """Split *text* (escaped) over at most *most* sections, the first one headed by *label* in bold."""
    head = f"*{label}*\n"
    limit = MAX_SECTION_CHARS - len(head)
    chunks = at_most(split_chunks(escape(text), limit), most, limit)
    return [SectionBlock(text=mrkdwn((head if n == 0 else "") + chunk)) for n, chunk in enumerate(chunks)]


def _repo_line(group: LinkedRepos) -> str:
    """One kind of linked repo as ``*Models:* <url|id> · <url|id> and N more``."""
    head = f"*{group.label}:* "
    more = group.more_text()
    tail = f" {more}" if more else ""
    links = [link(url, repo) for repo, url in group.links if is_web_url(url) and len(url) <= 500]
    body = join_whole(links, " · ", MAX_SECTION_CHARS - len(head) - len(tail)) + tail
    return head + body.strip() if body.strip() else ""
