"""What a new user reads on the console: posts and answers as `paperboy poll` and `paperboy console` print them.

Everything runs as a subprocess (`paperboy …`) against the fake Hugging Face, as a user would run it.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
from datetime import date, datetime, timezone
from pathlib import Path

from adapters.console import CONSOLE_CHANNEL
from storage.sqlite import Store

from paperboy_testing.seed import make_item
from tests.test_cli import env, paperboy  # noqa: F401  (env is a fixture)
from tests.test_console_tty import LOG_LINE, PROMPT, Terminal

LONG_TITLE = ("Certified machine unlearning at scale: forgetting selected training examples without "
              "retraining from scratch, with guarantees")
ABSTRACT = ("We combine influence functions with noisy gradient steps so that unlearning a request costs "
            "minutes rather than days, and prove that the result is indistinguishable from retraining.")


async def subscribe_console(env: dict[str, str], fake_hf) -> None:
    """The console follows `unlearn*`, every paper Hugging Face has now as its baseline (as after a first poll)."""
    now = datetime.now(timezone.utc)
    async with await Store.open(env["PAPERBOY_DATABASE"]) as store:
        channel = await store.ensure_channel(CONSOLE_CHANNEL)
        topic = await store.add_topic(channel.id, "unlearn*", "tester", at=now)
        await store.mark_baseline_taken([topic.id])
        await store.record_baseline(channel.id, list(fake_hf.items), at=now)


async def logged(log: Path, line: str, *, timeout: float = 20) -> None:
    """Wait until *line* is in *log*: as soon as it is, or fail after *timeout* s (a loaded machine is slow)."""
    deadline = time.monotonic() + timeout
    while line not in log.read_text():
        if time.monotonic() > deadline:
            raise AssertionError(f"{line!r} never logged:\n{log.read_text()}")
        await asyncio.sleep(0.05)


async def test_a_dry_run_prints_the_posts_a_real_poll_prints_marked_and_logs_no_send(env, fake_hf, clock):
    await subscribe_console(env, fake_hf)
    fake_hf.add(make_item(900, LONG_TITLE, ABSTRACT, daily=clock().date(), paper_id="2411.00900"))

    code, dry, err = await paperboy("poll", "--dry-run", env=env | {"PAPERBOY_LOG_LEVEL": "INFO"})
    assert code == 0, err
    records = [line for line in err.splitlines() if LOG_LINE.match(line)]
    assert not [line for line in records if re.search(r"\bsent\b", line)], err
    assert "1 message would be posted; none was, and the database is unchanged" in err, err

    code, real, err = await paperboy("poll", "--once", env=env)
    assert code == 0, err
    assert "Certified machine unlearning" in real and "matched:" in real
    marked = [line for line in dry.splitlines() if line.startswith("[dry run, not sent] ")]
    assert marked == ["[dry run, not sent] paper:2411.00900 in console:local/console:"]
    assert "\n".join(line for line in dry.splitlines() if line not in marked) == real.rstrip("\n") + "\n", \
        "the dry run shows each post exactly as the real poll prints it"


async def test_private_answers_are_not_marked_on_the_one_person_console(env, fake_hf):
    code, out, err = await paperboy("console", env=env, stdin="status\nsaved\nsettings\n")
    assert code == 0, err
    assert "Paperboy status" in out and "only you can see" not in out


async def test_an_80_column_terminal_gets_whole_words_and_aligned_items(env, fake_hf, tmp_path):
    fake_hf.add(make_item(900, LONG_TITLE, ABSTRACT * 2, daily=date.today(), paper_id="2411.00900"))  # tops trending
    term = await Terminal.spawn(env=env | {"TERM": "xterm"}, cwd=tmp_path, columns=80)
    try:
        at = await term.wait_for(PROMPT)
        term.type("trending 12\r")
        last = fake_hf.trending_ids[11]
        end = await term.wait_for(PROMPT, after=await term.wait_for(f"huggingface.co/papers/{last}", after=at))
        lines = term.text(at, end).split("\n")[1:-1]  # past the typed command, up to the next prompt
    finally:
        term.close()
    assert max(map(len, lines)) <= 80, "\n".join(lines)
    flat = " ".join(" ".join(lines).split())
    for paper_id in fake_hf.trending_ids[:12]:  # a word split across lines would not be found whole
        paper = fake_hf.items[paper_id]["paper"]
        assert f"{' '.join(paper['title'].split())} [{paper_id}]" in flat
    assert " ".join(ABSTRACT.split()[:20]) in flat
    items = [n for n, line in enumerate(lines) if re.match(r"( \d|\d\d)\. ", line)]
    assert [lines[n][:4] for n in items] == [f"{k:>2}. " for k in range(1, 13)], "numbers right-aligned"
    body = [line for n, line in enumerate(lines) if n > items[0] and n not in items and line.strip()]
    assert all(re.match(r" {4}\S", line) for line in body), "titles' and bodies' text start in one column"
    assert lines[items[0]].startswith(" 1. Certified machine unlearning") and lines[items[0] + 1].startswith("    ")


async def test_a_vote_on_the_console_does_not_print_the_post_again(env, fake_hf, clock, tmp_path):
    await subscribe_console(env, fake_hf)
    fake_hf.add(make_item(900, LONG_TITLE, ABSTRACT, daily=clock().date(), paper_id="2411.00900"))
    term = await Terminal.spawn(env=env | {"TERM": "xterm"}, cwd=tmp_path, columns=80)
    try:
        at = await term.wait_for("https://huggingface.co/papers/2411.00900")  # the poller posted it
        term.type("vote 2411.00900\r")
        at = await term.wait_for("👍", after=at)
        # The edit that shows the new 👍 count has been delivered to the console (its own log line).
        await logged(tmp_path / "paperboy.log", "sent refresh:paper:2411.00900:1 to console")
        term.type("topics\r")  # something after the edit, to know the screen has caught up
        end = await term.wait_for("unlearn*", after=at)
        after_vote = term.text(at, end)
    finally:
        term.close()
    assert "Certified machine" not in after_vote and "(updated)" not in after_vote and "Updated" not in after_vote


async def test_an_edit_that_changes_what_the_console_shows_is_one_line(core):
    from adapters.console import ConsoleAdapter
    from bot.model.paper import Paper
    from bot.model.replies import PaperCard, Post

    out = io.StringIO()
    console = ConsoleAdapter(core.engine, stdin=io.StringIO(), stdout=out, width=80)
    paper = Paper(id="2411.00900", title=LONG_TITLE, abstract=ABSTRACT, upvotes=9)
    await console.send(CONSOLE_CHANNEL, Post(PaperCard(paper), tag="paper:2411.00900"))
    printed = out.getvalue()
    await console.edit(CONSOLE_CHANNEL, "paper:2411.00900",
                       Post(PaperCard(paper.model_copy(update={"upvotes": 25})), tag="paper:2411.00900"))
    note = out.getvalue()[len(printed):].strip()
    assert note.startswith("Updated: 25 upvotes — Certified machine unlearning at scale"), note
    assert "\n" not in note and len(note) <= 80
