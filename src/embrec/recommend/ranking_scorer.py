"""What orders a top-N list: the ranking model's pick score times the predicted rating.

A rating model answers "how much would the user like item j"; ranked by that
alone, a top-10 fills with rarely rated items whose few ratings were high (on
ml-100k u1..u5, NDCG@10 0.073 against 0.198 for plain popularity). A ranking
model (:mod:`embrec.models.rankers`) answers "how likely is the user to pick j"
and ranks far better (EASE: 0.383). The default scorer of a bundle that holds
both multiplies them, the probability of a pick times how much it would be liked::

    key(u, j) = max(s_uj, 0) * (clip(r_uj) - low + 1/2)

with ``s_uj`` the pick score, ``r_uj`` the predicted rating clipped to the scale
``low..high`` (liking measured from half a star below the scale, so it is never
0). Items the ranking model gives no positive score tie at 0 and are ordered by
predicted rating. Measured on ml-100k u1..u5 (``embrec cv --ranking``: default
``mf-bias`` x EASE, lambda chosen on a carve-out): NDCG@10 0.410, precision@10
0.307, coverage@10 0.16, against 0.383 / 0.290 / 0.17 for EASE alone. The
exponent of the liking factor was chosen on a 20 % carve-out of each training fold
(``benchmarks/ranking_scorers.py``): NDCG@10 0.244 for EASE alone, 0.256, 0.261 and
0.262 for exponents 0.5, 1 and 2, coverage 0.155, 0.151, 0.145; 1 keeps the
coverage for a 0.0004 difference (test folds: 0.404, 0.410, 0.410). On
ml-latest-small (random 20 %, seed 0): 0.313 against 0.300 for EASE and 0.160 for
popularity. A bundle without a ranking model ranks by predicted rating.

Tried and not adopted: dividing the key by ``max(n_j, 1)^b`` (``n_j`` the item's
training ratings; popularity debiasing, Steck, RecSys 2011). With b = 1/4 the
carve-out NDCG@10 holds (ml-100k u1..u5 0.2620 against 0.2613, ml-latest-small
0.1782 against 0.1801) and coverage@10 rises by about half (0.151 to 0.217; 0.032
to 0.047); on the test parts ml-100k gives 0.414 / 0.312 / 0.224 (NDCG, precision,
coverage) and ml-latest-small 0.310 / 0.229 / 0.067. But brand-new users folded
in from 10 ratings lose (50 held-out u1 users: NDCG@10 0.322 undivided, 0.314 at
b = 0.1, 0.293 at b = 1/4, popularity 0.267), so the undivided product stays.
"""

from __future__ import annotations

import numpy as np

from embrec.data.ratings import RatingScale

PREDICTED_RATING = "predicted rating"
TIE_BREAK = 1e-6
"""Weight of the liking factor alone: orders the items with no positive pick score."""


def scorer_name(ranker_name: str | None) -> str:
    """How a list was ordered, as recommendations report it (``scorer`` field)."""
    if ranker_name is None:
        return PREDICTED_RATING
    return f"{ranker_name} pick score x predicted rating"


def liking(predicted: np.ndarray, scale: RatingScale) -> np.ndarray:
    """``clip(r) - low + 1/2``: predicted ratings as a positive factor."""
    return np.clip(predicted, scale.low, scale.high) - scale.low + 0.5


def pick_times_liking(
    pick: np.ndarray, predicted: np.ndarray, scale: RatingScale
) -> np.ndarray:
    """The ranking key of the module docstring, element-wise (any shape)."""
    like = liking(np.asarray(predicted, dtype=np.float64), scale)
    return np.maximum(np.asarray(pick, dtype=np.float64), 0.0) * like + TIE_BREAK * like
