"""Summaries of a :class:`~embrec.data.ratings.Ratings` table.

:func:`describe` gives the numbers that decide how a model should be set up:
size, density, the rating distribution and how unevenly ratings spread over
users and items. :func:`crosstab` shows the densest corner of the rating matrix.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.ratings import Ratings

QUANTILES = {"min": 0.0, "25%": 0.25, "median": 0.5, "75%": 0.75, "max": 1.0}
_MAX_HISTOGRAM_BINS = 50


def _quantiles(counts: np.ndarray) -> dict[str, float]:
    if len(counts) == 0:
        return {name: 0.0 for name in QUANTILES}
    values = np.quantile(counts, list(QUANTILES.values()))
    return {name: float(v) for name, v in zip(QUANTILES, values, strict=True)}


def _value_key(value: float) -> str:
    return f"{value:g}"


def rating_histogram(ratings: Ratings) -> dict[str, int]:
    """Count of each rating value, keyed by the value as text (``"3"``, ``"4.5"``).

    When the values lie on the scale's step grid they are counted with a bincount
    (linear in the number of ratings). Otherwise, more than 50 distinct values are
    cut into 10 equal bins keyed ``"low..high"``.
    """
    values = ratings.values
    if len(values) == 0:
        return {}
    scale = ratings.scale
    if scale.step:
        lowest = float(values.min())
        offsets = (values.astype(np.float64) - lowest) / scale.step
        steps = np.round(offsets).astype(np.int64)
        if np.allclose(offsets, steps, atol=1e-4):
            counts = np.bincount(steps)
            return {_value_key(lowest + k * scale.step): int(c) for k, c in enumerate(counts) if c}
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) <= _MAX_HISTOGRAM_BINS:
        return {_value_key(float(v)): int(c) for v, c in zip(distinct, counts, strict=True)}
    counts, edges = np.histogram(values, bins=10)
    return {f"{edges[k]:.3g}..{edges[k + 1]:.3g}": int(c) for k, c in enumerate(counts)}


def _iso_day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")


def describe(ratings: Ratings) -> dict[str, Any]:
    """The summary of a rating table, as a JSON-able dict.

    Keys: ``name``; ``n_ratings``; ``n_users`` and ``n_items`` (those with at least
    one rating) and ``id_map_users``/``id_map_items`` (sizes of the id maps, which
    can be larger in a split); ``density = n_ratings / (n_users * n_items)``;
    ``rating_min``/``rating_max`` (observed); ``scale_low``/``scale_high``/
    ``scale_step`` (declared); ``mean`` and ``std`` (population standard
    deviation) of the values; ``histogram`` (:func:`rating_histogram`);
    ``user_activity`` and ``item_popularity``: min, 25%, median, 75% and max of
    the ratings per user and per item (over those with at least one, linear
    interpolation); ``timestamp_min``/``timestamp_max`` (unix seconds) and
    ``first_day``/``last_day`` when there are timestamps; ``merged_duplicates``
    when the loader recorded it.
    """
    user_counts = ratings.user_counts()
    item_counts = ratings.item_counts()
    user_counts, item_counts = user_counts[user_counts > 0], item_counts[item_counts > 0]
    n = len(ratings)
    values = ratings.values.astype(np.float64)
    summary: dict[str, Any] = {
        "name": ratings.name,
        "n_ratings": n,
        "n_users": len(user_counts),
        "n_items": len(item_counts),
        "id_map_users": ratings.n_users,
        "id_map_items": ratings.n_items,
        "density": n / max(1, len(user_counts) * len(item_counts)),
        "rating_min": float(values.min()) if n else None,
        "rating_max": float(values.max()) if n else None,
        "scale_low": ratings.scale.low,
        "scale_high": ratings.scale.high,
        "scale_step": ratings.scale.step,
        "mean": float(values.mean()) if n else None,
        "std": float(values.std()) if n else None,
        "histogram": rating_histogram(ratings),
        "user_activity": _quantiles(user_counts),
        "item_popularity": _quantiles(item_counts),
    }
    if ratings.timestamps is not None and n:
        first, last = int(ratings.timestamps.min()), int(ratings.timestamps.max())
        summary.update(
            timestamp_min=first,
            timestamp_max=last,
            first_day=_iso_day(first),
            last_day=_iso_day(last),
        )
    if "merged_duplicates" in ratings.source:
        summary["merged_duplicates"] = int(ratings.source["merged_duplicates"])
    return summary


def _top(counts: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest counts (ties to the lower index), excluding zeros."""
    order = np.lexsort((np.arange(len(counts)), -counts))
    order = order[counts[order] > 0]
    return order[:n]


def _unique_labels(labels: list[str], raw_ids: np.ndarray) -> list[str]:
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [
        f"{label} [{raw}]" if seen[label] > 1 else label
        for label, raw in zip(labels, raw_ids, strict=True)
    ]


def crosstab(ratings: Ratings, n_users: int = 15, n_items: int = 15) -> pd.DataFrame:
    """The ratings of the most active users (rows) for the most rated items (columns).

    Rows are indexed by raw user id and ordered by activity; columns are item
    titles (the raw id where there is no title; a repeated title gets its raw id
    in brackets) ordered by popularity; cells hold the rating or NaN where the
    user did not rate the item.
    """
    top_users = _top(ratings.user_counts(), n_users)
    top_items = _top(ratings.item_counts(), n_items)
    user_slot = np.full(ratings.n_users, -1, dtype=np.int64)
    user_slot[top_users] = np.arange(len(top_users))
    item_slot = np.full(ratings.n_items, -1, dtype=np.int64)
    item_slot[top_items] = np.arange(len(top_items))
    rows, cols = user_slot[ratings.users], item_slot[ratings.items]
    picked = (rows >= 0) & (cols >= 0)
    table = np.full((len(top_users), len(top_items)), np.nan)
    table[rows[picked], cols[picked]] = ratings.values[picked]
    item_raw = ratings.item_ids.to_raw(top_items)
    columns = _unique_labels(ratings.titles(top_items), item_raw)
    index = pd.Index(ratings.user_ids.to_raw(top_users), name="user")
    return pd.DataFrame(table, index=index, columns=pd.Index(columns, name="item"))
