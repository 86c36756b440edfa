"""Top-N quality of a trained model beside the references it should beat.

For one split, :func:`compare_rankings` scores with the protocol of
:mod:`embrec.ranking_protocol`:

* ``model``: the rating model's predicted rating as the ranking key;
* ``recommended``: what ``recommend`` uses by default, the ranking model's pick
  score x the predicted rating (:mod:`embrec.recommend.ranking_scorer`), the
  ranking model (EASE) fitted on the same training part;
* ``ease``: the ranking model's pick score alone;
* ``popularity``: the number of training ratings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from embrec.bundle import TrainedModel
from embrec.data.ratings import Ratings
from embrec.models.rankers import DEFAULT_RANKER, fit_ranker
from embrec.ranking_protocol import evaluate_ranking, popularity_scorer
from embrec.recommend.ranking_scorer import pick_times_liking


def compare_rankings(
    trained: TrainedModel,
    train: Ratings,
    test: Ratings,
    *,
    k: int = 10,
    threshold: float = 4.0,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Ranking metrics (``RankingResult.to_dict``) per scorer of the module docstring."""
    ranker = trained.ranker or fit_ranker(train, DEFAULT_RANKER, seed=seed)
    pick_scores = ranker.scorer(train)
    rating_scores = trained.predictor.score_users

    def recommended(users: np.ndarray) -> np.ndarray:
        return pick_times_liking(pick_scores(users), rating_scores(users), train.scale)

    scorers = {
        "model": rating_scores,
        "recommended": recommended,
        ranker.name: pick_scores,
        "popularity": popularity_scorer(train),
    }
    return {
        name: evaluate_ranking(scorer, train, test, k=k, threshold=threshold).to_dict()
        for name, scorer in scorers.items()
    }
