"""Why a paper does not match a topic: the part of the query that failed, in words.

``why`` tells a channel, for each of its topics, what kept a paper out (``"model merging" not in
title, abstract or keywords``; ``upvotes 12 < 20``; ``cat:cs.CL but its categories are cs.LG``).
It walks the same parsed tree and asks the same tests the matcher uses, so the answer cannot
disagree with what the poller decided.
"""

from __future__ import annotations

from bot.model.paper import Paper
from bot.topics.filters import Category, Count, HasCode
from bot.topics.matcher import DEFAULT_FIELDS, Group, Node, PaperText, Term
from bot.topics.query import Query

_FAILED = {">=": "<", ">": "≤", "<=": ">", "<": "≥", "=": "≠"}
"""What a count shows when ``field:<op>N`` fails: ``upvotes:>=20`` fails as ``upvotes 12 < 20``."""


def explain_miss(query: Query, paper: Paper) -> str | None:
    """Say which part of *query* *paper* fails, or None when it matches."""
    text = PaperText.of(paper)
    if query.matches(text):
        return None
    return _group(query.root, text)


def _group(group: Group, text: PaperText) -> str:
    """The failed part of a group: every alternative's first failures, or the exclusion that hit."""
    alternatives = []
    for chain in group.any_of:
        failed = [_node(node, text) for node in chain if not node.test(text)]
        if not failed:  # this alternative passes: an exclusion is what failed
            return "; ".join(_excluded(node, text) for node in group.none_of if node.test(text))
        alternatives.append(" and ".join(failed))
    if len(alternatives) == 1:
        return alternatives[0]
    return "no alternative passes: " + " | ".join(alternatives)


def _node(node: Node, text: PaperText) -> str:
    if isinstance(node, Group):
        return f"({_group(node, text)})"
    if isinstance(node, Term):
        return _term(node)
    if isinstance(node, Count):
        value = getattr(text.facts, node.field)
        if value is None:
            return f"{node.render()} but its {node.field} are unknown"
        return f"{node.field} {value} {_FAILED[node.op]} {node.value}"
    if isinstance(node, Category):
        shown = ", ".join(text.facts.categories)
        if not shown:
            return f"{node.render()} but its arXiv categories are unknown (Hugging Face does not give them)"
        return f"{node.render()} but its categories are {shown}"
    if isinstance(node, HasCode):
        return "has:code but it links no code"
    return f"{node.render()} fails"  # a filter added later: still named, never a crash


def _term(term: Term) -> str:
    if term.field == "author":
        return f"author:{term.label} not among its authors"
    where = term.field or ", ".join(DEFAULT_FIELDS[:-1]) + f" or {DEFAULT_FIELDS[-1]}"
    return f"{term.label} not in {where}"


def _excluded(node: Node, text: PaperText) -> str:
    """Say that an excluded term or filter is there, and where."""
    if isinstance(node, Group):
        return f"excluded -{node.render()}"
    return f"excluded -{node.render()}: {node.hit(text).explain()}"
