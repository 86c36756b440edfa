"""A trained model on any ratings file: its predictions and how good they are.

The file's ratings are first mapped into the model's id space by raw id
(:func:`~embrec.data.align.align_ratings`); pairs whose user or item the model
never saw get the fallback prediction and are counted.

* :func:`evaluate_file`: RMSE and MAE of the predictions (clipped to the model's
  scale) over every rating of the file, and the top-k ranking metrics of
  :mod:`embrec.evaluation.ranking` over the ratings whose user and item the model
  knows (candidates: the items the user did not rate in the model's training
  data; relevant: the file's ratings ``>= threshold``).
* :func:`prediction_table`: one row per rating, raw ids in and out:
  ``user_id, item_id, rating, prediction, fallback, reason``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from embrec.data.align import Alignment, align_ratings, known_part
from embrec.data.ratings import Ratings
from embrec.errors import DataError
from embrec.evaluation.metrics import rating_metrics
from embrec.evaluation.ranking import RankingResult, evaluate_ranking

if TYPE_CHECKING:
    from embrec.bundle import TrainedModel

DEFAULT_K = 10
DEFAULT_THRESHOLD = 4.0


@dataclass
class FileEvaluation:
    """Rating and ranking metrics of one model on one ratings file."""

    rating: dict[str, Any]
    ranking: RankingResult | None
    ranking_skipped: str | None
    alignment: Alignment

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.rating.items()},
            **self.alignment.report(),
            "ranking": None if self.ranking is None else self.ranking.to_dict(),
            "ranking_skipped": self.ranking_skipped,
        }


def evaluate_file(
    trained: TrainedModel,
    ratings: Ratings,
    *,
    k: int = DEFAULT_K,
    threshold: float = DEFAULT_THRESHOLD,
) -> FileEvaluation:
    """RMSE/MAE over all of ``ratings`` and ranking metrics@k over its known pairs.

    Ranking is skipped (``ranking_skipped`` says why) when no user of the file
    has a known, unseen item rated ``>= threshold``.
    """
    if len(ratings) == 0:
        raise DataError("the file holds no ratings to evaluate")
    alignment = align_ratings(ratings, trained.train)
    aligned = alignment.ratings
    predictions, _ = trained.predictor.predict(aligned.users, aligned.items, clip=False)
    rating = rating_metrics(predictions, aligned.values, trained.scale)
    ranking, skipped = None, None
    known = known_part(aligned)
    if len(known) == 0:
        skipped = "no rating of the file has a user and an item the model knows"
    else:
        try:
            ranking = evaluate_ranking(
                trained.predictor.score_users, trained.train, known, k=k, threshold=threshold
            )
        except DataError as error:
            skipped = str(error)
    return FileEvaluation(rating, ranking, skipped, alignment)


def prediction_table(trained: TrainedModel, ratings: Ratings) -> pd.DataFrame:
    """Predictions for the file's pairs as a table with the file's raw ids.

    ``fallback`` is true where the network had nothing to say (the baseline
    answered), and ``reason`` says why: ``unknown user``, ``unknown item``,
    ``unknown user and item`` or ``no training ratings``.
    """
    aligned = align_ratings(ratings, trained.train).ratings
    predictions, modelled = trained.predictor.predict(aligned.users, aligned.items)
    reason = np.full(len(aligned), "", dtype=object)
    reason[~modelled] = "no training ratings"
    reason[aligned.items < 0] = "unknown item"
    reason[aligned.users < 0] = "unknown user"
    reason[(aligned.users < 0) & (aligned.items < 0)] = "unknown user and item"
    return pd.DataFrame(
        {
            "user_id": ratings.user_ids.to_raw(ratings.users),
            "item_id": ratings.item_ids.to_raw(ratings.items),
            "rating": ratings.values,
            "prediction": predictions,
            "fallback": ~modelled,
            "reason": reason,
        }
    )
