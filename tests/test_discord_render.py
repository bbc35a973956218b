"""Discord rendering: every message fits Discord's limits, escapes markdown and reads well."""

from __future__ import annotations

from datetime import date, datetime, timezone

from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.discord import render
from bot.model.paper import Paper
from bot.model.replies import Error, PaperCard, PaperList, Post, Text
from tests.fakes.discord_server import discord_limit_errors
from paperboy_testing.seed import seed_id, seed_titles_and_abstracts


def payload(message: render.Message) -> dict:
    return {"content": message.content, "embeds": [e.to_dict() for e in message.embeds]}


def seed_paper(index: int, **changes) -> Paper:
    title, abstract = seed_titles_and_abstracts()[index]
    fields = dict(id=seed_id(index), title=title, abstract=abstract, authors=("Ada Lovelace",),
                  upvotes=12, comments=3, daily_date=date(2026, 11, 27),
                  thumbnail=f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{seed_id(index)}.png")
    fields.update(changes)
    return Paper(**fields)


def field_map(embed: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def test_card_shows_linked_title_authors_stats_links_thumbnail_and_why():
    paper = seed_paper(0, authors=("A One", "B Two", "C Three", "D Four", "E Five"), github_stars=1234,
                       github_repo="https://github.com/org/repo", project_page="https://example.org/p")
    embed = payload(render.content(PaperCard(paper, why='matches "diffusion"')))["embeds"][0]
    assert embed["url"] == f"https://huggingface.co/papers/{paper.id}"
    assert embed["author"]["name"] == "A One, B Two, C Three et al."
    assert embed["description"].startswith('🔎 matches "diffusion"')
    fields = field_map(embed)
    assert fields["Upvotes"] == "12" and fields["Comments"] == "3" and fields["GitHub stars"] == "1,234"
    for url in (paper.hf_url, paper.arxiv_url, paper.pdf_url, "https://github.com/org/repo", "https://example.org/p"):
        assert f"({url})" in fields["Links"]
    assert embed["thumbnail"]["url"] == paper.thumbnail
    assert discord_limit_errors(payload(render.content(PaperCard(paper)))) == []


def test_unknown_counts_are_left_out_but_zero_is_shown():
    embed = payload(render.content(PaperCard(seed_paper(1, upvotes=0, comments=None))))["embeds"][0]
    assert field_map(embed)["Upvotes"] == "0"
    assert "Comments" not in field_map(embed) and "GitHub stars" not in field_map(embed)


def test_summary_prefers_ai_summary_and_cuts_at_a_sentence():
    abstract = " ".join(f"Sentence number {n} says something rather long about models." for n in range(60))
    card = render.card_embed(PaperCard(seed_paper(2, abstract=abstract)))
    assert card.description.endswith("models.")
    assert len(card.description) <= render.CardBudget().summary
    with_ai = render.card_embed(PaperCard(seed_paper(2, abstract=abstract, ai_summary="Short AI summary.")))
    assert with_ai.description == "Short AI summary."


def test_markdown_in_titles_is_escaped_and_mentions_stay_text():
    paper = seed_paper(3, title="**Bold** _claim_ [click](https://evil.example) @everyone `code`")
    embed = payload(render.content(PaperCard(paper)))["embeds"][0]
    assert "\\*\\*Bold\\*\\*" in embed["title"] and "\\_claim\\_" in embed["title"]
    assert "\\[click\\]" in embed["title"] and "\\`code\\`" in embed["title"]
    listing = payload(render.content(PaperList("Today @everyone **now**", (PaperCard(paper),))))
    assert listing["content"].startswith("**Today @everyone \\*\\*now\\*\\***")


def test_unsafe_urls_never_reach_a_markdown_link():
    paper = seed_paper(4, github_repo="https://github.com/a/b) [x](https://evil.example",
                       project_page="javascript:alert(1)", thumbnail="not a url")
    embed = payload(render.content(PaperCard(paper)))["embeds"][0]
    assert "evil" not in field_map(embed)["Links"] and "javascript" not in field_map(embed)["Links"]
    assert "thumbnail" not in embed


def test_ten_huge_cards_fit_in_one_message():
    huge = "Word " * 3000
    cards = tuple(
        PaperCard(seed_paper(i, title="T" * 400 + " x", authors=tuple("Author Name" + str(k) for k in range(300)),
                             abstract=huge, github_repo="https://github.com/" + "a" * 400,
                             organization="O" * 500), why="w " * 800)
        for i in range(10)
    )
    message = render.content(PaperList("Digest " * 100, cards, note="note " * 600))
    assert len(message.embeds) == 10
    assert discord_limit_errors(payload(message)) == []


def test_more_than_ten_papers_become_a_compact_list():
    cards = tuple(PaperCard(seed_paper(i)) for i in range(25))
    message = render.content(PaperList("Trending", cards))
    body = payload(message)
    assert discord_limit_errors(body) == []
    assert 1 <= len(message.embeds) <= 10
    lines = "\n".join(e["description"] for e in body["embeds"]).splitlines()
    assert lines[0].startswith("1. [") and f"({seed_paper(0).hf_url})" in lines[0]
    assert len(lines) + (0 if "Showing" not in body["content"] else 1) >= 10


def test_empty_list_says_so():
    message = render.content(PaperList("Search", (), empty="Nothing matched."))
    assert message.embeds == [] and message.content == "**Search**\nNothing matched."


def test_long_text_and_errors_fit_and_say_what_was_cut():
    body = "\n".join(f"- line {n} with *stars*" for n in range(2000))
    message = render.content(Text(body, title="Status"))
    assert discord_limit_errors(payload(message)) == []
    assert message.embeds[0].description.endswith("more lines)")
    assert "\\*stars\\*" in message.embeds[0].description
    error = render.content(Error("Bad <thing> @here " * 1000))
    assert discord_limit_errors(payload(error)) == []
    assert error.embeds[0].description.startswith("⚠️ Bad")


def test_post_renders_its_content():
    message = render.post(Post(PaperCard(seed_paper(5), why="topic 1"), tag="paper:x"))
    assert len(message.embeds) == 1 and message.embeds[0].description.startswith("🔎 topic 1")


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=3000)


@st.composite
def papers(draw) -> Paper:
    return Paper(
        id="2403.12345", title=draw(texts) or "t", abstract=draw(texts),
        ai_summary=draw(st.none() | texts), authors=tuple(draw(st.lists(texts, max_size=8))),
        upvotes=draw(st.none() | st.integers(0, 10**9)), comments=draw(st.none() | st.integers(0, 10**9)),
        github_stars=draw(st.none() | st.integers(0, 10**9)),
        github_repo=draw(st.none() | st.just("https://github.com/" + "r" * 300)),
        organization=draw(st.none() | texts), daily_date=date(2026, 11, 27),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cards=st.lists(st.builds(PaperCard, papers(), st.none() | texts), max_size=30), title=texts,
       note=st.none() | texts)
def test_any_list_fits_discords_limits(cards, title, note):
    message = render.content(PaperList(title, tuple(cards), note=note))
    assert discord_limit_errors(payload(message)) == []
    assert len(message.embeds) <= 10


def test_a_card_note_goes_in_the_message_text_escaped():
    paper = Paper(id="2403.10001", title="T", abstract="A.")
    message = render.content(PaperCard(paper, note="from the *cache* @everyone"))
    assert message.content and "\\*cache\\*" in message.content
    assert len(message.embeds) == 1
    assert render.content(PaperCard(paper)).content is None


# -- the full card `show` answers with ------------------------------------------------------

def detailed(index: int = 0, **changes) -> Paper:
    fields = dict(
        authors=tuple(f"Author {n}" for n in range(25)), ai_summary="The AI summary in one sentence.",
        published_at=datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc), github_stars=321,
        github_repo="https://github.com/org/repo",
        linked_models=tuple(f"org/model-{n}" for n in range(7)), linked_models_total=30,
        linked_datasets=("org/data_set",), linked_spaces=("org/demo",), linked_spaces_total=1,
    )
    return seed_paper(index, **(fields | changes))


