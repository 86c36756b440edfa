"""Rating-prediction metrics: how close predicted ratings are to held-out ones.

For ``n`` held-out ratings ``r_j`` and predictions ``p_j``::

    RMSE = sqrt( (1/n) * sum_j (p_j - r_j)^2 )
    MAE  = (1/n) * sum_j |p_j - r_j|

:func:`rating_metrics` clips predictions to the rating scale before scoring
them (a prediction of 5.7 stars on a 1..5 scale is a 5) and records that it did,
as Surprise's ``predict`` does. :func:`rmse_by_activity` breaks RMSE down by how
many training ratings each user had, which separates cold users from heavy ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.ratings import RatingScale
from embrec.errors import ConfigError, DataError

ACTIVITY_BUCKETS: tuple[float, ...] = (0, 1, 5, 10, 20, 50, 100, 200, math.inf)
"""Edges of the default user-activity buckets: ``[0, 1), [1, 5), ..., [200, inf)``."""


def _paired(predictions: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64 vectors, checked to be the same non-empty length."""
    pred = np.asarray(predictions, dtype=np.float64).ravel()
    true = np.asarray(truth, dtype=np.float64).ravel()
    if pred.shape != true.shape:
        raise DataError(
            f"{len(pred)} predictions for {len(true)} true ratings; pass one prediction per rating"
        )
    if len(pred) == 0:
        raise DataError("no ratings to evaluate: predictions and truth are empty")
    if not np.all(np.isfinite(pred)):
        raise DataError(f"{int(np.sum(~np.isfinite(pred)))} predictions are NaN or infinite")
    return pred, true


def rmse(predictions: np.ndarray, truth: np.ndarray) -> float:
    """Root mean squared error ``sqrt(mean((p - r)^2))``, as given (no clipping)."""
    pred, true = _paired(predictions, truth)
    return float(np.sqrt(np.mean(np.square(pred - true))))


def mae(predictions: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error ``mean(|p - r|)``, as given (no clipping)."""
    pred, true = _paired(predictions, truth)
    return float(np.mean(np.abs(pred - true)))


def rating_metrics(
    predictions: np.ndarray, truth: np.ndarray, scale: RatingScale
) -> dict[str, Any]:
    """RMSE and MAE of predictions clipped to ``scale``, with what clipping did.

    Returns a JSON-able dict: ``rmse``, ``mae`` (of the clipped predictions),
    ``n_ratings``, ``clipped_to_scale`` (``[low, high]``), ``n_clipped`` (how
    many predictions lay outside the scale) and ``rmse_unclipped``.
    """
    pred, true = _paired(predictions, truth)
    clipped = scale.clip(pred)
    return {
        "rmse": rmse(clipped, true),
        "mae": mae(clipped, true),
        "n_ratings": int(len(true)),
        "clipped_to_scale": [float(scale.low), float(scale.high)],
        "n_clipped": int(np.count_nonzero(clipped != pred)),
        "rmse_unclipped": rmse(pred, true),
    }


def _bucket_label(low: float, high: float) -> str:
    if math.isinf(high):
        return f"{low:g}+"
    if high - low == 1:
        return f"{low:g}"
    return f"{low:g}-{high - 1:g}"


def rmse_by_activity(
    predictions: np.ndarray,
    truth: np.ndarray,
    users: np.ndarray,
    train_user_counts: np.ndarray,
    buckets: Sequence[float] = ACTIVITY_BUCKETS,
    *,
    scale: RatingScale | None = None,
) -> pd.DataFrame:
    """RMSE per bucket of user activity (the user's number of training ratings).

    Rating ``j`` of user ``u_j`` falls in bucket ``b`` when
    ``buckets[b] <= train_user_counts[u_j] < buckets[b + 1]``; the bucket's RMSE
    is ``sqrt(mean((p_j - r_j)^2))`` over its ratings. With the default edges the
    buckets are ``0`` (cold users), ``1-4``, ``5-9``, ``10-19``, ``20-49``,
    ``50-99``, ``100-199`` and ``200+``.

    Args:
        predictions, truth: one predicted and one true rating per held-out rating.
        users: the user index of each held-out rating.
        train_user_counts: ratings per user index in the training data
            (``train.user_counts()``).
        buckets: increasing integer bucket edges; the last may be ``inf``.
        scale: when given, predictions are clipped to it first.

    Returns:
        One row per bucket, in order, indexed by its label (``"1-4"``), with
        columns ``min_train_ratings``, ``max_train_ratings`` (inclusive; inf for
        an open bucket), ``n_users``, ``n_ratings`` and ``rmse`` (NaN where the
        bucket is empty).
    """
    pred, true = _paired(predictions, truth)
    if scale is not None:
        pred = scale.clip(pred)
    users = np.asarray(users, dtype=np.int64).ravel()
    counts = np.asarray(train_user_counts).ravel()
    if len(users) != len(pred):
        raise DataError(f"{len(users)} user indices for {len(pred)} ratings; pass one per rating")
    out_of_range = (users < 0) | (users >= len(counts))
    if out_of_range.any():
        raise DataError(
            f"user index {int(users[out_of_range][0])} is outside train_user_counts "
            f"(length {len(counts)}); pass counts for every user index"
        )
    edges = np.asarray(buckets, dtype=np.float64)
    if len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise ConfigError(f"buckets {list(buckets)} must be at least two increasing edges")

    activity = counts[users].astype(np.float64)
    bucket = np.searchsorted(edges, activity, side="right") - 1
    outside = (bucket < 0) | (bucket >= len(edges) - 1)
    if outside.any():
        raise DataError(
            f"{int(outside.sum())} ratings come from users whose training count lies outside "
            f"the buckets {edges[0]:g}..{edges[-1]:g}; widen the bucket edges"
        )
    n_buckets = len(edges) - 1
    n_ratings = np.bincount(bucket, minlength=n_buckets)
    squared = np.bincount(bucket, weights=np.square(pred - true), minlength=n_buckets)
    # A user's ratings all share one bucket, so counting distinct users per bucket
    # only needs the bucket of each distinct user.
    _, first = np.unique(users, return_index=True)
    n_users = np.bincount(bucket[first], minlength=n_buckets)
    with np.errstate(invalid="ignore", divide="ignore"):
        bucket_rmse = np.sqrt(squared / n_ratings)
    lows, highs = edges[:-1], edges[1:]
    return pd.DataFrame(
        {
            "min_train_ratings": lows,
            "max_train_ratings": np.where(np.isinf(highs), np.inf, highs - 1),
            "n_users": n_users,
            "n_ratings": n_ratings,
            "rmse": np.where(n_ratings > 0, bucket_rmse, np.nan),
        },
        index=pd.Index([_bucket_label(lo, hi) for lo, hi in zip(lows, highs)], name="bucket"),
    )
