"""The figures of an evaluation report, as PNG files (matplotlib, Agg backend).

* :func:`plot_learning_curves`: per fold, the training loss and the test-fold
  loss (MSE, stars²) per epoch;
* :func:`plot_activity`: RMSE per user-activity bucket (cold to heavy users),
  one line per model plus the model's folds;
* :func:`plot_sweep`: test RMSE against a swept hyperparameter, one line per
  fold plus the mean, with the baseline's mean for reference.

Each figure is rendered into memory and written atomically (temporary file, rename).
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from embrec.evaluation.crossval import FoldResult

FOLD_ALPHA = 0.55
ZOOM_SPREAD = 0.25
"""Mean RMSEs spread over more stars than this get a zoomed second sweep panel."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Render ``figure`` as PNG and write it atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def plot_learning_curves(folds: Sequence[FoldResult], path: str | Path, title: str) -> Path | None:
    """Train and test-fold loss per epoch, one panel per fold; None when no fold has epochs."""
    with_epochs = [f for f in folds if f.history.get("epochs")]
    if not with_epochs:
        return None
    plt = _pyplot()
    columns = min(3, len(with_epochs))
    rows = math.ceil(len(with_epochs) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(3.2 * columns + 0.6, 2.9 * rows + 0.6), sharey=True, squeeze=False
    )
    for ax, fold in zip(axes.flat, with_epochs):
        epochs = fold.history["epochs"]
        x = [e["epoch"] for e in epochs]
        size = 6 if len(x) <= 12 else 3
        ax.plot(x, [e["train_loss"] for e in epochs], "o-", markersize=size, label="train loss")
        valid = [e["valid_loss"] for e in epochs]
        if any(v is not None for v in valid):
            ax.plot(x, [np.nan if v is None else v for v in valid], "s-", markersize=size,
                    label="test-fold loss")
        best = fold.history.get("best_epoch")
        if best is not None:
            ax.axvline(best, color="grey", linestyle=":", linewidth=1, label="best epoch")
        ax.set_title(f"fold {fold.fold} (test RMSE {fold.rmse:.4f})", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_xticks(x if len(x) <= 12 else x[:: max(1, len(x) // 10)])
        ax.grid(alpha=0.3)
    losses = [e[key] for f in with_epochs for e in f.history["epochs"]
              for key in ("train_loss", "valid_loss") if e[key] is not None]
    spread = max(losses) / max(min(losses), 1e-12) if losses else 1.0
    for ax in axes[:, 0]:
        if spread > 5:
            ax.set_yscale("log")
        ax.set_ylabel("MSE (stars²)" + (", log scale" if spread > 5 else ""))
    for ax in list(axes.flat)[len(with_epochs):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)


def activity_frame(folds: Sequence[FoldResult]) -> pd.DataFrame:
    """Pooled RMSE and counts per activity bucket over the folds (empty buckets dropped)."""
    from embrec.evaluation.crossval import pooled_activity

    frame = pd.DataFrame(pooled_activity(folds))
    if frame.empty:
        return frame
    return frame[frame["n_ratings"] > 0].set_index("bucket")


def plot_activity(
    models: Mapping[str, Sequence[FoldResult]], path: str | Path, title: str
) -> Path | None:
    """RMSE per user-activity bucket: pooled per model, and per fold for the first model."""
    first = next(iter(models), None)
    if first is None:
        return None
    reference = activity_frame(models[first])
    if reference.empty:
        return None
    buckets = list(reference.index)
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(8, 4.6))
    x = np.arange(len(buckets))
    for fold in models[first] if len(models[first]) > 1 else []:
        per_fold = pd.DataFrame(fold.activity).set_index("bucket").reindex(buckets)
        ax.plot(x, per_fold["rmse"].astype(float), color="C0", alpha=0.25, linewidth=1)
    for index, (name, folds) in enumerate(models.items()):
        pooled = activity_frame(folds).reindex(buckets)
        ax.plot(x, pooled["rmse"].astype(float), "o-", color=f"C{index}", linewidth=2,
                label=f"{name} (all folds)")
    if len(models[first]) > 1:
        ax.plot([], [], color="C0", alpha=0.25, label=f"{first}, each fold")
    labels = [f"{b}\n{int(n):,} ratings\n{int(u):,} users*"
              for b, n, u in zip(buckets, reference["n_ratings"], reference["n_users"])]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_xlabel("user's number of training ratings (bucket); test ratings and users per bucket"
                  "\n* users summed over folds")
    ax.set_ylabel("test RMSE (stars)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return save_figure(figure, path)


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


KEY_NAMES = {
    "lr": "learning rate (peak, lr)",
    "weight_decay": "weight decay",
    "wd": "weight decay",
    "factors": "embedding width (factors)",
    "emb_l2": "L2 on embedding rows (emb_l2)",
    "epochs": "epochs",
    "batch_size": "batch size (ratings)",
    "dropout": "dropout probability",
}
"""Axis labels of common hyperparameters."""


def _draw_sweep(ax, x, table, folds, columns, baseline_rmse) -> None:
    for index, fold in enumerate(folds):
        ax.plot(x, table.loc[fold, columns].astype(float), "o-", color=f"C{index % 10}",
                alpha=FOLD_ALPHA, linewidth=1, markersize=4, label=f"fold {fold}")
    mean = table.loc["mean", columns].astype(float)
    std = table.loc["std", columns].astype(float).fillna(0.0)
    ax.errorbar(x, mean, yerr=std, fmt="D-", color="black", linewidth=2.2, capsize=4,
                label="mean ± std over folds")
    if baseline_rmse is not None:
        ax.axhline(baseline_rmse, color="firebrick", linestyle="--", linewidth=1.5,
                   label=f"baseline mean {baseline_rmse:.4f}")
    best = int(np.nanargmin(mean.to_numpy()))
    ax.annotate(f"best {mean.iloc[best]:.4f}", (x[best], mean.iloc[best]),
                textcoords="offset points", xytext=(0, 12), ha="center", fontsize=9,
                bbox={"boxstyle": "round", "fc": "white", "ec": "grey", "alpha": 0.8})
    ax.set_ylabel("test RMSE (stars)")
    ax.grid(alpha=0.3)


def plot_sweep(
    table: pd.DataFrame,
    points: Sequence[Mapping[str, Any]],
    path: str | Path,
    title: str,
    baseline_rmse: float | None = None,
) -> Path:
    """Test RMSE per point: one line per fold, the mean (± std) and the baseline's mean.

    ``table`` is :meth:`SweepResult.table` (folds, then ``mean`` and ``std``
    rows; one column per point). With one numeric hyperparameter the x axis is
    its value (logarithmic when the values span a factor of 20 or more);
    otherwise each point is a category on the x axis. When the means span more
    than :data:`ZOOM_SPREAD` stars a second panel zooms in on the best points.
    """
    plt = _pyplot()
    keys = list(dict.fromkeys(k for p in points for k in p))
    folds = [f for f in table.index if f not in ("mean", "std")]
    values = [p.get(keys[0]) for p in points] if len(keys) == 1 else []
    numeric = len(keys) == 1 and _numeric(values)
    order = np.argsort(values) if numeric else np.arange(len(points))
    x = np.asarray(values, dtype=float)[order] if numeric else np.arange(len(points))
    columns = [table.columns[i] for i in order]
    means = table.loc["mean", columns].astype(float).to_numpy()
    zoom = np.nanmax(means) - np.nanmin(means) > ZOOM_SPREAD
    width = max(6.5, 0.9 * len(points) + 3)
    figure, axes = plt.subplots(1, 2 if zoom else 1, figsize=(width * (1.8 if zoom else 1), 4.6),
                                squeeze=False)
    for ax in axes[0]:
        _draw_sweep(ax, x, table, folds, columns, baseline_rmse)
        if numeric:
            positive = all(v > 0 for v in values)
            if positive and max(values) / min(values) >= 20:
                ax.set_xscale("log")
            ax.set_xticks(x, [f"{v:g}" for v in x])
            ax.minorticks_off()
            ax.set_xlabel(KEY_NAMES.get(keys[0], keys[0]))
        else:
            ax.set_xticks(x, [str(c) for c in columns], rotation=30 if len(points) > 3 else 0,
                          ha="right" if len(points) > 3 else "center", fontsize=8)
            ax.set_xlabel(", ".join(keys) if keys else "point")
    axes[0, 0].set_title(title)
    axes[0, 0].legend(fontsize=8)
    if zoom:
        low = float(np.nanmin(table.loc[folds, columns].astype(float).to_numpy()))
        axes[0, 1].set_ylim(low - 0.01, float(np.nanmin(means)) + 0.08)
        axes[0, 1].set_title("zoom on the best settings")
    figure.tight_layout()
    return save_figure(figure, path)
