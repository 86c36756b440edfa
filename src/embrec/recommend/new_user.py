"""Recommendations for a user the model has never seen, from a handful of ratings.

``recommend_for_ratings(model, {"Star Wars (1977)": 5, 181: 4})`` folds the
ratings into the frozen model (:mod:`embrec.recommend.foldin`) and ranks items
by the same path as for a known user (:mod:`embrec.recommend.engine`). No
ratings at all is the cold-start answer (:mod:`embrec.recommend.coldstart`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from embrec.bundle import TrainedModel
from embrec.recommend.engine import recommender_for
from embrec.recommend.filters import ItemFilter
from embrec.recommend.result import Recommendations


def recommend_for_ratings(
    model: TrainedModel,
    ratings: Mapping[Any, float] | Iterable[tuple[Any, float]],
    n: int = 10,
    exclude_seen: bool = True,
    candidates: Iterable[Any] | None = None,
    item_filter: ItemFilter | None = None,
) -> Recommendations:
    """Top-``n`` for a new user given as ``{item id or title: rating}``, with explanations.

    Titles match forgivingly (:mod:`embrec.recommend.titles`); an unknown or
    ambiguous item, a repeated item or a rating outside the model's scale is a
    ModelError. ``because`` lists, per recommended item, the highly rated given
    items most like it. ``strategy`` says which fold-in (or cold start) answered;
    ``matched`` what each input was read as.
    """
    recommender = recommender_for(model)
    query = recommender.queries.from_ratings(ratings)
    return recommender.recommend(query, n, exclude_seen, candidates, item_filter=item_filter)
