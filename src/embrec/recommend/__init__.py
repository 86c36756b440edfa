"""Recommending from a trained model: known users, new users, cold start, similar items.

* :func:`recommend` / :func:`recommend_many`: top-N for users the model was trained on;
* :func:`recommend_for_ratings`: top-N for a new user from ``{item or title: rating}``,
  folded into the frozen model without retraining (empty: the cold-start answer);
* :func:`predict_new_item`: ratings of an item nobody has rated yet;
* :func:`onboarding_items`: the items to ask a new user about first;
* :func:`similar_items`: nearest items in the model's item space;
* :func:`item_biases`, :func:`item_pca`: what the model learned about items.

The package itself is callable as :func:`recommend`, so that
``embrec.recommend(model, user_id)`` and ``embrec.recommend.similar_items(...)``
both read naturally.
"""

import sys
from types import ModuleType
from typing import Any

from embrec.recommend.coldstart import COLD_START, NewItemPrediction, predict_new_item
from embrec.recommend.engine import Query, Recommender, recommender_for
from embrec.recommend.foldin import FoldIn, make_fold_in
from embrec.recommend.interpret import ItemBiases, ItemPca, item_biases, item_pca
from embrec.recommend.known import recommend, recommend_many
from embrec.recommend.new_user import recommend_for_ratings
from embrec.recommend.onboarding import OnboardingItems, onboarding_items
from embrec.recommend.result import RecommendationBatch, Recommendations, SimilarItems
from embrec.recommend.similar import similar_items

__all__ = [
    "COLD_START",
    "FoldIn",
    "ItemBiases",
    "ItemPca",
    "NewItemPrediction",
    "OnboardingItems",
    "Query",
    "RecommendationBatch",
    "Recommendations",
    "Recommender",
    "SimilarItems",
    "item_biases",
    "item_pca",
    "make_fold_in",
    "onboarding_items",
    "predict_new_item",
    "recommend",
    "recommend_for_ratings",
    "recommend_many",
    "recommender_for",
    "similar_items",
]


class CallableModule(ModuleType):
    """This package, callable as :func:`~embrec.recommend.known.recommend`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Recommendations:
        return recommend(*args, **kwargs)


sys.modules[__name__].__class__ = CallableModule