def test_a_detail_card_shows_the_whole_abstract_the_ai_summary_dates_counts_and_linked_repos():
    paper = detailed()
    message = render.content(PaperCard(paper, detail=True))
    body = payload(message)
    assert discord_limit_errors(body) == []
    embed = body["embeds"][0]
    assert embed["description"] == render.escape(paper.abstract)  # all of it, not a 700-character preview
    fields = field_map(embed)
    assert fields["AI summary"] == "The AI summary in one sentence."
    assert fields["Authors"] == ", ".join(f"Author {n}" for n in range(20)) + " and 5 more"
    assert fields["Published"] == "2026-11-25" and fields["Daily Papers"] == "2026-11-27"
    assert fields["Upvotes"] == "12" and fields["Comments"] == "3" and fields["GitHub stars"] == "321"
    assert "(https://github.com/org/repo)" in fields["Links"]
    models = fields["Models"]
    assert models.count("](https://huggingface.co/org/model-") == 5 and models.endswith(" and 25 more")
    assert models.startswith("[org/model-0](https://huggingface.co/org/model-0) · [org/model-1](")
    assert fields["Datasets"] == "[org/data\\_set](https://huggingface.co/datasets/org/data_set)"
    assert fields["Spaces"] == "[org/demo](https://huggingface.co/spaces/org/demo)"


