"""Top-N for users the model was trained on, one at a time or all at once.

The batch form runs the steps of :mod:`embrec.recommend.engine` on blocks of
users as matrices: ``predictor.score_users`` on a block (about 4M scores at a
time), the block's training ratings (rows of the user x item CSR matrix) set to
-inf in one fancy-indexed assignment, ``argpartition`` for the top ``n``. With a
ranking model in the bundle the block is ordered by pick score times predicted
rating (:mod:`embrec.recommend.ranking_scorer`); the scores returned stay the
predicted ratings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from embrec.bundle import TrainedModel
from embrec.recommend.engine import recommender_for, top_n
from embrec.recommend.filters import ItemFilter
from embrec.recommend.ranking_scorer import pick_times_liking
from embrec.recommend.result import RecommendationBatch, Recommendations, plain

SCORES_PER_BLOCK = 1 << 22


def recommend(
    model: TrainedModel,
    user_id: Any,
    n: int = 10,
    exclude_seen: bool = True,
    candidates: Iterable[Any] | None = None,
    item_filter: ItemFilter | None = None,
) -> Recommendations:
    """The ``n`` best items for a known user, best first.

    Ranked by the bundle's ranking scorer (pick score times predicted rating) or,
    without a ranking model, by predicted rating; ``scorer`` in the result says which.
    Items the user rated in training are left out unless ``exclude_seen`` is
    False; ``candidates`` (raw ids or titles) restricts the choice. Scores are
    predicted ratings clipped to the scale, ranked before clipping. An unknown
    ``user_id`` is a ModelError (a new user goes through ``recommend_for_ratings``).
    ``item_filter`` (:class:`~embrec.recommend.filters.ItemFilter`) sets a minimum of
    training ratings and items or genres to include or exclude.
    """
    recommender = recommender_for(model)
    return recommender.recommend(
        recommender.known_query(user_id), n, exclude_seen, candidates, item_filter=item_filter
    )


def recommend_many(
    model: TrainedModel,
    user_ids: Sequence[Any] | np.ndarray,
    n: int = 10,
    exclude_seen: bool = True,
    candidates: Iterable[Any] | None = None,
    item_filter: ItemFilter | None = None,
) -> RecommendationBatch:
    """Top-``n`` for many known users at once: ``(len(user_ids), n)`` items and scores."""
    recommender = recommender_for(model)
    raw = list(user_ids)
    users = model.user_ids.indices_of(np.asarray(raw)) if raw else np.empty(0, np.int64)
    if (users < 0).any():
        raise recommender.unknown_user(raw[int(np.flatnonzero(users < 0)[0])])
    mask = recommender.candidate_mask(candidates, item_filter)
    n_items = model.train.n_items
    width = max(0, min(int(n), n_items))
    items = np.full((len(users), width), -1, dtype=np.int64)
    scores = np.full((len(users), width), np.nan, dtype=np.float32)
    history = recommender.history
    block = max(1, SCORES_PER_BLOCK // max(1, n_items))
    for start in range(0, len(users), block):
        chunk = users[start : start + block]
        predicted = np.asarray(model.predictor.score_users(chunk), dtype=np.float32)
        rows = history[chunk]
        key = predicted
        if model.ranker is not None:
            pick = model.ranker.score_picks(rows)
            key = pick_times_liking(pick, predicted, model.scale).astype(np.float32)
        if exclude_seen:
            key[np.repeat(np.arange(len(chunk)), np.diff(rows.indptr)), rows.indices] = (
                -np.inf
            )
        if mask is not None:
            key[:, ~mask] = -np.inf
        best = top_n(key, width)
        items[start : start + len(chunk)] = best
        picked = np.take_along_axis(predicted, np.maximum(best, 0), axis=1)
        scores[start : start + len(chunk)] = np.where(
            best >= 0, model.scale.clip(picked), np.nan
        )
    return RecommendationBatch(
        [plain(u) for u in raw], items, scores, model.train, scorer=recommender.scorer
    )
