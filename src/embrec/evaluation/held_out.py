"""A trained model on any ratings file: its predictions and how good they are.

The file's ratings are first mapped into the model's id space by raw id
(:func:`~embrec.data.align.align_ratings`); pairs whose user or item the model
never saw get the fallback prediction and are counted.

* :func:`evaluate_file`: RMSE and MAE of the predictions (clipped to the model's
  scale) over every rating of the file, and the top-k ranking metrics of
  :mod:`embrec.ranking_protocol` over the ratings whose user and item the model
  knows (candidates: the items the user did not rate in the model's training
  data; relevant: the file's ratings ``>= threshold``).
* :func:`prediction_table` / :func:`predict_pairs`: one row per rating (or
  pair), raw ids in and out: ``user_id, item_id, [rating,] prediction,
  fallback, reason``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from embrec.data.align import Alignment, align_ratings, known_part, translate
from embrec.data.ratings import Ratings
from embrec.errors import DataError
from embrec.evaluation.metrics import rating_metrics
from embrec.ranking_protocol import RankingResult, evaluate_ranking

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
            **self.rating,
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
    """Predictions for the pairs of a ratings file, its raw ids and ratings kept."""
    return predict_pairs(
        trained,
        ratings.user_ids.to_raw(ratings.users),
        ratings.item_ids.to_raw(ratings.items),
        ratings.values,
    )


def predict_pairs(
    trained: TrainedModel,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    ratings: np.ndarray | None = None,
) -> pd.DataFrame:
    """Predictions for raw (user, item) pairs as a table with those raw ids.

    Columns ``user_id, item_id, [rating,] prediction, fallback, reason``:
    ``fallback`` is true where the network had nothing to say (the baseline
    answered), and ``reason`` says why: ``unknown user``, ``unknown item``,
    ``unknown user and item`` or ``no training ratings``.
    """
    users = translate(np.asarray(user_ids), trained.user_ids)
    items = translate(np.asarray(item_ids), trained.item_ids)
    predictions, modelled = trained.predictor.predict(users, items)
    reason = np.full(len(users), "", dtype=object)
    reason[~modelled] = "no training ratings"
    reason[items < 0] = "unknown item"
    reason[users < 0] = "unknown user"
    reason[(users < 0) & (items < 0)] = "unknown user and item"
    columns: dict[str, Any] = {"user_id": user_ids, "item_id": item_ids}
    if ratings is not None:
        columns["rating"] = ratings
    columns.update(prediction=predictions, fallback=~modelled, reason=reason)
    return pd.DataFrame(columns)


def fallback_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many rows of a prediction table the fallback answered, and for how many ids."""
    new_user = table["reason"].isin(["unknown user", "unknown user and item"])
    new_item = table["reason"].isin(["unknown item", "unknown user and item"])
    return {
        "n_predictions": len(table),
        "n_fallback": int(table["fallback"].sum()),
        "unknown_users": int(table.loc[new_user, "user_id"].nunique()),
        "unknown_items": int(table.loc[new_item, "item_id"].nunique()),
        "unknown_user_rows": int(new_user.sum()),
        "unknown_item_rows": int(new_item.sum()),
    }
