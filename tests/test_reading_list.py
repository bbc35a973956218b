"""Reading lists and 👍 through the engine: real storage (SQLite and Postgres), real HTTP to the fake sources."""

from __future__ import annotations

import bibtexparser
import pytest

from adapters.console import render as console_render
from adapters.discord import render as discord_render
from adapters.slack.render import MAX_SECTION_CHARS, render as slack_render
from bot.commands.bibtex import bibtex, citation_keys
from bot.model.paper import Paper
from bot.model.replies import Error, File, PaperList, Text
from paperboy_testing.seed import make_item, seed_id, seed_titles_and_abstracts
from tests.test_cli import env, paperboy  # noqa: F401  (the console fixture and runner)
from tests.test_engine import chat, core  # noqa: F401  (fixtures: both backends, a memory chat)

HOSTILE_TITLE = "Sets {of} 100% & more: a_b {unbalanced"
HOSTILE_ID = "2411.00001"




def body(reply) -> str:
    assert isinstance(reply.content, Text), reply.content
    return reply.content.body


def ids(reply) -> list[str]:
    assert isinstance(reply.content, PaperList), reply.content
    return [card.paper.id for card in reply.content.cards]


async def test_save_then_again_then_unsave(chat, core, clock):
    title = seed_titles_and_abstracts()[0][0]
    reply = await chat.push(f"save {seed_id(0)}")
    assert reply.private
    assert body(reply) == f"Saved {seed_id(0)}: {title} to your reading list (1 paper)."
    assert await core.store.get_paper(seed_id(0)) is not None, "a saved paper is in the cache"

    again = await chat.push(f"save https://huggingface.co/papers/{seed_id(0)}")
    assert "already on your reading list (1 paper)" in body(again)

    clock.advance(seconds=1)
    await chat.push(f"save https://arxiv.org/abs/{seed_id(1)}v2")
    listed = await chat.push("saved")
    assert listed.private and ids(listed) == [seed_id(1), seed_id(0)]
    assert listed.content.title == "Your reading list (1–2 of 2)"

    gone = await chat.push(f"unsave {seed_id(0)}")
    assert gone.private and body(gone) == f"Took {seed_id(0)}: {title} off your reading list (1 paper left)."
    assert "is not on your reading list" in body(await chat.push(f"unsave {seed_id(0)}"))
    assert ids(await chat.push("saved")) == [seed_id(1)]


async def test_a_save_remembers_the_channel_it_came_from(chat, core):
    await chat.push("subscribe diffusion", channel="lab")  # the channel is known now
    await chat.push(f"save {seed_id(2)}", channel="lab")
    await chat.push(f"save {seed_id(3)}", channel="nowhere-known")
    lab = await core.store.get_channel(chat.channel("lab"))
    from bot.model.rows import Reader
    rows = {row.paper_id: row for row in await core.store.saved_papers(Reader("memory", "team", "U1"), limit=10)}
    assert rows[seed_id(2)].channel_id == lab.id
    assert rows[seed_id(3)].channel_id is None


async def test_saved_pages_newest_first_with_more(chat, clock):
    for i in range(12):
        await chat.push(f"save {seed_id(i)}")
        clock.advance(seconds=1)
    first = await chat.push("saved")
    assert first.private
    assert first.content.title == "Your reading list (1–10 of 12)"
    assert ids(first) == [seed_id(i) for i in range(11, 1, -1)]
    rest = await chat.push("more")
    assert rest.private, "the rest of a reading list is private too"
    assert rest.content.title == "Your reading list (11–12 of 12)"
    assert ids(rest) == [seed_id(1), seed_id(0)]
    assert "Nothing more" in body(await chat.push("more"))


async def test_each_person_has_their_own_list(chat):
    await chat.push(f"save {seed_id(0)}", user="U1")
    empty = await chat.push("saved", user="U2")
    assert "Nothing saved yet" in body(empty) and "save 2411.00001" in body(empty)
    await chat.push(f"save {seed_id(5)}", user="U2")
    assert ids(await chat.push("saved", user="U1")) == [seed_id(0)]
    assert ids(await chat.push("saved", user="U2")) == [seed_id(5)]
    assert "not on your reading list" in body(await chat.push(f"unsave {seed_id(0)}", user="U2"))


@pytest.mark.parametrize("text", ["save not-a-paper", "save", "vote nope", "unsave", "saved csv"])
async def test_bad_input_is_one_private_usage_error(chat, text):
    reply = await chat.push(text)
    assert reply.private and isinstance(reply.content, Error), reply.content
    first, usage = reply.content.message.split("\n")
    assert usage.startswith("Usage: "), reply.content.message
    assert "Traceback" not in first


@pytest.mark.parametrize("verb", ["save", "vote"])
async def test_a_paper_that_does_not_exist_is_refused_in_one_line(chat, verb):
    reply = await chat.push(f"{verb} 2411.99999")
    assert reply.private and isinstance(reply.content, Error), reply.content
    assert reply.content.message == "No paper 2411.99999 on Hugging Face Papers or arXiv."


