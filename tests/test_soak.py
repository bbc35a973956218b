"""Soak: 120 poll cycles against a Hugging Face that fails 30 % of requests, papers appearing all along.

The bot must never crash, and at the end every paper that appeared reaches every
matching channel exactly once.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from bot.delivery.poller import Poller
from bot.sources import HuggingFaceClient, RequestBudget
from bot.topics import parse_query
from storage.sqlite import Store
from paperboy_testing.hf_server import FakeHuggingFace
from adapters.memory import MemoryAdapter
from paperboy_testing.seed import make_item, seed_items, seed_titles_and_abstracts

CYCLES = 120
TOPICS = {
    "unlearning": "unlearn*",
    "diffusion": "diffusion -image -video",
    "merging": '"model merging" OR ensembles',
    "neubig": "author:neubig",
    "robust": "robust* (adversarial OR attack OR attacks)",
    "language": '"language models" -diffusion',
}


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


def new_item(rng: random.Random, n: int, today) -> dict:
    seeds = seed_titles_and_abstracts()
    title_a, abstract_a = seeds[rng.randrange(len(seeds))]
    title_b, _ = seeds[rng.randrange(len(seeds))]
    title = " ".join(title_a.split()[:4] + title_b.split()[-4:])
    return make_item(n, title, abstract_a, daily=today, paper_id=f"2412.{n:05d}", upvotes=rng.randrange(1, 300))


async def test_soak_under_faults_delivers_every_match_exactly_once(tmp_path, clock):
    rng = random.Random(7)
    today = clock().date()
    async with FakeHuggingFace(seed_items(today=today), seed=3) as fake:
        fake.hang_seconds = 2.0
        hf = HuggingFaceClient(base_url=fake.base_url, timeout=0.3, sleep=no_wait,
                               budget=RequestBudget(limit=100_000, window=300))
        store = await Store.open(tmp_path / "soak.db")
        chat = MemoryAdapter()
        poller = Poller(store=store, hf=hf, adapters={chat.platform: chat}, clock=clock, max_posts_per_hour=5)
        try:
            for name, query in TOPICS.items():
                channel = await store.ensure_channel(chat.channel(name))
                await store.add_topic(channel.id, query, "soak", at=clock())
            await poller.poll_once()  # the baseline, from a healthy source
            assert chat.pop_posts() == []

            fake.failure_rate = 0.3
            appeared: list[str] = []
            errors = 0
            for cycle in range(CYCLES):
                for _ in range(rng.choice((0, 1, 1, 2))):
                    item = new_item(rng, len(appeared) + 1, today)
                    fake.add(item)
                    appeared.append(item["paper"]["id"])
                clock.advance(minutes=1)
                report = await poller.poll_once()
                errors += bool(report.errors)
            assert errors > CYCLES // 20, "the faults really happened"

            fake.failure_rate = 0.0
            for _ in range(3):
                clock.advance(hours=2)  # past every retry time and the flood window
                await poller.poll_once()

            papers = await store.get_papers(appeared)
            assert set(papers) == set(appeared), "every paper that appeared was seen"
            delivered = {name: Counter() for name in TOPICS}
            for ref, post in chat.history:
                delivered[ref.channel].update(post.paper_ids)
            for name, query in TOPICS.items():
                parsed = parse_query(query)
                expected = {pid for pid in appeared if parsed.match(papers[pid])}
                counts = delivered[name]
                assert [pid for pid, n in counts.items() if n > 1] == [], f"duplicates in {name}"
                assert set(counts) == expected, f"{name}: missing {expected - set(counts)}"
            assert sum(len(c) for c in delivered.values()) > 20, "the soak delivered something real"
        finally:
            await hf.aclose()
            await store.close()
