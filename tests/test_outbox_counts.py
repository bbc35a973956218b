"""`outbox_counts` on both backends: every state, a few, one channel's.

Postgres counts all but the sent entries from partial indexes and the sent ones as what the
rest leaves of every row, so each state is checked against SQLite's plain count by state.
"""

from __future__ import annotations

from bot.ports.store import OUTBOX_STATES
from tests.test_storage import OTHER, REF, T0, store  # noqa: F401  (fixtures)


async def _one_of_each(store, channel_id: int, paper_ids: list[str]) -> None:
    """Queue *paper_ids* in *channel_id*, then leave them sent, sending, dead, pending (one each, in order)."""
    await store.enqueue_posts(channel_id, [(p, None, None) for p in paper_ids], at=T0, max_per_hour=100)
    sent, sending, dead, *_ = [e for e in await store.due_outbox(now=T0) if e.channel_id == channel_id]
    assert await store.claim_outbox(sent.id)
    await store.mark_outbox_sent(sent.id, message_ref="m", at=T0, posted_states={})
    assert await store.claim_outbox(sending.id)
    await store.mark_outbox_dead(dead.id, error="HTTP 403")


async def test_counts_by_state_of_all_channels_some_states_and_one_channel(store):
    channel = await store.ensure_channel(REF)
    other = await store.ensure_channel(OTHER)
    assert await store.outbox_counts() == {} and await store.outbox_counts(states=("pending",)) == {}
    await _one_of_each(store, channel.id, ["p1", "p2", "p3", "p4", "p5"])
    await _one_of_each(store, other.id, ["q1", "q2", "q3", "q4"])

    assert await store.outbox_counts() == {"pending": 3, "sending": 2, "sent": 2, "dead": 2}
    assert await store.outbox_counts(states=OUTBOX_STATES) == await store.outbox_counts()
    assert await store.outbox_counts(states=("pending", "sending")) == {"pending": 3, "sending": 2}
    assert await store.outbox_counts(states=["sent"]) == {"sent": 2}
    assert await store.outbox_counts(states=()) == {}
    assert await store.outbox_counts(channel.id) == {"pending": 2, "sending": 1, "sent": 1, "dead": 1}
    assert await store.outbox_counts(other.id, states={"dead", "pending"}) == {"dead": 1, "pending": 1}


async def test_a_retried_entry_counts_as_pending_and_a_settled_one_not(store):
    """Pending is counted as unsettled less sending: an entry waiting to retry is pending, a sent one is not."""
    channel = await store.ensure_channel(REF)
    await store.enqueue_posts(channel.id, [("p1", None, None), ("p2", None, None)], at=T0, max_per_hour=10)
    first, second = await store.due_outbox(now=T0)
    assert await store.claim_outbox(first.id)
    await store.mark_outbox_retry(first.id, error="HTTP 503", retry_at=T0)
    assert await store.outbox_counts(states=("pending", "sending")) == {"pending": 2}
    assert await store.claim_outbox(first.id)
    await store.mark_outbox_sent(first.id, message_ref="m", at=T0, posted_states={})
    assert await store.outbox_counts() == {"pending": 1, "sent": 1}
