"""The table of a cross-validation: one column per fold, then the mean and standard deviation.

The layout is the one Surprise's ``cross_validate(verbose=True)`` prints::

                      Fold 1  Fold 2  Fold 3  Fold 4  Fold 5  Mean    Std
    RMSE (testset)    0.9311  0.9370  0.9320  0.9317  0.9391  0.9342  0.0032
    MAE (testset)     0.7350  0.7375  0.7341  0.7342  0.7375  0.7357  0.0015
    Fit time          6.53    7.11    7.23    7.15    3.99    6.40    1.23
    Test time         0.26    0.26    0.25    0.15    0.13    0.21    0.06

except that ``Std`` here is the sample standard deviation (``ddof=1``, as every
embrec result reports it) where Surprise takes the population one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from embrec.evaluation.fold import FoldResult

ROWS = {
    "RMSE (testset)": "rmse",
    "MAE (testset)": "mae",
    "Fit time": "fit_seconds",
    "Test time": "predict_seconds",
}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``; 0 for one value, NaN for none)."""
    array = np.asarray(values, dtype=np.float64)
    if len(array) == 0:
        return math.nan, math.nan
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return float(array.mean()), std


def fold_table(folds: Sequence[FoldResult]) -> pd.DataFrame:
    """Metrics by fold (``Fold 1`` .. ``Fold K``, in fold order) with ``Mean`` and ``Std``.

    The fold each column holds is named in ``frame.attrs["folds"]`` (``u1``, ``kfold:5:2``).
    """
    columns = [f"Fold {k}" for k in range(1, len(folds) + 1)]
    rows = {}
    for label, name in ROWS.items():
        values = [float(getattr(f, name)) for f in folds]
        rows[label] = [*values, *mean_std(values)]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=[*columns, "Mean", "Std"])
    frame.attrs["folds"] = [f.fold for f in folds]
    return frame


def pooled_activity(folds: Sequence[FoldResult]) -> list[dict[str, Any]]:
    """RMSE per activity bucket over all folds' test ratings together.

    ``RMSE_b = sqrt( sum_f n_fb RMSE_fb^2 / sum_f n_fb )`` with ``n_fb`` the
    test ratings of fold ``f`` in bucket ``b``.
    """
    merged: dict[str, dict[str, Any]] = {}
    for fold in folds:
        for row in fold.activity:
            entry = merged.setdefault(
                row["bucket"], {**row, "n_users": 0, "n_ratings": 0, "squared": 0.0}
            )
            entry["n_users"] += int(row["n_users"])
            entry["n_ratings"] += int(row["n_ratings"])
            if row["n_ratings"]:
                entry["squared"] += int(row["n_ratings"]) * float(row["rmse"]) ** 2
    out = []
    for entry in merged.values():
        squared = entry.pop("squared")
        entry["rmse"] = math.sqrt(squared / entry["n_ratings"]) if entry["n_ratings"] else None
        out.append(entry)
    return out
