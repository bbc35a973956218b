"""Block Kit rendering: slack_sdk-validated blocks, Slack's limits, and text that pings no one."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack.render import MAX_LIST_CARDS, escape, render
from bot.model.paper import Paper
from bot.model.replies import Error, PaperCard, PaperList, Text

HOSTILE = "<!channel> &lt; <https://x|y> <@U123> <!here> <!everyone> <#C1> & *bold* `code`"


def full_paper(**changes: object) -> Paper:
    values: dict[str, object] = dict(
        id="2403.12345", title="Model merging at scale", authors=("Graham Neubig", "Zoë Kravitz-Müller"),
        abstract="We merge models.", ai_summary="Merging works.", upvotes=120, comments=3,
        github_repo="https://github.com/example/merge", github_stars=42, project_page="https://example.org/m",
        daily_date=date(2026, 11, 27),
        thumbnail="https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2403.12345.png",
    )
    values.update(changes)
    return Paper(**values)  # type: ignore[arg-type]


def texts(blocks: list[dict]) -> list[str]:
    """Every text string Slack would parse as markup in *blocks*."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def assert_pings_no_one(text: str) -> None:
    # After escaping, the only "<" left must open a link we made ourselves, to an http(s) URL.
    for match in re.finditer(r"<([^>]*)>", text):
        assert match.group(1).startswith(("https://", "http://")), text
    assert "<!" not in text and "<@" not in text and "<#" not in text


def test_escape_only_the_three_control_characters() -> None:
    assert escape("a & b < c > d \"e\" 'f'") == "a &amp; b &lt; c &gt; d \"e\" 'f'"
    assert escape("&lt;") == "&amp;lt;"  # already-escaped text shows literally, not as "<"


def test_card_has_linked_title_authors_summary_numbers_buttons_thumbnail_and_why() -> None:
    message = render(PaperCard(full_paper(), why='matched topic "model merging"'))
    blocks = message.block_dicts()
    kinds = [b["type"] for b in blocks]

    assert kinds == ["context", "section", "context", "actions"]
    assert 'matched topic "model merging"' in blocks[0]["elements"][0]["text"]
    section = blocks[1]["text"]["text"]
    assert section.startswith("*<https://huggingface.co/papers/2403.12345|Model merging at scale>*")
    assert "Graham Neubig, Zoë Kravitz-Müller" in section and "Merging works." in section
    assert blocks[1]["accessory"]["type"] == "image"
    assert blocks[1]["accessory"]["image_url"].endswith("2403.12345.png")
    stats = blocks[2]["elements"][0]["text"]
    assert "120 upvotes" in stats and "3 comments" in stats and "42 GitHub stars" in stats
    buttons = {e["text"]["text"]: e["url"] for e in blocks[3]["elements"]}
    assert buttons == {
        "Hugging Face": "https://huggingface.co/papers/2403.12345",
        "arXiv": "https://arxiv.org/abs/2403.12345",
        "PDF": "https://arxiv.org/pdf/2403.12345",
        "Code": "https://github.com/example/merge",
        "Project page": "https://example.org/m",
    }
    assert len({e["action_id"] for e in blocks[3]["elements"]}) == 5
    assert message.text == "Model merging at scale"


def test_card_without_optional_fields_shows_no_unknowns() -> None:
    paper = Paper(id="2403.00001", title="Bare", source="arxiv")
    blocks = render(PaperCard(paper)).block_dicts()

    assert [b["type"] for b in blocks] == ["section", "actions"]
    assert "accessory" not in blocks[0]
    assert "upvote" not in json.dumps(blocks) and "None" not in json.dumps(blocks)
    assert blocks[0]["text"]["text"].startswith("*<https://arxiv.org/abs/2403.00001|Bare>*")


