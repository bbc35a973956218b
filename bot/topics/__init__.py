"""The topic query language shared by subscriptions, previews and local search.

``parse_query('"model merging" OR unlearn* -diffusion cat:cs.CL upvotes:>=20')`` gives a `Query`;
``query.match(paper)`` gives a `Match` that can explain itself, or None. Filters (``cat:``,
``upvotes:``, ``stars:``, ``comments:``, ``has:code``) are described in `bot.topics.filters`.
"""

from bot.topics.filters import FILTERS, Category, Count, Filter, HasCode
from bot.topics.matcher import DEFAULT_FIELDS, Hit, Match, PaperFacts, PaperText
from bot.topics.parser import EVERY_PAPER, FIELDS, MAX_QUERY_LENGTH, EveryPaper, Query, QueryError, parse_query

__all__ = [
    "DEFAULT_FIELDS",
    "EVERY_PAPER",
    "Category",
    "Count",
    "EveryPaper",
    "FIELDS",
    "FILTERS",
    "Filter",
    "HasCode",
    "MAX_QUERY_LENGTH",
    "Hit",
    "Match",
    "PaperFacts",
    "PaperText",
    "Query",
    "QueryError",
    "parse_query",
]
