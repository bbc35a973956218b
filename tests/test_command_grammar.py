"""What people type and how Paperboy reads it (issue 22): through the engine, a real SQLite file and the fake sources."""

from __future__ import annotations

import logging
import os

import pytest

from adapters.memory import MemoryAdapter
from bot.model.channels import Group
from bot.commands.registry import COMMANDS, EXAMPLES
from bot.model.replies import Error, PaperCard, Text
from bot.topics.arxiv_taxonomy import ARCHIVES, CATEGORIES
from paperboy_testing.seed import seed_titles_and_abstracts
from tests.test_cli import ROOT, paperboy


@pytest.fixture
def chat(core):
    core.arxiv._min_interval = 0.0  # the fake arXiv needs no 3 s between requests
    adapter = MemoryAdapter(core.engine)
    core.poller.adapters[adapter.platform] = adapter
    return adapter


def error(reply) -> str:
    """The one-line error of *reply* (its first line; the usage line follows)."""
    assert reply.private and isinstance(reply.content, Error), reply.content
    return reply.content.message.splitlines()[0]


def text(reply) -> str:
    assert isinstance(reply.content, Text), reply.content
    return reply.content.body


# -- digest [time zone] [top N] ------------------------------------------------------------------

@pytest.mark.parametrize(("line", "shown"), [
    ("digest weekly mon 09:00 Europe/Paris top 5", "weekly digest on mon at 09:00 Europe/Paris, top 5"),
    ("digest 09:00 top 5", "daily digest at 09:00 UTC, top 5"),
    ("digest 09:00 Europe/Paris 5", "daily digest at 09:00 Europe/Paris, top 5"),
    ("digest weekdays 08:30 TOP 7 america/new_york", "weekday digest at 08:30 America/New_York, top 7"),
])
async def test_digest_takes_top_n_as_the_readme_writes_it(chat, line, shown):
    reply = await chat.push(line)
    assert isinstance(reply.content, Text), reply.content
    assert shown in text(await chat.push("settings"))


@pytest.mark.parametrize(("line", "says"), [
    ("digest 09:00 top", "'top' needs a number"),
    ("digest 09:00 top five", "'top' needs a number"),
    ("digest 09:00 top 5 6", "digest size once"),
    ("digest 09:00 Europe/Paris UTC", "one time zone"),
    ("digest 09:00 top 99", "from 1 to 25"),
])
async def test_digest_options_that_do_not_fit_say_how(chat, line, says):
    assert says in error(await chat.push(line))
    assert "Daily digest" not in text(await chat.push("settings"))


# -- a paper id or link on its own ---------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "2403.10005", "2403.10005v2", "arXiv:2403.10005", "https://arxiv.org/pdf/2403.10005v2",
    "https://huggingface.co/papers/2403.10005", "<https://arxiv.org/abs/2403.10005>", "/papers 2403.10005",
])
async def test_a_line_that_is_only_a_paper_is_show(chat, line):
    reply = await chat.push(line)
    assert isinstance(reply.content, PaperCard), reply.content
    assert reply.content.paper.id == "2403.10005" and reply.content.detail
    assert reply.content.paper.title == seed_titles_and_abstracts()[4][0]


async def test_an_old_style_id_on_its_own_is_show_whatever_its_case(chat, fake_arxiv):
    fake_arxiv.entries["math.GT/0309136"] = {"title": "Knots of old", "summary": "Old-style.", "authors": ["A. B."]}
    reply = await chat.push("math.GT/0309136v1")
    assert isinstance(reply.content, PaperCard), reply.content
    assert reply.content.paper.id == "math.GT/0309136"


async def test_a_paper_id_followed_by_words_is_still_an_unknown_command(chat):
    assert "Unknown command" in error(await chat.push("2403.10005 please"))


@pytest.mark.parametrize("line", ["search https://arxiv.org/pdf/2403.10005v2", "search 2403.10005"])
async def test_search_for_a_paper_suggests_show(chat, fake_hf, line):
    before = len(fake_hf.requests)
    assert error(await chat.push(line)) == "Search looks for words; to see that paper, use: show 2403.10005"
    assert len(fake_hf.requests) == before


async def test_search_for_another_link_says_links_are_not_words(chat):
    message = error(await chat.push("search https://example.com/some/page"))
    assert "link" in message and "show" in message and "unknown field" not in message


# -- arXiv categories ----------------------------------------------------------------------------

