"""The one scoring of predicted ratings against held-out ones, used by every solver.

For ``n`` held-out ratings ``r_j``, raw predictions ``p_j`` and the same
predictions clipped to the rating scale ``c_j = clip(p_j, low, high)``::

    loss = (1/n) Σ_j (p_j - r_j)²          (the training objective's units)
    RMSE = sqrt( (1/n) Σ_j (c_j - r_j)² )
    MAE  = (1/n) Σ_j |c_j - r_j|

The epoch table, early stopping, ``fit``'s metrics and
:mod:`embrec.evaluation.metrics` all score through :func:`score_predictions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embrec.data.ratings import RatingScale


@dataclass
class Evaluation:
    loss: float
    rmse: float
    mae: float


def squared_and_absolute(predictions: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """``(RMSE, MAE)`` of ``predictions`` against ``truth``, as given (float64 sums)."""
    error = np.asarray(predictions, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    return float(np.sqrt(np.mean(error**2))), float(np.mean(np.abs(error)))


def score_predictions(raw: np.ndarray, truth: np.ndarray, scale: RatingScale) -> Evaluation:
    """Loss of the raw predictions, RMSE and MAE of the predictions clipped to ``scale``."""
    raw = np.asarray(raw, dtype=np.float64)
    loss = float(np.mean((raw - np.asarray(truth, dtype=np.float64)) ** 2))
    rmse, mae = squared_and_absolute(scale.clip(raw), truth)
    return Evaluation(loss=loss, rmse=rmse, mae=mae)
