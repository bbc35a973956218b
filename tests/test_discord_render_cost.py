"""A paper's post to many channels: its shared parts are rendered once, each channel's own lines per message.

A burst sends one paper to every channel, a digest the same papers; each channel's post differs
only in why the paper matched there and, in a list, the numbering. The title, summary, links and
buttons are the paper's: escaping and fitting them for every channel was a third of the bot's CPU.
The embeds and views stay each message's own (trim_embed and discord.py change and keep them).
"""

from __future__ import annotations

from datetime import date

import pytest

from adapters.discord import markdown, render
from bot.model.actions import card_actions
from bot.model.paper import Paper
from bot.model.replies import PaperCard, PaperList, Post
from tests.fakes.discord.wire import discord_limit_errors, pings
from tests.test_discord_delivery import launch, ref, running  # noqa: F401  (launch and running are fixtures)

CHANNELS = 40


def paper(n: int) -> Paper:
    # A title and links no other test renders, so the caches start without them.
    return Paper(id=f"2412.{77000 + n}", title=f"Render Cost Study {n}: Sharing **Parts**",
                 abstract="We share parts. " * 30, authors=("Ada Lovelace", "Alan Turing"), upvotes=7 + n,
                 comments=2, github_repo=f"https://github.com/cost/study-{n}", daily_date=date(2026, 12, 7))


def labels(message: render.Message) -> list[str]:
    return [button["label"] for row in message.view.to_components() for button in row["components"]]


def why(channel: int) -> str:
    return f"channel {channel} **topic** <@{channel}> @everyone"


@pytest.fixture
def work(monkeypatch):
    """Count what is escaped (by text) and how often a paper's links are listed."""
    escaped: list[str] = []
    links: list[str] = []
    escape, paper_links = markdown.escape_markdown, Paper.links

    def counted_escape(text, **kwargs):
        escaped.append(text)
        return escape(text, **kwargs)

    def counted_links(self):
        links.append(self.id)
        return paper_links(self)

    monkeypatch.setattr(markdown, "escape_markdown", counted_escape)
    monkeypatch.setattr(Paper, "links", counted_links)
    return escaped, links


def test_a_cards_paper_is_rendered_once_for_every_channel_and_each_post_shows_its_own_why(work):
    escaped, links = work
    shared = paper(0)
    posts = [Post(PaperCard(shared, why(n), actions=card_actions(shared.id, n % 3)), tag="t") for n in range(CHANNELS)]
    messages = [render.post(post) for post in posts]
    assert escaped.count(shared.title) == 1, "the title is escaped once, not once per channel"
    assert len(links) <= 2, f"the links are listed once for the embed and once for the buttons, not {len(links)}"
    for n, message in enumerate(messages):
        (embed,) = message.embeds
        assert embed.description.startswith(f"🔎 channel {n} \\*\\*topic\\*\\*"), "its own why, escaped"
        assert embed.title == "Render Cost Study 0: Sharing \\*\\*Parts\\*\\*"
        assert embed.description.endswith("We share parts.")
        shown = labels(message)
        assert shown[:3] == ["🔖 Save", f"👍 {n % 3}" if n % 3 else "👍", "👎"] and "Code" in shown
        assert discord_limit_errors({"content": message.content, "embeds": [embed.to_dict()]}) == []
    first, second = messages[0], messages[1]
    assert first.embeds[0] is not second.embeds[0] and first.view is not second.view
    assert not set(map(id, first.view.children)) & set(map(id, second.view.children))
    render.trim_embed(first.embeds[0], 80)  # one message's embed changed must leave every other whole
    assert not first.embeds[0].fields
    assert second.embeds[0].to_dict() == render.post(posts[1]).embeds[0].to_dict()
    assert [f.name for f in render.post(posts[0]).embeds[0].fields] == ["Upvotes", "Comments", "Links"]


def test_a_digests_papers_are_rendered_once_and_each_channel_keeps_its_whys_and_numbers(work):
    escaped, _ = work
    papers = [paper(n) for n in range(1, 4)]
    messages = [render.post(Post(PaperList("Daily digest", tuple(
        PaperCard(p, f"{why(n)} for {p.id}", actions=card_actions(p.id)) for p in papers), start=1 + n), tag="d"))
        for n in range(CHANNELS)]
    for p in papers:
        assert escaped.count(p.title) == 1, f"{p.id}'s title is escaped once, not once per channel"
    for n, message in enumerate(messages):
        for p, embed in zip(papers, message.embeds, strict=True):
            assert embed.description.startswith(f"🔎 channel {n} \\*\\*topic\\*\\*") and p.id in embed.description
            assert embed.url == p.hf_url
        numbered = [label for label in labels(message) if ". " in label]
        assert numbered == [f"{1 + n + k}. Render Cost Study {k + 1}: Sharing **Parts**" for k in range(3)]


def test_a_long_lists_lines_are_made_once_and_numbered_by_each_channel(work):
    escaped, _ = work
    papers = [paper(n) for n in range(10, 22)]  # past ten papers a list is numbered lines
    messages = [render.post(Post(PaperList("Week", tuple(PaperCard(p, why(n)) for p in papers), start=1 + n), tag="w"))
                for n in range(CHANNELS)]
    assert all(escaped.count(p.title) == 1 for p in papers)
    for n, message in enumerate(messages):
        lines = message.embeds[0].description.split("\n")
        assert lines[0] == f"{1 + n}. [Render Cost Study 10: Sharing \\*\\*Parts\\*\\*]({papers[0].hf_url}) · ▲ 17"
        assert lines[-1].startswith(f"{12 + n}. [Render Cost Study 21")


async def test_each_channel_receives_its_own_why_under_the_same_paper_and_no_one_is_pinged(running):
    fake, adapter = running.fake, running.adapter
    shared = paper(30)
    channels = [fake.channel_id, "778", "779"]
    for n, channel in enumerate(channels):
        post = Post(PaperCard(shared, why(n), actions=card_actions(shared.id, n)), tag=f"paper:{shared.id}",
                    paper_ids=(shared.id,), mention="4242" if n == 2 else None)
        await adapter.send(ref(fake, channel), post)
    bodies = [fake.channel_messages[channel][0] for channel in channels]
    for n, body in enumerate(bodies):
        (embed,) = body["embeds"]
        assert embed["description"].startswith(f"🔎 channel {n} \\*\\*topic\\*\\* <@{n}> @everyone")
        assert embed["title"] == bodies[0]["embeds"][0]["title"] and embed["fields"] == bodies[0]["embeds"][0]["fields"]
        (actions, links) = body["components"]
        assert [b["custom_id"] for b in actions["components"]] == [f"paperboy:{k}:{shared.id}"
                                                                    for k in ("save", "vote", "downvote")]
        assert links == bodies[0]["components"][1]
    assert [pings(body) for body in bodies] == [set(), set(), {"role:4242"}], "a why pings no one; a role, once"
