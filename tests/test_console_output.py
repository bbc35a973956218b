"""What a new user reads on the console: posts and answers as `paperboy poll` and `paperboy console` print them.

Everything runs as a subprocess (`paperboy …`) against the fake Hugging Face, as a user would run it.
"""

from __future__ import annotations

import re

from tests.fakes.seed import make_item
from tests.test_cli import env, paperboy  # noqa: F401  (env is a fixture)
from tests.test_console_tty import LOG_LINE

LONG_TITLE = ("Certified machine unlearning at scale: forgetting selected training examples without "
              "retraining from scratch, with guarantees")
ABSTRACT = ("We combine influence functions with noisy gradient steps so that unlearning a request costs "
            "minutes rather than days, and prove that the result is indistinguishable from retraining.")


async def test_a_dry_run_prints_the_posts_a_real_poll_prints_marked_and_logs_no_send(env, fake_hf, clock):
    code, out, _ = await paperboy("console", env=env, stdin="subscribe unlearn*\n")
    assert code == 0 and "Subscribed to" in out
    assert (await paperboy("poll", "--once", env=env))[0] == 0  # the backlog is the baseline
    fake_hf.add(make_item(900, LONG_TITLE, ABSTRACT, daily=clock().date(), paper_id="2411.00900"))

    code, dry, err = await paperboy("poll", "--dry-run", env=env | {"PAPERBOY_LOG_LEVEL": "INFO"})
    assert code == 0, err
    records = [line for line in err.splitlines() if LOG_LINE.match(line)]
    assert not [line for line in records if re.search(r"\bsent\b", line)], err
    assert "1 messages would be posted; none was" in err or "1 message would be posted; none was" in err, err

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
