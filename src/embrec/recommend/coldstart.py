"""Cold start: a user with no ratings, an item with none.

**A new user with no ratings** gets the average user's list, nudged towards
items people know. For item ``i`` with ``n_i`` training ratings::

    ā_i = mean over known users u of r̂(u, i)                        (the average user)
    rank_i = ā_i + γ (hi - lo) log(1 + n_i) / log(1 + max_j n_j)    (γ = 1/8)

``ā_i`` is each model's own prediction averaged over (a seeded sample of at most
2,000 of) the known users, so it is the average user of that model, not of a
separate baseline; the popularity term is worth at most half a star on a 1..5
scale and favours items a new user is likely to have heard of over obscure ones
with a few enthusiastic ratings. The score shown is ``ā_i``, clipped; the list
says it is a cold-start answer.

**A new item with no ratings** is predicted as the average item for each user,
or, when the data has genres, the average of the items sharing its genres::

    r̂(u, new) = mean over i ∈ G of r̂(u, i)

where G is the set of items that have every given genre (or, if there is none,
those with the largest Jaccard overlap with the given genres).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from embrec.bundle import TrainedModel
from embrec.errors import ModelError
from embrec.recommend.query import user_index
from embrec.recommend.result import plain

COLD_START = "cold-start: average user + popularity"
POPULARITY_WEIGHT = 0.125
AVERAGE_USER_SAMPLE = 2000


def score_chunks(model: TrainedModel, users: np.ndarray):
    """``(users, scores)`` blocks of predictor.score_users, about 4M scores at a time."""
    chunk = max(1, (1 << 22) // max(1, model.train.n_items))
    for start in range(0, len(users), chunk):
        block = users[start : start + chunk]
        yield block, model.predictor.score_users(block)


def average_user_scores(
    model: TrainedModel, sample: int = AVERAGE_USER_SAMPLE, seed: int = 0
) -> np.ndarray:
    """ā: the mean of the known users' unclipped predicted ratings of every item."""
    users = np.flatnonzero(model.train.user_counts() > 0)
    if len(users) == 0:
        return model.fallback.global_mean + model.fallback.item_bias.astype(np.float64)
    if len(users) > sample:
        users = np.sort(np.random.default_rng(seed).choice(users, sample, replace=False))
    total = np.zeros(model.train.n_items)
    for _, scores in score_chunks(model, users):
        total += scores.sum(axis=0, dtype=np.float64)
    return total / len(users)


def popularity_bonus(model: TrainedModel) -> np.ndarray:
    """``γ (hi - lo) log(1 + n_i) / log(1 + max n)``: at most an eighth of the scale."""
    counts = model.train.item_counts().astype(np.float64)
    top = np.log1p(counts.max()) if len(counts) and counts.max() > 0 else 1.0
    return POPULARITY_WEIGHT * (model.scale.high - model.scale.low) * np.log1p(counts) / top


@dataclass
class NewItemPrediction:
    """Predicted ratings of an item with no ratings, for each of ``user_ids``."""

    user_ids: list[Any]
    ratings: np.ndarray
    basis: str
    n_items: int

    def to_json(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "n_items": self.n_items,
            "predictions": [
                {"user_id": plain(u), "rating": round(float(r), 4)}
                for u, r in zip(self.user_ids, self.ratings)
            ],
        }


def _genre_sets(model: TrainedModel) -> list[set[str]]:
    info = model.train.item_info
    if info is None or "genres" not in info:
        raise ModelError("this model's data has no genres; call predict_new_item without genres")
    column = info["genres"].reindex(np.arange(model.train.n_items))
    return [set(g.split("|")) if isinstance(g, str) and g else set() for g in column]


def items_like(model: TrainedModel, genres: str | list[str] | None) -> tuple[np.ndarray, str]:
    """The trained items a new item with ``genres`` is averaged over, and a description."""
    trained = model.train.item_counts() > 0
    if not genres:
        return np.flatnonzero(trained), "the average item"
    wanted = {g.strip() for g in (genres.split("|") if isinstance(genres, str) else genres)}
    wanted.discard("")
    sets = _genre_sets(model)
    by_fold = {g.casefold(): g for s in sets for g in s}
    unknown = sorted(g for g in wanted if g.casefold() not in by_fold)
    if unknown:
        raise ModelError(
            f"unknown genre {unknown[0]!r}; this model's genres are: "
            f"{', '.join(sorted(by_fold.values()))}"
        )
    wanted = {by_fold[g.casefold()] for g in wanted}
    label = "|".join(sorted(wanted))
    full = np.asarray([wanted <= s for s in sets]) & trained
    if full.any():
        return np.flatnonzero(full), f"the average of {full.sum()} items with genres {label}"
    overlap = np.asarray([len(wanted & s) / len(wanted | s) for s in sets]) * trained
    best = np.flatnonzero(overlap == overlap.max())
    return best, f"the average of {len(best)} items closest to genres {label}"


def predict_new_item(
    model: TrainedModel,
    genres: str | list[str] | None = None,
    user_ids: list[Any] | None = None,
) -> NewItemPrediction:
    """Ratings of an unrated new item: the average item, or the average of items of its genres.

    ``genres`` is ``"Action|Sci-Fi"`` or a list; ``user_ids`` defaults to every
    known user. Predictions are clipped to the rating scale.
    """
    items, basis = items_like(model, genres)
    if user_ids is None:
        users = np.arange(model.train.n_users)
        raw_users = [plain(u) for u in model.user_ids.raw_ids]
    else:
        users = np.asarray([user_index(model, u) for u in user_ids], dtype=np.int64)
        raw_users = list(user_ids)
    ratings = np.empty(len(users), dtype=np.float32)
    position = 0
    for block, scores in score_chunks(model, users):
        ratings[position : position + len(block)] = scores[:, items].mean(axis=1)
        position += len(block)
    return NewItemPrediction(raw_users, model.scale.clip(ratings), basis, len(items))