def test_the_taxonomy_holds_arxivs_categories():
    assert len(CATEGORIES) >= 150
    for name in ("cs.AI", "cs.CL", "cs.SY", "eess.SY", "math.AG", "math-ph", "astro-ph.CO", "cond-mat.mes-hall",
                 "q-bio.NC", "q-fin.CP", "stat.ML", "econ.EM", "gr-qc", "hep-th", "nucl-ex", "quant-ph",
                 "nlin.CD", "physics.optics"):
        assert name in CATEGORIES
    assert {"cs", "math", "physics", "hep-th", "astro-ph", "cond-mat"} <= ARCHIVES
    assert "cmp-lg" not in CATEGORIES, "defunct archives take no new submissions"


@pytest.mark.parametrize(("line", "says"), [
    ("subscribe cat:nonsense.XX", "cat:nonsense.XX at character 1 is not an arXiv category"),
    ("subscribe cat:cs.CLL", "did you mean cs.CL?"),
    ("subscribe unlearning -cat:cs.XY", "is not an arXiv category"),
    ("preview cat:hep-tj", "did you mean hep-th?"),
    ("search unlearning cat:cs.LGG", "did you mean cs.LG?"),
    ("subscribe cat:physic.*", "did you mean physics.*?"),
])
async def test_a_made_up_category_is_refused_with_the_closest(chat, core, fake_arxiv, line, says):
    message = error(await chat.push(line))
    assert says in message
    assert "\n" not in message
    assert not await core.store.list_topics((await core.store.ensure_channel(chat.channel())).id)
    assert not fake_arxiv.requests


@pytest.mark.parametrize(("line", "stored"), [
    ("subscribe cat:CS.cl", "cat:cs.CL"), ("subscribe cat:Cond-Mat.Mes-Hall", "cat:cond-mat.mes-hall"),
    ("subscribe cat:HEP-TH", "cat:hep-th"), ("subscribe cat:q-bio.* unlearning", "cat:q-bio.* unlearning"),
])
async def test_a_known_category_in_any_case_is_written_as_arxiv_does(chat, line, stored):
    assert not isinstance((await chat.push(line)).content, Error)
    assert f"1. {stored}  (added by" in text(await chat.push("topics"))


async def test_the_poller_never_asks_arxiv_for_a_stored_made_up_category(chat, core, fake_arxiv, clock, caplog):
    channel = await core.store.ensure_channel(chat.channel())
    await core.store.add_topic(channel.id, "cat:nonsense.XX OR cat:cs.CL", "ada", at=clock())
    with caplog.at_level(logging.WARNING, logger="bot.sources.arxiv_feeds"):
        await core.poller.poll_once()
        clock.advance(seconds=3601)
        report = await core.poller.poll_once()
    asked = [r.query.get("search_query") for r in fake_arxiv.requests]
    # The first read waits for the topic's baseline (a poll later), so count kinds, not reads.
    assert asked and set(asked) == {"cat:cs.CL"}, "the known category is read; the made-up one never"
    assert report.categories_read == ["cs.CL"]
    warnings = [r.getMessage() for r in caplog.records if "nonsense.XX" in r.getMessage()]
    assert len(warnings) == 1 and "not an arXiv category" in warnings[0], "said once, not every poll"
    assert "nonsense.XX (not an arXiv category, never read)" in text(await chat.push("status"))


# -- help <command> ------------------------------------------------------------------------------

async def test_help_for_a_command_shows_its_usage_options_and_examples(chat):
    reply = await chat.push("help subscribe")
    body = text(reply)
    assert reply.private
    assert body.startswith(f"Usage: {COMMANDS['subscribe'].usage}")
    assert "notify: a group to mention" in body and "Examples:" in body
    assert 'subscribe "model merging" OR unlearning -diffusion' in body
    assert "trending [n]" not in body, "only that command"
    assert "Usage: digest" in text(await chat.push("help /digest"))


async def test_help_for_an_unknown_command_lists_the_commands(chat):
    message = error(await chat.push("help frobnicate"))
    assert message.startswith("There is no command 'frobnicate'; the commands are help, trending,")
    assert all(name in message for name in COMMANDS)


async def test_every_help_example_works_as_written(chat):
    """The examples are what people copy: none may answer with a usage error."""
    assert set(EXAMPLES) == set(COMMANDS)
    await chat.push("subscribe placeholder")  # so that 'unsubscribe 1' has a topic
    for name in COMMANDS:
        for example in EXAMPLES[name]:
            reply = await chat.push(example)
            if isinstance(reply.content, Error):
                assert "Usage:" not in reply.content.message, (example, reply.content.message)


# -- extra words, mentions, notify ---------------------------------------------------------------

