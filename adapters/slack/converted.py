"""Block Kit blocks as their dicts and JSON text, each made once.

slack_sdk validates a block's limits each time it converts it (`to_dict`), and for a block of
buttons that costs more than the rest of a post. A paper's section, numbers and buttons are the
same in every channel it goes to: `Converted` keeps them converted and encoded. What is each
channel's own (why the paper matched there, a digest's numbered lines) is a section or context of
one mrkdwn text: `section` and `context` put that text into the shape slack_sdk converted once,
so a message costs the encoding of its own text, not a validation of every block.
"""

from __future__ import annotations

import json
from typing import Iterable

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from adapters.slack.mrkdwn import MAX_SECTION_CHARS, clip, mrkdwn, non_blank

_ENCODER = json.JSONEncoder(separators=(",", ":"))


class Converted(Block):
    """A block converted (`to_dict`) and JSON-encoded (`json`) once, shared by every message that shows it.

    Its dict is shared too: JSON-encode it, never change it (as `render.render_cached` says of its blocks).
    """

    def __init__(self, block: Block | dict) -> None:
        converted = block if isinstance(block, dict) else block.to_dict()
        super().__init__(type=converted["type"])
        self._dict = converted
        self.json = _ENCODER.encode(converted)

    def to_dict(self) -> dict:  # type: ignore[override]
        return self._dict


def encoded(blocks: Iterable[Block], dicts: Iterable[dict]) -> str:
    """*blocks*, converted to *dicts* already, as ``json.dumps(dicts, separators=(",", ":"))`` writes them,
    a `Converted`'s text reused (converting a block again would validate it again)."""
    return f'[{",".join(b.json if isinstance(b, Converted) else _ENCODER.encode(d) for b, d in zip(blocks, dicts))}]'


_TEXT = mrkdwn("-").to_dict()
_SECTION = SectionBlock(text=mrkdwn("-")).to_dict()
_CONTEXT = ContextBlock(elements=[mrkdwn("-")]).to_dict()


def section(text: str) -> Converted:
    """``SectionBlock(text=mrkdwn(text))``, converted.

    A section's one limit is its text's length: a longer *text* goes to slack_sdk, which refuses it as before.
    """
    if len(text) > SectionBlock.text_max_length:
        return Converted(SectionBlock(text=mrkdwn(text)))
    return Converted({**_SECTION, "text": {**_TEXT, "text": non_blank(text)}})


def context(text: str) -> Converted:
    """A context block of one verbatim mrkdwn *text*, clipped to a section's length."""
    return Converted({**_CONTEXT, "elements": [{**_TEXT, "text": non_blank(clip(text, MAX_SECTION_CHARS))}]})
