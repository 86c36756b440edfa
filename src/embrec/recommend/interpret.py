"""What a model learned about items: biases, and a map of the item embeddings.

**Item biases.** ``mf-bias``, ``baseline``, ``embnet`` (its wide part) and
``bfm`` learn ``b_i``: how much better or worse an item is rated than its
factors alone explain ("a film people like even if it is not their kind of
film", fastbook chapter 8). Behind a sigmoid range the bias is in logit units.
Models without item biases (``mf``, the autoencoders) report the fallback
baseline's ``b_i`` of ``μ + b_u + b_i``, and say so.

**PCA map.** The item vectors of :mod:`embrec.recommend.space` (items with
training ratings), centred, projected on their first two principal components
(SVD of the centred matrix ``V - v̄ = U Σ Wᵀ``; coordinates ``U Σ``; explained
variance ``σ_j² / Σ σ²``; computed from the eigenvectors of the smaller Gram
matrix). The plot labels the most rated items; the ends of each axis, among the
300 most rated items, name what the axis separates.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from embrec.bundle import TrainedModel
from embrec.display import TableDisplay
from embrec.recommend.engine import recommender_for
from embrec.recommend.result import plain

AXIS_POOL = 300


@dataclass(repr=False)
class ItemBiases(TableDisplay):
    """The items with the lowest and highest bias, with where the biases come from."""

    source: str
    lowest: list[dict[str, Any]]
    highest: list[dict[str, Any]]

    repr_rows = 20
    show_index = False

    def headline(self) -> str:
        return f"item biases: {self.source}"

    def to_pandas(self) -> pd.DataFrame:
        """The lowest then the highest: ``end``, ``item_id``, ``title``, ``bias``, ``n_ratings``."""
        rows = [{"end": "lowest", **r} for r in self.lowest]
        rows += [{"end": "highest", **r} for r in self.highest]
        return pd.DataFrame(rows, columns=["end", "item_id", "title", "bias", "n_ratings"])

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "lowest": self.lowest, "highest": self.highest}


def item_biases(model: TrainedModel, n: int = 10, min_ratings: int = 20) -> ItemBiases:
    """The ``n`` lowest and ``n`` highest item biases among items with ``min_ratings`` ratings.

    A bias learned from a handful of ratings says more about those raters than
    about the item (fastbook looks at the 1,000 most rated films), hence the floor;
    ``min_ratings=1`` lists every trained item.
    """
    module = model.module
    learned = getattr(module, "item_bias", None)
    if isinstance(learned, torch.nn.Embedding):
        bias = learned.weight.detach().numpy()[:, 0].astype(np.float64)
        source = f"learned item biases of {model.name}"
        if getattr(module, "y_range", None) is not None:
            source += " (logit units, before the sigmoid)"
        else:
            bias = bias * model.transform.factor  # trained on the reference scale: map back
    else:
        bias = model.fallback.item_bias.astype(np.float64)
        source = (f"fallback baseline item biases (mu + b_u + b_i, in stars): "
                  f"{model.name} has no item biases of its own")
    counts = model.train.item_counts()
    rated = np.flatnonzero(counts >= max(1, min_ratings))
    order = rated[np.argsort(bias[rated], kind="stable")]
    source += f"; items with at least {max(1, min_ratings)} ratings"
    titles = recommender_for(model).names.titles

    def rows(indices: np.ndarray) -> list[dict[str, Any]]:
        raw = model.item_ids.to_raw(indices)
        return [{"item_id": plain(r), "title": titles[i], "bias": round(float(bias[i]), 4),
                 "n_ratings": int(counts[i])} for r, i in zip(raw, indices)]

    return ItemBiases(source, rows(order[:n]), rows(order[::-1][:n]))


@dataclass(repr=False)
class ItemPca(TableDisplay):
    """Item vectors on their first two principal components.

    ``to_pandas()`` has one row per item (``titles`` is filled by :func:`item_pca`);
    the repr names what each axis separates.
    """

    space: str
    item_indices: np.ndarray
    coordinates: np.ndarray
    explained: np.ndarray
    axes: list[dict[str, list[str]]] = field(default_factory=list)
    path: Path | None = None
    item_ids: list[Any] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    def headline(self) -> str:
        shares = ", ".join(f"PC{k + 1} {e:.1%}" for k, e in enumerate(self.explained))
        return (f"PCA of {len(self.item_indices):,} item vectors ({self.space}): "
                f"{shares} of the variance")

    def to_pandas(self) -> pd.DataFrame:
        """``item_id``, ``title``, ``pc1``, ``pc2`` per item with training ratings."""
        return pd.DataFrame({
            "item_id": self.item_ids, "title": self.titles,
            "pc1": self.coordinates[:, 0], "pc2": self.coordinates[:, 1],
        })

    def __repr__(self) -> str:
        lines = [self.headline()]
        for k, ends in enumerate(self.axes):
            lines.append(f"  PC{k + 1} low:  {'; '.join(t[:30] for t in ends['low'][:3])}")
            lines.append(f"  PC{k + 1} high: {'; '.join(t[:30] for t in ends['high'][:3])}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "n_items": int(len(self.item_indices)),
            "explained_variance": [round(float(e), 4) for e in self.explained],
            "axes": self.axes,
            "plot": None if self.path is None else str(self.path),
        }


def item_pca(
    model: TrainedModel, n_labels: int = 50, path: str | Path | None = None
) -> ItemPca:
    """PCA of the item vectors; with ``path``, a labelled scatter plot saved as PNG."""
    recommender = recommender_for(model)
    counts = model.train.item_counts()
    items = np.flatnonzero(counts > 0)
    vectors = recommender.space.dense(items).astype(np.float64)
    centred = vectors - vectors.mean(axis=0)
    coordinates, explained = principal_coordinates(centred, 2)
    titles = recommender.names.titles
    popular = np.argsort(-counts[items], kind="stable")
    axes = []
    for axis in range(2):
        pool = popular[:AXIS_POOL]
        order = pool[np.argsort(coordinates[pool, axis], kind="stable")]
        axes.append({"low": [titles[items[i]] for i in order[:5]],
                     "high": [titles[items[i]] for i in order[::-1][:5]]})
    result = ItemPca(recommender.space.description, items, coordinates, explained, axes,
                     item_ids=[plain(r) for r in model.item_ids.to_raw(items)],
                     titles=[titles[i] for i in items])
    if path is not None:
        labelled = popular[:n_labels]
        label = model.train.name
        result.path = plot_pca(result, [titles[items[i]] for i in labelled], labelled, label,
                               Path(path))
    return result


def principal_coordinates(centred: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates ``U_k Σ_k`` on the top ``k`` principal axes and their variance shares.

    From the eigenvectors of the smaller Gram matrix, ``XᵀX`` (``(XᵀX) w = σ² w``,
    coordinates ``X w``) or ``XXᵀ`` (``(XXᵀ) u = σ² u``, coordinates ``σ u``),
    which is much cheaper than a full SVD when only two axes are wanted.
    """
    rows, columns = centred.shape
    gram = centred.T @ centred if columns <= rows else centred @ centred.T
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1][:k]
    top = np.maximum(values[order], 0.0)
    if columns <= rows:
        coordinates = centred @ vectors[:, order]
    else:
        coordinates = vectors[:, order] * np.sqrt(top)
    out = np.zeros((rows, k))
    out[:, : coordinates.shape[1]] = coordinates
    explained = np.zeros(k)
    explained[: len(top)] = top / (float(np.trace(gram)) or 1.0)
    return out, explained


