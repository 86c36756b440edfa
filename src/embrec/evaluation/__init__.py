"""Evaluation: rating-prediction error and top-N ranking quality; cross-validation,
hyperparameter sweeps and reports."""

from embrec.evaluation.crossval import CVResult, FoldResult, cross_validate, resolve_folds
from embrec.evaluation.metrics import (
    ACTIVITY_BUCKETS,
    mae,
    rating_metrics,
    rmse,
    rmse_by_activity,
)
from embrec.evaluation.report import write_cv_report, write_report, write_sweep_report
from embrec.evaluation.results import ResultsFile
from embrec.evaluation.sweep import (
    SweepResult,
    grid_points,
    load_sweep,
    parse_grid,
    parse_space,
    random_points,
    sweep,
)
from embrec.ranking_protocol import (
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
    "CVResult",
    "FoldResult",
    "ResultsFile",
    "SweepResult",
    "cross_validate",
    "grid_points",
    "load_sweep",
    "parse_grid",
    "parse_space",
    "random_points",
    "resolve_folds",
    "sweep",
    "write_cv_report",
    "write_report",
    "write_sweep_report",
]
