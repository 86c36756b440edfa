"""Evaluation: rating-prediction error and top-N ranking quality."""

from embrec.evaluation.metrics import (
    ACTIVITY_BUCKETS,
    mae,
    rating_metrics,
    rmse,
    rmse_by_activity,
)
from embrec.evaluation.ranking import (
    RankingResult,
    UserScorer,
    evaluate_ranking,
    popularity_scorer,
    random_scorer,
    top_k_unseen,
)

__all__ = [
    "ACTIVITY_BUCKETS",
    "RankingResult",
    "UserScorer",
    "evaluate_ranking",
    "mae",
    "popularity_scorer",
    "random_scorer",
    "rating_metrics",
    "rmse",
    "rmse_by_activity",
    "top_k_unseen",
]
