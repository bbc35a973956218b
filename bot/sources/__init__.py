"""Where papers come from: the Hugging Face Papers API and, as a fallback, arXiv."""

from bot.sources.arxiv import ArxivClient
from bot.sources.errors import MalformedResponse, PaperNotFound, SourceError, SourceUnavailable
from bot.sources.http import BudgetExhausted, RequestBudget
from bot.sources.huggingface import HuggingFaceClient

__all__ = [
    "ArxivClient",
    "BudgetExhausted",
    "HuggingFaceClient",
    "MalformedResponse",
    "PaperNotFound",
    "RequestBudget",
    "SourceError",
    "SourceUnavailable",
]