def test_hostile_text_never_pings_or_links() -> None:
    paper = full_paper(title=HOSTILE, authors=(HOSTILE,), ai_summary=HOSTILE)
    content = [
        PaperCard(paper, why=HOSTILE),
        PaperList(HOSTILE, (PaperCard(paper, why=HOSTILE),), note=HOSTILE),
        PaperList(HOSTILE, (), empty=HOSTILE),
        Text(HOSTILE, title=HOSTILE),
        Error(HOSTILE),
    ]
    for item in content:
        message = render(item)
        for text in texts(message.block_dicts()) + [message.text]:
            assert_pings_no_one(text)
        dumped = json.dumps(message.block_dicts())
        assert "&amp;lt;" in dumped  # the literal "&lt;" from the paper stays literal
        assert "&lt;!channel&gt;" in dumped


def test_mrkdwn_is_verbatim_so_slack_does_not_autolink() -> None:
    blocks = render(PaperList("x", (PaperCard(full_paper()),), note="@here see #general")).block_dicts()
    assert all(obj["verbatim"] is True for obj in _mrkdwn_objects(blocks))


def test_asterisks_in_a_title_cannot_end_the_bold_early() -> None:
    text = render(PaperCard(full_paper(title="A* search *is* back"))).block_dicts()[0]["text"]["text"]
    title = text.split("\n")[0]
    assert title.count("*") == 2 and title.startswith("*<") and title.endswith(">*")


def test_source_urls_cannot_break_out_of_a_link() -> None:
    paper = full_paper(github_repo="https://github.com/x/y?a=1&b=<!channel>|evil", project_page="javascript:alert(1)")
    listing = render(PaperList("Results", (PaperCard(paper),))).block_dicts()
    item = listing[1]["text"]["text"]
    assert_pings_no_one(item)
    assert "%3C!channel%3E%7Cevil|Code>" in item
    assert "javascript:" not in item
    card = render(PaperCard(paper)).block_dicts()
    buttons = [e["url"] for b in card if b["type"] == "actions" for e in b["elements"]]
    assert not any(url.startswith("javascript:") for url in buttons)


def test_list_shows_numbered_items_note_and_how_many_were_left_out() -> None:
    cards = tuple(PaperCard(full_paper(id=f"2403.{10001 + i}", title=f"Paper {i}")) for i in range(40))
    message = render(PaperList("Trending now", cards, note="From the cache: the source is down."))
    blocks = message.block_dicts()

    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Trending now", "emoji": False}}
    assert "From the cache" in blocks[1]["elements"][0]["text"]
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == MAX_LIST_CARDS
    assert sections[0]["text"]["text"].startswith("*1. <https://huggingface.co/papers/2403.10001|Paper 0>*")
    assert f"{40 - MAX_LIST_CARDS} more" in blocks[-1]["elements"][0]["text"]
    assert message.text == "Trending now: 40 papers"


def test_empty_list_says_so() -> None:
    blocks = render(PaperList("Today", (), empty="No papers yet today.")).block_dicts()
    assert blocks[1]["text"]["text"] == "No papers yet today."


def test_long_text_is_split_into_sections_within_limits() -> None:
    body = "\n".join(f"line {i} " + "x" * 200 for i in range(400))
    blocks = render(Text(body, title="Help")).block_dicts()

    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert "line 0 " in blocks[1]["text"]["text"]


def test_error_is_one_warning_section() -> None:
    blocks = render(Error("No such paper.")).block_dicts()
    assert blocks == [{"type": "section", "text": {"type": "mrkdwn", "text": ":warning: No such paper.",
                                                   "verbatim": True}}]


def _mrkdwn_objects(node: object) -> list[dict]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "mrkdwn" else []
        return found + [o for v in node.values() for o in _mrkdwn_objects(v)]
    if isinstance(node, list):
        return [o for v in node for o in _mrkdwn_objects(v)]
    return []


# -- limits hold for any input ------------------------------------------------------------

hostile_text = st.lists(st.sampled_from(list("ab <>&|*_!@#\n") + ["<!channel>", "&amp;", "é", "🧪"]),
                        max_size=200).map("".join)