async def test_vote_toggles_and_counts_per_channel(chat):
    assert body(await chat.push(f"vote {seed_id(0)}", user="U1")) == f"👍 {seed_id(0)} (1 in this channel)"
    assert body(await chat.push(f"vote {seed_id(0)}", user="U2")) == f"👍 {seed_id(0)} (2 in this channel)"
    assert body(await chat.push(f"vote {seed_id(0)}", user="U3")) == f"👍 {seed_id(0)} (3 in this channel)"
    back = await chat.push(f"vote https://arxiv.org/abs/{seed_id(0)}", user="U2")
    assert back.private and body(back) == f"Took back your 👍 on {seed_id(0)} (2 in this channel)"
    other = await chat.push(f"vote {seed_id(0)}", user="U2", channel="elsewhere")
    assert body(other) == f"👍 {seed_id(0)} (1 in this channel)"


async def test_saved_bibtex_parses_back_with_every_field_escaped(chat, fake_hf, clock):
    item = make_item(1, HOSTILE_TITLE, "A study.", daily=clock().date(), paper_id=HOSTILE_ID)
    item["paper"]["authors"] = [{"_id": "x1", "name": "Zoë Kravitz-Müller", "hidden": False},
                                {"_id": "x2", "name": "Tri Dao", "hidden": False}]
    fake_hf.add(item)
    assert "Saved" in body(await chat.push(f"save {HOSTILE_ID}"))
    clock.advance(seconds=1)
    await chat.push(f"save {seed_id(0)}")

    reply = await chat.push("saved bibtex")
    assert reply.private and isinstance(reply.content, File), reply.content
    assert reply.content.note == "Your reading list as BibTeX (2 entries)"
    assert reply.content.name.endswith(".bib")

    library = bibtexparser.parse_string(reply.content.content)
    assert not library.failed_blocks, library.failed_blocks
    entries = library.entries
    assert [e.fields_dict["eprint"].value for e in entries] == [seed_id(0), HOSTILE_ID]
    assert len({e.key for e in entries}) == 2
    hostile = entries[1]
    assert hostile.entry_type == "misc"
    fields = {name: field.value for name, field in hostile.fields_dict.items()}
    assert fields["author"] == r'Zo{\"e} Kravitz-M{\"u}ller and Tri Dao'
    assert fields["title"] == (r"Sets {\textbraceleft}of{\textbraceright} 100{\%} {\&} more: "
                               r"a{\_}b {\textbraceleft}unbalanced")
    assert fields["archivePrefix"] == "arXiv" and fields["url"] == f"https://arxiv.org/abs/{HOSTILE_ID}"
    assert fields["year"] == str(clock().year)
    assert "primaryClass" not in fields, "the Paper model has no categories: left out, not guessed"
    assert hostile.key == f"kravitzmuller{clock().year}sets"


async def test_saved_bibtex_of_an_empty_list_says_how_to_start(chat):
    assert "Nothing saved yet" in body(await chat.push("saved bibtex"))


def test_citation_keys_are_unique_and_do_not_depend_on_the_order():
    a = Paper(id="2411.00002", title="The Model", authors=("Ada Lovelace",), daily_date=None)
    b = Paper(id="2411.00001", title="Model again", authors=("Ada Lovelace",))
    c = Paper(id="hep-th/9901001", title="日本語", authors=())
    keys = citation_keys([a, b, c])
    assert keys == citation_keys([c, b, a])
    assert keys == {"2411.00001": "lovelacemodela", "2411.00002": "lovelacemodelb", "hep-th/9901001": "arxivhepth9901001"}
    text = bibtex([a, b, c])
    assert not bibtexparser.parse_string(text).failed_blocks


def test_every_renderer_shows_a_file_and_cuts_a_long_one():
    small = File(name="reading-list.bib", content="@misc{x,\n  title = {<@U1> @everyone}\n}\n", note="Notes & <!here>")
    big = File(name="reading-list.bib", content="\n".join(f"line {n} & more" for n in range(2000)), note="Big")
    assert "@misc{x," in console_render(small) and "Notes & <!here>" in console_render(small)

    message = discord_render.content(small)
    assert message.content.startswith("Notes & <!here>") and "```\n@misc{x," in message.content
    cut = discord_render.content(big).content
    assert len(cut) <= discord_render.CONTENT_LIMIT and "cut here" in cut

    slack = slack_render(small)
    blocks = slack.block_dicts()
    assert "&lt;!here&gt;" in blocks[0]["text"]["text"] and "&lt;@U1&gt;" in blocks[1]["text"]["text"]
    long = slack_render(big).block_dicts()
    assert all(len(b["text"]["text"]) <= MAX_SECTION_CHARS for b in long if "text" in b)
    assert "cut here" in long[-1]["elements"][0]["text"]


async def test_console_saves_and_prints_bibtex(env):  # noqa: F811
    code, out, err = await paperboy("console", env=env, stdin=f"save {seed_id(0)}\nsaved\nsaved bibtex\n")
    assert code == 0, err
    assert f"Saved {seed_id(0)}:" in out
    assert "Your reading list as BibTeX (1 entry)" in out
    assert f"eprint = {{{seed_id(0)}}}" in out and "archivePrefix = {arXiv}" in out
    assert "Traceback" not in err
