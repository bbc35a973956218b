"""What a channel (or a person) likes, learnt from its 👍, saves and 👎, and candidates ranked by it.

Pure and offline: scikit-learn over the papers' own text; no service, nothing downloaded.
`InterestModel.train` learns, `InterestModel.rank` ranks with the why, `ModelCache` keeps
trained models per scope and retrains when the signals change.
"""

from bot.ranking.interest.cache import ModelCache, signature
from bot.ranking.interest.model import MIN_POSITIVES, InterestModel, Ranked, Signalled

__all__ = ["MIN_POSITIVES", "InterestModel", "ModelCache", "Ranked", "Signalled", "signature"]