def _short(title: str, limit: int = 26) -> str:
    text = title.rsplit(" (", 1)[0] if title.endswith(")") else title
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plot_pca(
    pca: ItemPca, labels: list[str], labelled: np.ndarray, what: str, path: Path
) -> Path:
    """Scatter of all items, the labelled ones highlighted, labels kept from overlapping."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    xy = pca.coordinates
    fig, ax = plt.subplots(figsize=(13, 10), dpi=110)
    ax.scatter(xy[:, 0], xy[:, 1], s=5, c="#b8b8b8", alpha=0.5, linewidths=0,
               label=f"all {len(xy)} items")
    ax.scatter(xy[labelled, 0], xy[labelled, 1], s=18, c="#1f5fa8", linewidths=0,
               label=f"the {len(labelled)} most rated")
    ax.set_xlabel(f"PC1 ({100 * pca.explained[0]:.1f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * pca.explained[1]:.1f}% of variance)")
    ax.set_title(f"PCA of the {pca.space} ({what})")
    low, high = xy.min(axis=0), xy.max(axis=0)
    pad = 0.06 * np.maximum(high - low, 1e-9)
    ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
    ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.grid(alpha=0.2)
    fig.tight_layout()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed = []
    offsets = [(5, 3, "left", "bottom"), (-5, 3, "right", "bottom"),
               (5, -3, "left", "top"), (-5, -3, "right", "top"),
               (0, 7, "center", "bottom"), (0, -7, "center", "top"),
               (14, 12, "left", "bottom"), (-14, 12, "right", "bottom"),
               (14, -12, "left", "top"), (-14, -12, "right", "top"),
               (0, 18, "center", "bottom"), (0, -18, "center", "top"),
               (24, 22, "left", "bottom"), (-24, 22, "right", "bottom"),
               (24, -22, "left", "top"), (-24, -22, "right", "top"),
               (0, 30, "center", "bottom"), (0, -30, "center", "top")]
    for (x, y), text in zip(xy[labelled], labels):
        best = None
        for dx, dy, ha, va in offsets:
            leader = {"arrowstyle": "-", "lw": 0.4, "color": "#808080"}
            note = ax.annotate(_short(text), (x, y), xytext=(dx, dy), textcoords="offset points",
                               ha=ha, va=va, fontsize=7, color="#1b1b1b",
                               arrowprops=leader if abs(dy) > 10 else None)
            note.update_positions(renderer)
            box = Text.get_window_extent(note, renderer).expanded(1.02, 1.1)
            inside = (frame.x0 <= box.x0 and box.x1 <= frame.x1
                      and frame.y0 <= box.y0 and box.y1 <= frame.y1)
            overlap = sum(box.overlaps(other) for other in placed) + (0 if inside else 100)
            if best is None or overlap < best[0]:
                if best is not None:
                    best[1].remove()
                best = (overlap, note, box)
            else:
                note.remove()
            if overlap == 0:
                break
        placed.append(best[2])
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(handle)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return path
