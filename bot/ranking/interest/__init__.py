"""What a channel (or a person) likes, learnt from its 👍, saves and 👎, and candidates ranked by it.

Pure and offline: scikit-learn over the papers' own text; no service, nothing downloaded.
`InterestModel.train` learns, `InterestModel.rank` ranks with the why, `ModelCache` keeps
trained models per scope and retrains when the signals change.

`InterestModel` loads on first use: it brings numpy and scipy, which a process whose channels
never train a model does not need.
"""

from importlib import import_module

from bot.ranking.interest.cache import ModelCache, signature
from bot.ranking.interest.signals import MIN_POSITIVES, Ranked, Signalled

__all__ = ["MIN_POSITIVES", "InterestModel", "ModelCache", "Ranked", "Signalled", "signature"]


def __getattr__(name: str) -> object:
    if name == "InterestModel":
        return import_module(f"{__name__}.model").InterestModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
