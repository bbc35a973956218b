"""The topic query language shared by subscriptions, previews and local search.

``parse_query('"model merging" OR unlearn* -diffusion')`` gives a `Query`;
``query.match(paper)`` gives a `Match` that can explain itself, or None.
"""

from bot.topics.matcher import DEFAULT_FIELDS, Hit, Match, PaperText
from bot.topics.parser import EVERY_PAPER, FIELDS, MAX_QUERY_LENGTH, EveryPaper, Query, QueryError, parse_query

__all__ = [
    "DEFAULT_FIELDS",
    "EVERY_PAPER",
    "EveryPaper",
    "FIELDS",
    "MAX_QUERY_LENGTH",
    "Hit",
    "Match",
    "PaperText",
    "Query",
    "QueryError",
    "parse_query",
]
