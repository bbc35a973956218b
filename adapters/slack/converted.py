"""Block Kit blocks validated and converted once, for the parts of a message many messages share.

slack_sdk validates a block's limits each time it converts it (`to_dict`), and for a block of
buttons that costs more than the rest of a post. A paper's section, numbers and buttons are the
same in every channel it goes to; only the reason it matched there is each channel's own.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block


class Converted(Block):
    """A block validated and converted once (`to_dict`), shared by every message that shows it.

    Its dict is shared too: JSON-encode it, never change it (as `render.render_cached` says of its blocks).
    """

    def __init__(self, block: Block) -> None:
        super().__init__(type=block.type)
        self._dict = block.to_dict()

    def to_dict(self) -> dict:  # type: ignore[override]
        return self._dict
