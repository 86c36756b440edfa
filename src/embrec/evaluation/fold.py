"""One fit on one fold: the task (:class:`FoldTask`), its run and its scores (:class:`FoldResult`).

Cross-validation (:mod:`embrec.evaluation.crossval`) runs these tasks in this
process or in worker processes (:mod:`embrec.evaluation.parallel`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from embrec.data.ratings import Ratings
from embrec.data.splits import Split
from embrec.evaluation.metrics import rating_metrics, rmse_by_activity
from embrec.evaluation.topn import compare_rankings
from embrec.training import fit as fitting


@dataclass(frozen=True)
class FoldTask:
    """Fit ``model`` with ``hyper`` (the keywords of ``fit``) on split ``fold``.

    ``ranking_k`` adds a top-k evaluation against the popularity recommender;
    ``threshold`` is the rating that counts as relevant there.
    """

    model: str
    hyper: dict[str, Any] = field(hash=False)
    solver: str | None
    fold: str
    ranking_k: int | None = None
    threshold: float = 4.0



@dataclass
class FoldResult:
    """Scores of one fit on one fold.

    Attributes:
        fold: the split spec (``"u1"``, ``"kfold:5:2"``).
        rmse, mae: of the test predictions clipped to the rating scale.
        rmse_unclipped: of the raw predictions; ``n_clipped`` how many were outside.
        fit_seconds: wall time of ``fit`` (training plus its per-epoch reporting).
        predict_seconds: wall time to predict the test fold.
        seconds: wall time of the whole fold (split, fit, predict, metrics).
        n_train, n_test, cold_test_ratings: sizes of the split.
        config: the fitted model and training config and the solver (without ``threads``).
        history: the epoch history (:meth:`History.to_json`): train loss and
            test-fold loss and RMSE per epoch.
        activity: RMSE per user-activity bucket (:func:`rmse_by_activity`) as records.
        ranking: top-k metrics of the model by predicted rating, the default
            recommendation order, EASE and popularity
            (:func:`~embrec.evaluation.topn.compare_rankings`), or None.
    """

    fold: str
    rmse: float
    mae: float
    rmse_unclipped: float
    n_clipped: int
    fit_seconds: float
    predict_seconds: float
    seconds: float
    n_train: int
    n_test: int
    cold_test_ratings: int
    config: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)
    activity: list[dict[str, Any]] = field(default_factory=list)
    ranking: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> FoldResult:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in payload.items() if k in names})


def run_fold(ratings: Ratings, split: Split, task: FoldTask) -> FoldResult:
    """Fit ``task.model`` on ``split.train`` and score it on ``split.test``."""
    start = time.perf_counter()
    trained = fitting.fit(split.train, task.model, test=split.test, solver=task.solver,
                          verbose=False, **task.hyper)
    fitted = time.perf_counter()
    raw, _ = trained.predictor.predict(split.test.users, split.test.items, clip=False)
    predicted = time.perf_counter()
    scale = ratings.scale
    scores = rating_metrics(raw, split.test.values, scale)
    activity = rmse_by_activity(
        raw, split.test.values, split.test.users, split.train.user_counts(), scale=scale
    )
    ranking = None
    if task.ranking_k is not None:
        ranking = compare_rankings(trained, split.train, split.test, k=task.ranking_k,
                                   threshold=task.threshold, seed=task.hyper.get("seed", 0))
    config = {**trained.model_config.model_dump(mode="json"), **trained.train_config,
              "solver": trained.solver}
    config.pop("threads", None)
    return FoldResult(
        fold=split.name,
        rmse=scores["rmse"],
        mae=scores["mae"],
        rmse_unclipped=scores["rmse_unclipped"],
        n_clipped=scores["n_clipped"],
        fit_seconds=fitted - start,
        predict_seconds=predicted - fitted,
        seconds=time.perf_counter() - start,
        n_train=len(split.train),
        n_test=len(split.test),
        cold_test_ratings=split.cold_test_ratings,
        config=config,
        history=trained.history.to_json(),
        activity=activity.reset_index().replace({np.nan: None, np.inf: None}).to_dict("records"),
        ranking=ranking,
    )
