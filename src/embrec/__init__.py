"""embrec: collaborative filtering on explicit ratings with neural networks.

The public API, batch-first, raw ids at the edges::

    import embrec

    ratings = embrec.load_dataset("ml-100k")
    split = embrec.make_split(ratings, "u1")
    model = embrec.fit(split.train, "mf-bias", valid=split.test, epochs=5)
    model.save("runs/mf-bias")
    model = embrec.load("runs/mf-bias")

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
}


def __getattr__(name: str) -> Any:
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
    "fit",
    "generate_ratings",
    "load",
    "load_dataset",
    "load_source",
    "lr_find",
    "make_split",
]
