"""Save, 👍 and threads on Discord end to end: the real Engine, DeliveryWorker and SQLite store.

Clicks and slash commands go through the real discord.py client to the real core;
posts, edits and threads go out through the delivery worker to the fake Discord,
which keeps them as Discord would.
"""

from __future__ import annotations

from datetime import datetime, timezone

from bot.model.channels import ChannelRef
from bot.model.paper import Paper
from bot.model.replies import PaperCard, Post
from bot.delivery.worker import DeliveryWorker
from tests.fakes.discord_server import FakeDiscord
from tests.test_discord_actions import buttons, clicked
from tests.test_discord_adapter import (  # noqa: F401  (fixtures)
    bot, embeds, fake_discord, is_ephemeral, run,
)

PAPER_ID = "2403.10001"
PAPER = Paper(id=PAPER_ID, title="Model merging " + "and more " * 30, abstract="We merge models. It works.",
              authors=("Ada",))


def now() -> datetime:
    return datetime.now(timezone.utc)


def ref(fake: FakeDiscord) -> ChannelRef:
    return ChannelRef("discord", fake.guild_id, fake.channel_id)


async def queue_paper(core, fake: FakeDiscord) -> int:
    """Cache `PAPER` and queue its post to the channel, as the poller does for a match; return the channel id."""
    channel = await core.store.ensure_channel(ref(fake))
    await core.store.save_papers([PAPER])
    await core.store.enqueue_posts(channel.id, [(PAPER_ID, None, None)], at=now(), max_per_hour=10)
    return channel.id


def labels(message: dict) -> dict[str, str]:
    """custom_id → label of a message's Paperboy buttons."""
    return {b["custom_id"]: b["label"] for row in buttons(message) for b in row if "custom_id" in b}


async def test_three_votes_edit_the_post_to_show_three(bot, core, fake_discord):
    await queue_paper(core, fake_discord)
    assert (await core.poller.worker.drain()).sent == 1
    (post,) = fake_discord.messages[fake_discord.channel_id]
    assert labels(post) == {f"paperboy:save:{PAPER_ID}": "🔖 Save", f"paperboy:vote:{PAPER_ID}": "👍",
                           f"paperboy:downvote:{PAPER_ID}": "👎"}

    answers = [await clicked(fake_discord, await fake_discord.click(post["id"], f"paperboy:vote:{PAPER_ID}",
                                                                    user_id=user))
               for user in ("5001", "5002", "5003")]
    await core.poller.worker.drain()

    assert all(is_ephemeral(a) for a in answers)
    assert not any(e.get("color") == 0xE5484D for a in answers for e in embeds(a)), [a.messages() for a in answers]
    (edited,) = fake_discord.messages[fake_discord.channel_id]
    assert edited["id"] == post["id"] and edited["edited_timestamp"]
    assert labels(edited)[f"paperboy:vote:{PAPER_ID}"] == "👍 3"
    assert fake_discord.posted_paper_ids(fake_discord.channel_id) == [PAPER_ID], "edited, never posted again"


async def test_a_save_click_puts_the_paper_on_the_reading_list(bot, core, fake_discord):
    await queue_paper(core, fake_discord)
    await core.poller.worker.drain()
    (post,) = fake_discord.messages[fake_discord.channel_id]

    answer = await clicked(fake_discord, await fake_discord.click(post["id"], f"paperboy:save:{PAPER_ID}"))
    saved = await run(fake_discord, "saved")
    others = await run(fake_discord, "saved", user_id="5009")

    assert is_ephemeral(answer) and not any(e.get("color") == 0xE5484D for e in embeds(answer))
    assert is_ephemeral(saved) and PAPER_ID in str(saved.messages())
    assert PAPER_ID not in str(others.messages())


async def test_with_threads_on_a_post_gets_exactly_one_thread(bot, core, fake_discord):
    answer = await run(fake_discord, "threads", {"state": "on"})
    assert not any(e.get("color") == 0xE5484D for e in embeds(answer)), answer.messages()
    await queue_paper(core, fake_discord)

    await core.poller.worker.drain()
    await core.poller.worker.drain()  # nothing left: no second thread

    (post,) = fake_discord.messages[fake_discord.channel_id]
    assert list(fake_discord.threads) == [post["id"]]
    name = fake_discord.threads[post["id"]]["name"]
    assert name.startswith("Model merging") and len(name) <= 100
    assert len(fake_discord.requests_to("POST", "/threads")) == 1


async def post_sent_before_the_crash(bot, store, channel_id: int, channel_ref):
    """A crashed process sent the paper's post and settled it: return that send and the thread entry it left."""
    [paper_entry] = [e for e in await store.outbox_in_state("pending", channel_id=channel_id) if e.kind == "paper"]
    assert await store.claim_outbox(paper_entry.id)
    sent = await bot.send(channel_ref, Post(PaperCard(PAPER), tag=paper_entry.tag, paper_ids=(PAPER_ID,)))
    await store.mark_outbox_sent(paper_entry.id, message_ref=sent.message_ref, at=now())
    [thread_entry] = await store.outbox_in_state("pending", channel_id=channel_id)
    return sent, thread_entry


async def test_a_thread_left_sending_by_a_crash_is_reconciled_without_a_second_thread(bot, core, fake_discord):
    await run(fake_discord, "threads", {"state": "on"})
    channel_id = await queue_paper(core, fake_discord)
    store = core.store
    # The crashed process sent the post, settled it, claimed the thread entry and opened it: then died.
    sent, thread_entry = await post_sent_before_the_crash(bot, store, channel_id, ref(fake_discord))
    assert thread_entry.kind == "thread" and thread_entry.target_ref == sent.message_ref
    assert await store.claim_outbox(thread_entry.id)
    opened = await bot.open_thread(ref(fake_discord), sent.message_ref,
                                   Post(PaperCard(PAPER, detail=True), tag=thread_entry.tag, paper_ids=(PAPER_ID,)))

    restarted = DeliveryWorker(store=store, adapters={"discord": bot})
    reconciled = await restarted.reconcile()
    report = await restarted.drain()

    assert reconciled == 1 and report.sent == 0
    assert list(fake_discord.threads) == [opened.message_ref] == [sent.message_ref]
    assert len(fake_discord.requests_to("POST", "/threads")) == 1
    [settled] = [e for e in await store.outbox_in_state("sent", channel_id=channel_id) if e.kind == "thread"]
    assert settled.message_ref == opened.message_ref


async def test_a_thread_claimed_but_never_opened_opens_once_after_the_crash(bot, core, fake_discord):
    await run(fake_discord, "threads", {"state": "on"})
    channel_id = await queue_paper(core, fake_discord)
    store = core.store
    sent, thread_entry = await post_sent_before_the_crash(bot, store, channel_id, ref(fake_discord))
    assert await store.claim_outbox(thread_entry.id)  # ...and the process died before opening it

    restarted = DeliveryWorker(store=store, adapters={"discord": bot})
    await restarted.reconcile()
    report = await restarted.drain()

    assert report.sent == 1 and list(fake_discord.threads) == [sent.message_ref]
