"""Blocks converted once (`adapters.slack.converted`): the same dicts and JSON slack_sdk makes, for less work.

Every channel's post says why its papers matched there, so no two channels' posts are equal:
what a post costs is what its own lines cost. These tests hold the shortcut to slack_sdk's own
output, and count slack_sdk's validations to show that a channel's own lines need none.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models import basic_objects
from slack_sdk.models.blocks import ContextBlock, DividerBlock, SectionBlock

from adapters.slack.converted import Converted, context, encoded, section
from adapters.slack.mrkdwn import MAX_SECTION_CHARS, clip, mrkdwn
from adapters.slack.render import render_cached
from bot.model.actions import card_actions
from bot.model.replies import PaperCard, PaperList, Text
from paperboy_testing.seed import seed_papers

texts = st.one_of(st.text(max_size=40), st.text(min_size=2990, max_size=3000), st.just(""), st.just("  \n"))


def dumped(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@settings(max_examples=60, deadline=None)
@given(texts)
def test_a_section_is_what_slack_sdk_converts_it_to(text: str) -> None:
    made = section(text)
    assert made.to_dict() == SectionBlock(text=mrkdwn(text)).to_dict()
    assert made.json == dumped(made.to_dict())


@settings(max_examples=60, deadline=None)
@given(st.one_of(texts, st.text(min_size=3001, max_size=3100)))
def test_a_context_is_what_slack_sdk_converts_it_to_clipped_to_a_sections_length(text: str) -> None:
    made = context(text)
    assert made.to_dict() == ContextBlock(elements=[mrkdwn(clip(text, MAX_SECTION_CHARS))]).to_dict()
    assert made.json == dumped(made.to_dict())


def test_a_section_over_slacks_limit_is_refused_as_slack_sdk_refuses_it() -> None:
    with pytest.raises(SlackObjectFormationError, match="3000"):
        section("x" * 3001)


def test_blocks_are_encoded_as_json_dumps_writes_their_dicts() -> None:
    blocks = [section("é <b> 😀"), DividerBlock(), Converted(DividerBlock()), context("why")]
    assert encoded(blocks, [b.to_dict() for b in blocks]) == dumped([b.to_dict() for b in blocks])
    assert encoded([], []) == "[]"


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the blocks and objects slack_sdk validates (`JsonObject.validate_json`) from now on."""
    seen: list[str] = []
    original = basic_objects.JsonObject.validate_json

    def counted(self: basic_objects.JsonObject) -> None:
        seen.append(type(self).__name__)
        original(self)

    monkeypatch.setattr(basic_objects.JsonObject, "validate_json", counted)
    return seen


def test_each_channels_digest_and_card_convert_only_their_own_lines(validations: list[str]) -> None:
    papers = seed_papers()[:5]
    cards = [PaperCard(p, None, actions=card_actions(p.id)) for p in papers]

    def digest(why: str | None) -> PaperList:
        return PaperList("Paperboy digest", tuple(PaperCard(c.paper, why, actions=c.actions) for c in cards))

    render_cached(digest("warm"))  # the papers' shared parts, converted once
    render_cached(PaperCard(papers[0], "warm", actions=cards[0].actions))
    validations.clear()
    for channel in range(20):
        why = f"agents in title; topic {channel} in abstract"
        _, blocks = render_cached(digest(why))
        assert sum(why in dumped(b) for b in blocks) == len(papers)  # each paper's line says it
        assert json.loads(blocks.json) == list(blocks)
        _, card = render_cached(PaperCard(papers[0], why, actions=cards[0].actions))
        assert why in dumped(card[0]) and json.loads(card.json) == list(card)
    assert validations == []


def test_a_block_slack_sdk_converts_is_validated_once_per_rendering(validations: list[str]) -> None:
    _, blocks = render_cached(Text("body", title="A header only this test renders"))
    assert validations.count("HeaderBlock") == 1
    assert json.loads(blocks.json) == list(blocks)