@pytest.mark.parametrize(("line", "says"), [
    ("trending 5 extra", "Give the number of papers as one whole number from 1 to 25, as in 'trending 5', "
                         "not '5 extra'."),
    ("threshold 5 10", "Give the minimum upvotes as one whole number from 0 to 100000, as in 'threshold 10'"),
])
async def test_extra_words_after_a_number_get_a_clear_line(chat, line, says):
    assert error(await chat.push(line)).startswith(says)


@pytest.mark.parametrize("line", [
    "subscribe @everyone", "subscribe @here", "subscribe unlearning @channel", "subscribe <@U123ABC>",
    "subscribe <!channel>", 'subscribe "ping @everyone"', "preview title:@here", "subscribe <#C123>",
])
async def test_a_mention_in_a_topic_is_refused(chat, core, line):
    message = error(await chat.push(line))
    assert "cannot mention anyone" in message and "notify @group" in message
    assert not await core.store.list_topics((await core.store.ensure_channel(chat.channel())).id)


@pytest.mark.parametrize("line", [
    'subscribe "model merging" notify', 'subscribe "model merging" notify researchers', "subscribe unlearning NOTIFY ",
])
async def test_notify_without_a_group_is_usage_not_a_word_of_the_topic(chat, core, line):
    assert error(await chat.push(line)).startswith("notify needs a group: subscribe <query> notify @group")
    assert not await core.store.list_topics((await core.store.ensure_channel(chat.channel())).id)


async def test_notify_with_a_group_and_words_like_notification_still_work(chat):
    reply = await chat.push("subscribe merging notify @Researchers", groups=(Group("R1", "Researchers"),))
    assert not isinstance(reply.content, Error)
    assert not isinstance((await chat.push("subscribe push notification")).content, Error)
    assert "2. push notification" in text(await chat.push("topics"))


# -- topics as typed -----------------------------------------------------------------------------

async def test_topics_come_back_as_typed(chat):
    reply = await chat.push('subscribe author:"Zoë Müller" OR GPT-3.5')
    assert reply.content.title.startswith('Subscribed to author:"Zoë Müller" OR GPT-3.5 (topic 1)')
    assert '1. author:"Zoë Müller" OR GPT-3.5  (added by' in text(await chat.push("topics"))


async def test_a_topic_typed_differently_is_still_the_same_topic(chat):
    await chat.push('subscribe "Model Merging"')
    assert error(await chat.push('subscribe "model  merging"')) == \
        'This channel already follows "Model Merging" (topic 1).'
    reply = await chat.push('unsubscribe "MODEL merging"')
    assert text(reply).startswith('Unsubscribed from topic 1: "Model Merging".')


# -- time zones ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("zone", "suggestion"), [
    ("paris", "did you mean Europe/Paris?"),
    ("PST", "did you mean America/Los_Angeles?"),
    ("UTC+2", "did you mean Etc/GMT-2"),
    ("Europe/Pariss", "did you mean Europe/Paris?"),
    ("new_york", "did you mean America/New_York?"),
])
async def test_a_time_zone_people_write_gets_a_suggestion(chat, zone, suggestion):
    message = error(await chat.push(f"digest 09:00 {zone}"))
    assert message.startswith(f"unknown time zone '{zone}'; {suggestion}")
    assert suggestion in error(await chat.push(f"leaderboard weekly fri 17:00 {zone}"))


# -- the same on the console, as a new user types it ---------------------------------------------

async def test_the_console_reads_what_the_readme_writes(tmp_path, fake_hf, fake_arxiv):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "DISCORD_", "SLACK_", "HF_"))} | {
        "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "PAPERBOY_DATABASE": str(tmp_path / "cli.db"),
        "PAPERBOY_HF_API_URL": fake_hf.base_url, "PAPERBOY_ARXIV_API_URL": fake_arxiv.base_url,
    }
    lines = ["2403.10005", "help subscribe", "digest weekly mon 09:00 Europe/Paris top 5",
             'subscribe author:"Zoë Müller"', "subscribe cat:nonsense.XX", "digest 09:00 paris", "trending 5 extra"]
    code, out, err = await paperboy("console", env=env, stdin="\n".join(lines) + "\n")
    assert code == 0, err
    out = " ".join(out.split())  # the console wraps to its width; compare the words
    assert seed_titles_and_abstracts()[4][0] in out
    assert "Usage: subscribe <query> [notify @group]" in out and "Examples:" in out
    assert "Weekly digest on mon at 09:00 Europe/Paris with the top 5" in out
    assert 'Subscribed to author:"Zoë Müller"' in out
    assert "not an arXiv category" in out and "did you mean Europe/Paris?" in out
    assert "as in 'trending 5'" in out
    assert "Unknown command" not in out and "unknown time zone 'top'" not in out and "Traceback" not in err
