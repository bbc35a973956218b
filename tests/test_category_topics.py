"""Topics that name an arXiv category follow its new submissions, against fake arXiv and Hugging Face servers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.memory import MemoryAdapter
from paperboy_testing.seed import make_item



@pytest.fixture
def chat(core):
    # The real client spaces requests 3 s apart, as arXiv asks; the fake needs no such courtesy.
    core.arxiv._min_interval = 0.0
    adapter = MemoryAdapter(core.engine)
    core.poller.adapters[adapter.platform] = adapter
    return adapter


def submit(fake_arxiv, clock, pid: str, title: str, *, categories=("cs.CL",), hours_ago: float = 5) -> None:
    published = (clock() - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fake_arxiv.add(pid, title=title, published=published, categories=list(categories),
                   summary=f"The abstract of {title}.")


def posted(chat) -> list[str]:
    return [post.tag.removeprefix("paper:") for _, post in chat.pop_posts()]


def category_reads(fake_arxiv) -> list[str]:
    return [r.query["search_query"] for r in fake_arxiv.requests if "search_query" in r.query]


async def test_a_category_topic_posts_exactly_the_new_matching_submissions(chat, core, fake_arxiv, clock):
    submit(fake_arxiv, clock, "2612.00001", "An older parsing paper")
    submit(fake_arxiv, clock, "2612.00002", "Unlearning, the first", hours_ago=30)
    await chat.push("subscribe cat:cs.CL")
    report = await core.poller.poll_once()
    assert report.categories_read == ["cs.CL"] and posted(chat) == [], "the first read is the baseline"
    submit(fake_arxiv, clock, "2612.00010", "A new parsing paper", hours_ago=1)
    submit(fake_arxiv, clock, "2612.00011", "A new cross-listed paper", categories=("cs.LG", "cs.CL"))
    submit(fake_arxiv, clock, "2612.00012", "A new vision paper", categories=("cs.CV",), hours_ago=1)
    await core.poller.poll_once()
    assert posted(chat) == [] and category_reads(fake_arxiv) == ["cat:cs.CL"], "read once an interval"
    clock.advance(seconds=3601)
    report = await core.poller.poll_once()
    assert report.categories_read == ["cs.CL"]
    assert sorted(posted(chat)) == ["2612.00010", "2612.00011"]
    clock.advance(seconds=3601)
    await core.poller.poll_once()
    assert posted(chat) == [], "the overlapping read sees them again and posts nothing twice"
    assert len(category_reads(fake_arxiv)) == 3


async def test_words_and_filters_narrow_a_category(chat, core, fake_arxiv, clock):
    await chat.push("subscribe cat:cs.* unlearning -diffusion")
    await core.poller.poll_once()
    submit(fake_arxiv, clock, "2612.00020", "Machine unlearning for LLMs")
    submit(fake_arxiv, clock, "2612.00021", "Unlearning in diffusion models", categories=("cs.CV",))
    submit(fake_arxiv, clock, "2612.00022", "Unlearning knots", categories=("math.GT",))
    submit(fake_arxiv, clock, "2612.00023", "Parsing again")
    clock.advance(seconds=3601)
    await core.poller.poll_once()
    ((_, post),) = chat.pop_posts()
    assert post.tag == "paper:2612.00020" and "cs.CL" in post.content.why
    assert category_reads(fake_arxiv) == ["cat:cs.*", "cat:cs.*"]


async def test_a_topic_without_a_category_does_not_get_arxiv_papers(chat, core, fake_arxiv, clock):
    await chat.push("subscribe cat:cs.CL", channel="arxiv")
    await chat.push("subscribe unlearning", channel="hf")
    await core.poller.poll_once()
    chat.pop_posts()
    submit(fake_arxiv, clock, "2612.00030", "Unlearning, announced")
    clock.advance(seconds=3601)
    await core.poller.poll_once()
    assert [(ref.channel, post.tag) for ref, post in chat.pop_posts()] == [("arxiv", "paper:2612.00030")]


async def test_a_paper_on_both_sources_is_posted_once_and_merged(chat, core, fake_arxiv, fake_hf, clock):
    await chat.push("subscribe cat:cs.CL unlearning")
    await core.poller.poll_once()
    submit(fake_arxiv, clock, "2612.00040", "Unlearning from arXiv first")
    clock.advance(seconds=3601)
    await core.poller.poll_once()
    assert posted(chat) == ["2612.00040"]
    fake_hf.add(make_item(1, "Unlearning from arXiv first", "Hugging Face's abstract.", daily=clock().date(),
                          paper_id="2612.00040", upvotes=42))
    report = await core.poller.poll_once()
    assert posted(chat) == [] and report.fetched > 0, "Hugging Face listing it later posts nothing new"
    paper = (await core.store.get_papers(["2612.00040"]))["2612.00040"]
    assert paper.categories == ("cs.CL",) and paper.upvotes == 42, "arXiv's categories with Hugging Face's upvotes"
    assert paper.source == "huggingface"


async def test_a_paper_hugging_face_listed_first_is_posted_once_from_arxiv(chat, core, fake_arxiv, fake_hf, clock):
    await chat.push("subscribe cat:cs.CL unlearning")
    await core.poller.poll_once()
    fake_hf.add(make_item(1, "Unlearning on Hugging Face first", "An abstract.", daily=clock().date(),
                          paper_id="2612.00050", upvotes=7))
    await core.poller.poll_once()
    assert posted(chat) == [], "Hugging Face gives no categories, so cat: cannot match yet"
    submit(fake_arxiv, clock, "2612.00050", "Unlearning on Hugging Face first")
    clock.advance(seconds=3601)
    await core.poller.poll_once()
    assert posted(chat) == ["2612.00050"]
    clock.advance(seconds=3601)
    await core.poller.poll_once()
    assert posted(chat) == [], "neither source posts it again"


async def test_a_category_that_fails_is_one_line_and_read_again_next_poll(chat, core, fake_arxiv, clock):
    await chat.push("subscribe cat:cs.CL")
    fake_arxiv.fail_next("garbage")
    report = await core.poller.poll_once()
    (error,) = report.errors
    assert "cs.CL" in error and "\n" not in error and report.categories_read == []
    report = await core.poller.poll_once()
    assert report.categories_read == ["cs.CL"], "a failed read is not counted as a read"
    assert report.errors == []


async def test_no_topic_names_a_category_so_arxiv_is_never_asked(chat, core, fake_arxiv, clock):
    await chat.push("subscribe unlearning")
    await chat.push("subscribe *", channel="everything")
    await core.poller.poll_once()
    clock.advance(seconds=3601)
    await core.poller.poll_once()
    assert category_reads(fake_arxiv) == []


async def test_each_category_is_read_once_for_many_topics(chat, core, fake_arxiv, clock):
    await chat.push("subscribe cat:cs.CL", channel="a")
    await chat.push("subscribe cat:cs.CL parsing", channel="b")
    await chat.push("subscribe cat:cs.LG OR cat:cs.CL", channel="c")
    await core.poller.poll_once()
    assert sorted(category_reads(fake_arxiv)) == ["cat:cs.CL", "cat:cs.LG"]
    submit(fake_arxiv, clock, "2612.00060", "Parsing with transformers", categories=("cs.CL", "cs.LG"))
    clock.advance(seconds=3601)
    await core.poller.poll_once()
    assert sorted(ref.channel for ref, _ in chat.pop_posts()) == ["a", "b", "c"], "once per channel"


async def test_subscribing_sees_the_categories_an_arxiv_read_gave(chat, core, fake_arxiv, fake_hf, clock):
    await chat.push("subscribe cat:cs.CL", channel="first")
    await core.poller.poll_once()
    submit(fake_arxiv, clock, "2612.00070", "Listed on both")
    clock.advance(seconds=3601)
    await core.poller.poll_once()
    fake_hf.add(make_item(1, "Listed on both", "An abstract.", daily=clock().date(), paper_id="2612.00070"))
    chat.pop_posts()
    reply = await chat.push("subscribe cat:cs.CL", channel="second")
    assert "2612.00070" in [c.paper.id for c in reply.content.cards], "matched through the cached categories"
    assert "also follows arXiv's new submissions in cs.CL" in reply.content.note
    await core.poller.poll_once()
    assert chat.pop_posts() == [], "so it is the new topic's baseline, not a post"


async def test_status_says_when_the_channels_categories_were_read(chat, core, fake_arxiv, clock):
    await chat.push("subscribe cat:cs.CL OR cat:cs.LG")
    before = (await chat.push("status")).content.body
    assert "arXiv categories here: cs.CL (not read yet), cs.LG (not read yet)" in before
    await core.poller.poll_once()
    clock.advance(minutes=5)
    after = (await chat.push("status")).content.body
    assert "cs.CL (read " in after and "5 min ago" in after
    assert "arXiv categories" not in (await chat.push("status", channel="elsewhere")).content.body


async def test_reads_that_outrun_their_time_leave_the_rest_for_the_next_poll(chat, core, fake_arxiv, clock):
    core.poller.feeds.budget = 0.0  # each poll's time for arXiv runs out after its first read
    await chat.push("subscribe cat:cs.CL OR cat:cs.LG OR cat:cs.CV")
    first = await core.poller.poll_once()
    assert len(first.categories_read) == 1 and len(first.categories_deferred) == 2
    second = await core.poller.poll_once()
    third = await core.poller.poll_once()
    assert sorted(first.categories_read + second.categories_read + third.categories_read) == [
        "cs.CL", "cs.CV", "cs.LG"], "the unread go first, so every category gets its turn"
    clock.advance(seconds=3601)
    fourth = await core.poller.poll_once()
    assert fourth.categories_read == first.categories_read, "then the longest unread"


async def test_a_preview_of_a_category_reads_its_newest_submissions_on_a_fresh_database(chat, core, fake_arxiv, clock):
    submit(fake_arxiv, clock, "2612.00040", "Machine unlearning for parsers")
    submit(fake_arxiv, clock, "2612.00041", "Unlearning, ten days old", hours_ago=240)
    submit(fake_arxiv, clock, "2612.00042", "Parsing without forgetting")
    reply = await chat.push("preview cat:cs.CL unlearn*")
    assert [c.paper.id for c in reply.content.cards] == ["2612.00040"]
    assert "arXiv's newest in cs.CL" in reply.content.title and reply.content.title.startswith(
        "Preview of cat:cs.CL unlearn*: 1 of ")
    assert "cs.CL" in reply.content.cards[0].why
    assert category_reads(fake_arxiv) == ["cat:cs.CL"]
    assert await core.store.get_paper("2612.00040") is None, "not cached: the poller's read must see it new"
    again = await chat.push("preview cat:cs.CL unlearn* OR forgetting")
    assert {"2612.00040", "2612.00042"} <= {c.paper.id for c in again.content.cards}
    assert category_reads(fake_arxiv) == ["cat:cs.CL"], "asked once"


async def test_a_preview_waits_for_arxiv_no_longer_than_an_answer_may_take(chat, core, fake_arxiv, clock, settings):
    import time

    submit(fake_arxiv, clock, "2612.00050", "Unlearning, slowly")
    core.arxiv._min_interval = 30.0  # as if another request had just gone out: the next one waits its turn
    core.arxiv._last_request = time.monotonic()
    started = time.monotonic()
    reply = await chat.push("preview cat:cs.CL unlearn*")
    assert time.monotonic() - started < settings.answer_timeout + 1
    assert reply.content.cards == () and "arXiv has not listed cs.CL in time" in reply.content.note


async def test_a_search_by_category_says_why_nothing_passes(chat, core, fake_arxiv, clock):
    plain = await chat.push("search zorblaxian")
    assert plain.content.empty == "No papers match zorblaxian."
    reply = await chat.push("search learning cat:cs.CL")
    assert reply.content.cards == (), "Hugging Face's papers carry no categories"
    assert reply.content.empty.startswith(
        "No papers match learning cat:cs.CL. cat: passes only papers whose arXiv categories Paperboy knows (0 of the ")
    assert reply.content.empty.endswith("'preview learning cat:cs.CL' reads the newest in cs.CL from arXiv.")
    submit(fake_arxiv, clock, "2612.00060", "Learning to parse with few labels")
    await chat.push("show 2612.00060")  # arXiv's record, categories and all, is cached now
    found = await chat.push("search learning cat:cs.CL")
    assert [c.paper.id for c in found.content.cards] == ["2612.00060"]


async def test_a_preview_gives_a_listed_paper_its_categories_and_keeps_hugging_faces_counts(chat, core, fake_arxiv,
                                                                                            fake_hf, clock):
    from paperboy_testing.seed import seed_id

    merging = seed_id(90)  # on Hugging Face's lists, without categories
    submit(fake_arxiv, clock, merging, "What Matters for Model Merging at Scale?", categories=("cs.LG",))
    reply = await chat.push("preview cat:cs.LG merging")
    (card,) = reply.content.cards
    assert card.paper.id == merging and card.paper.categories == ("cs.LG",) and card.paper.upvotes
    assert "cs.LG" in card.why
