"""embrec: collaborative filtering on explicit ratings with neural networks.

The public API, batch-first, raw ids at the edges::

    import embrec

    ratings = embrec.load_dataset("ml-100k")          # or embrec.load_source(dataframe)
    split = embrec.make_split(ratings, "u1")
    model = embrec.fit(split.train, "mf-bias", test=split.test, epochs=5)
    best = embrec.fit(split.train, preset="best", test=split.test)
    embrec.cross_validate(ratings, "mf-bias", folds="official")
    embrec.recommend(model, 196, n=10)
    embrec.recommend_for_ratings(model, {"Star Wars (1977)": 5}, n=10)
    model.save("runs/mf-bias")
    model = embrec.load("runs/mf-bias")

Results (models, CV results, recommendations) print as short tables, show as
HTML tables in a notebook and convert with ``.to_pandas()``. ``embrec.recommend``
is both the function above and the module of the other recommenders.

Heavy modules (torch) are imported on first use, so ``import embrec`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from embrec.data.idmap import IdMap
from embrec.data.ratings import Ratings, RatingScale
from embrec.errors import BundleError, ConfigError, DataError, EmbrecError, ModelError

__version__ = "0.1.0"

_LAZY = {
    "fit": "embrec.training.fit",
    "lr_find": "embrec.training.lr_find",
    "advise_lr": "embrec.training.lr_advice",
    "load": "embrec.bundle",
    "TrainedModel": "embrec.bundle",
    "load_dataset": "embrec.data.datasets",
    "load_source": "embrec.data.datasets",
    "make_split": "embrec.data.splits",
    "generate_ratings": "embrec.data.synthetic",
    "cross_validate": "embrec.evaluation.crossval",
    "recommend_for_ratings": "embrec.recommend",
    "recommend_many": "embrec.recommend",
    "similar_items": "embrec.recommend",
    "item_biases": "embrec.recommend",
    "item_pca": "embrec.recommend",
}


def __getattr__(name: str) -> Any:
    if name == "recommend":  # the subpackage, callable as its recommend function
        return import_module("embrec.recommend")
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'embrec' has no attribute {name!r}")


__all__ = [
    "BundleError",
    "ConfigError",
    "DataError",
    "EmbrecError",
    "IdMap",
    "ModelError",
    "RatingScale",
    "Ratings",
    "TrainedModel",
    "__version__",
    "advise_lr",
    "cross_validate",
    "fit",
    "generate_ratings",
    "item_biases",
    "item_pca",
    "load",
    "load_dataset",
    "load_source",
    "lr_find",
    "make_split",
    "recommend",
    "recommend_for_ratings",
    "recommend_many",
    "similar_items",
]