def test_a_card_without_detail_stays_short():
    embed = payload(render.content(PaperCard(detailed())))["embeds"][0]
    fields = field_map(embed)
    assert "AI summary" not in fields and "Models" not in fields and "Published" not in fields
    assert embed["description"] == "The AI summary in one sentence."
    assert embed["author"]["name"] == "Author 0, Author 1, Author 2 et al."


def test_a_very_long_abstract_gives_way_to_discords_limits():
    words = " ".join(f"word{n}" for n in range(3000))  # about 23,000 characters
    paper = detailed(abstract=words, ai_summary=words, title="T" * 400,
                     authors=tuple("Author With A Long Name " + str(n) for n in range(300)),
                     linked_models=tuple(f"org/{'m' * 90}-{n}" for n in range(20)), organization="O" * 500)
    message = render.content(PaperCard(paper, detail=True, why="w " * 500, note="n " * 500))
    body = payload(message)
    assert discord_limit_errors(body) == []
    embed = message.embeds[0]
    assert len(embed) <= render.TOTAL_EMBED_CHARS and len(embed.description) <= render.DESCRIPTION_LIMIT
    assert embed.description.endswith("…") and embed.description.count("word") > 100
    fields = field_map(body["embeds"][0])
    assert len(fields["AI summary"]) <= render.FIELD_VALUE_LIMIT
    assert {"Authors", "AI summary", "Models", "Links"} <= set(fields)  # the abstract gave way, not the fields
    assert fields["Authors"].endswith("more")


def test_a_hostile_title_in_a_detail_card_stays_harmless():
    paper = detailed(title="@everyone **look** [x](https://evil.example) <@123>",
                     abstract="@here _the_ abstract", ai_summary="@everyone `summary`")
    message = render.content(PaperCard(paper, detail=True, note="from the cache @everyone"))
    embed = payload(message)["embeds"][0]
    assert "\\*\\*look\\*\\*" in embed["title"] and "\\[x\\]" in embed["title"]
    assert "\\_the\\_" in embed["description"] and "\\`summary\\`" in field_map(embed)["AI summary"]
    # Only the note is message text, where mentions could ping: it carries no paper text, and the adapter
    # sends every message with allowed_mentions=none.
    assert message.content == "*from the cache @everyone*"


@st.composite
def detailed_papers(draw) -> Paper:
    repo_ids = st.lists(texts.map(lambda t: t[:120]), max_size=12).map(tuple)
    return draw(papers()).model_copy(update=dict(
        linked_models=draw(repo_ids), linked_datasets=draw(repo_ids), linked_spaces=draw(repo_ids),
        linked_models_total=draw(st.none() | st.integers(0, 10**6)),
        published_at=datetime(2026, 11, 25, tzinfo=timezone.utc),
    ))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(paper=detailed_papers(), why=st.none() | texts, note=st.none() | texts)
def test_any_detail_card_fits_discords_limits(paper, why, note):
    message = render.content(PaperCard(paper, why=why, note=note, detail=True))
    assert discord_limit_errors(payload(message)) == []