long_text = st.one_of(hostile_text, st.integers(0, 12000).map(lambda n: "&<" * (n // 2)))
papers = st.builds(
    Paper,
    id=st.just("2403.12345"),
    title=long_text,
    authors=st.lists(hostile_text, max_size=40).map(tuple),
    abstract=long_text,
    ai_summary=st.none() | long_text,
    upvotes=st.none() | st.integers(0, 10**6),
    comments=st.none() | st.integers(0, 10**6),
    github_repo=st.none() | hostile_text.map(lambda t: "https://github.com/" + t),
    github_stars=st.none() | st.integers(0, 10**6),
    thumbnail=st.none() | hostile_text.map(lambda t: "https://cdn.example/" + t),
    linked_models=st.lists(hostile_text, max_size=8).map(tuple),
    linked_spaces=st.lists(hostile_text, max_size=3).map(tuple),
    linked_models_total=st.none() | st.integers(0, 10**6),
    published_at=st.none() | st.just(datetime(2026, 11, 25, tzinfo=timezone.utc)),
)
cards = st.builds(PaperCard, papers, why=st.none() | long_text, note=st.none() | long_text, detail=st.booleans())


@settings(max_examples=60, deadline=None)
@given(st.one_of(
    cards,
    st.builds(PaperList, long_text, st.lists(cards, max_size=60).map(tuple), note=st.none() | long_text,
              empty=long_text),
    st.builds(Text, long_text, title=st.none() | long_text),
    st.builds(Error, long_text),
))
def test_any_content_stays_inside_slack_limits(content: object) -> None:
    message = render(content)  # type: ignore[arg-type]
    blocks = message.block_dicts()  # slack_sdk validates every block's own limits here

    assert 1 <= len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    for text in texts(blocks) + [message.text]:
        assert_pings_no_one(text)
    assert len(message.text) <= 3000


def test_a_card_note_is_shown_escaped_after_the_card():
    paper = Paper(id="2403.10001", title="T", abstract="A.")
    message = render(PaperCard(paper, note="cannot reach <!channel> & co; showing cached results"))
    last = message.block_dicts()[-1]
    assert last["type"] == "context"
    assert "&lt;!channel&gt; &amp; co" in last["elements"][0]["text"]


# -- the full card `show` answers with ------------------------------------------------------

def detailed(**changes: object) -> Paper:
    values: dict[str, object] = dict(
        authors=tuple(f"Author {n}" for n in range(25)),
        abstract="We merge models at scale. " * 20 + "The end.",
        published_at=datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc),
        linked_models=tuple(f"org/model-{n}" for n in range(7)), linked_models_total=30,
        linked_datasets=("org/data_set",), linked_spaces=("org/demo",),
    )
    return full_paper(**(values | changes))


def sections(blocks: list[dict]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def test_a_detail_card_shows_the_whole_abstract_the_ai_summary_dates_counts_and_linked_repos() -> None:
    paper = detailed()
    message = render(PaperCard(paper, detail=True))
    blocks = message.block_dicts()
    assert [b["type"] for b in blocks] == ["section", "section", "section", "section", "context", "actions"]
    head, abstract, summary, repos = sections(blocks)
    assert head.startswith("*<https://huggingface.co/papers/2403.12345|Model merging at scale>*")
    assert ", ".join(f"Author {n}" for n in range(20)) + " and 5 more" in head
    assert blocks[0]["accessory"]["type"] == "image"
    assert abstract == "*Abstract*\n" + paper.abstract
    assert summary == "*AI summary*\nMerging works."
    models, datasets, spaces = repos.split("\n")
    assert models.startswith("*Models:* <https://huggingface.co/org/model-0|org/model-0> · ")
    assert models.count("<https://huggingface.co/org/model-") == 5 and models.endswith(" and 25 more")
    assert datasets == "*Datasets:* <https://huggingface.co/datasets/org/data_set|org/data_set>"
    assert spaces == "*Spaces:* <https://huggingface.co/spaces/org/demo|org/demo>"
    stats = blocks[4]["elements"][0]["text"]
    for part in ("120 upvotes", "3 comments", "42 GitHub stars", "Published 2026-11-25", "Daily Papers 2026-11-27"):
        assert part in stats
    assert "https://github.com/example/merge" in [e["url"] for e in blocks[5]["elements"]]


def test_a_card_without_detail_stays_short() -> None:
    blocks = render(PaperCard(detailed())).block_dicts()
    assert [b["type"] for b in blocks] == ["section", "context", "actions"]
    assert "Merging works." in blocks[0]["text"]["text"] and "Author 8" not in blocks[0]["text"]["text"]
    assert "Published" not in blocks[1]["elements"][0]["text"]


def abstract_sections(abstract: str) -> list[str]:
    blocks = render(PaperCard(detailed(abstract=abstract), detail=True)).block_dicts()
    assert len(blocks) <= 50
    parts = [t for t in sections(blocks)[1:] if "word" in t]
    assert all(len(t) <= 3000 for t in parts)
    return parts


def test_a_very_long_abstract_is_split_at_words_over_several_sections() -> None:
    abstract = " ".join(f"word{n} & <more>" for n in range(900))  # about 21,000 characters escaped
    parts = abstract_sections(abstract)
    assert len(parts) > 2 and parts[0].startswith("*Abstract*\n")
    assert " ".join(parts).removeprefix("*Abstract*\n") == escape(abstract)  # every word, none cut in two


def test_an_absurdly_long_abstract_stops_after_ten_sections_and_says_so() -> None:
    abstract = " ".join(f"word{n} & <more>" for n in range(5000))
    parts = abstract_sections(abstract)
    assert len(parts) == 10 and parts[-1].endswith(" …")
    assert escape(abstract).startswith(" ".join(parts).removeprefix("*Abstract*\n")[:-2])


def test_a_real_length_abstract_fits_one_section_and_is_not_cut() -> None:
    abstract = "A sentence of an abstract that goes on. " * 70  # 2,800 characters
    parts = sections(render(PaperCard(detailed(abstract=abstract.strip()), detail=True)).block_dicts())
    assert parts[1] == "*Abstract*\n" + abstract.strip()


def test_hostile_text_in_a_detail_card_never_pings_or_links() -> None:
    paper = detailed(title="@everyone " + HOSTILE, abstract=HOSTILE, ai_summary=HOSTILE, authors=(HOSTILE,),
                     linked_models=("<!channel>", "org/x|<@U1>"), linked_datasets=(HOSTILE,))
    message = render(PaperCard(paper, detail=True, why=HOSTILE, note=HOSTILE))
    for text in texts(message.block_dicts()) + [message.text]:
        assert_pings_no_one(text)
    dumped = json.dumps(message.block_dicts())
    assert "@everyone &lt;!channel&gt;" in dumped and "&amp;lt;" in dumped


def test_a_paper_is_converted_once_for_every_channel_its_card_or_digest_goes_to() -> None:
    """Each channel's card says why it matched there; the rest (validated once) is shared, and never changed."""
    from adapters.slack.render import render_cached, render_post
    from bot.model.actions import card_actions
    from bot.model.replies import Post

    paper = full_paper(id="2403.54321")
    actions = card_actions(paper.id)
    _, diffusion = render_cached(PaperCard(paper, "matched 'diffusion'", actions=actions))
    _, merging = render_cached(PaperCard(paper, "matched 'merging'", actions=actions))
    assert "matched 'diffusion'" in texts(diffusion[:1])[0] and "matched 'merging'" in texts(merging[:1])[0]
    assert [b for b in diffusion[1:]] == [b for b in merging[1:]]
    assert all(mine is theirs for mine, theirs in zip(diffusion[1:], merging[1:]))  # one conversion for both
    _, first = render_cached(PaperList("Digest", (PaperCard(paper, None, actions=actions),)))
    other = full_paper(id="2403.99999")
    _, second = render_cached(PaperList("Digest", (PaperCard(other, None, actions=card_actions(other.id)),
                                                   PaperCard(paper, None, actions=actions))))
    assert first[-1] is second[-1] and first[-1]["type"] == "actions"  # its buttons, first or second in a list
    assert "1. " in json.dumps(first) and "2. " in json.dumps(second)
    before = json.dumps(diffusion)
    _, mentioned = render_post(Post(PaperCard(paper, "matched 'diffusion'", actions=actions), tag="t",
                                    paper_ids=(paper.id,), mention="S0123ABC"))
    assert "<!subteam^S0123ABC>" in json.dumps(mentioned) and json.dumps(diffusion) == before
