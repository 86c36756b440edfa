"""Refusing to train or test on too little data, saying how much is needed.

A model trained on a single rating (or on one pair rated many times, which the
readers merge into one) learns nothing, and a test set with no ratings has no
RMSE (it would print ``nan``). Both are one-line errors instead.
"""

from __future__ import annotations

import numpy as np

from embrec.data.ratings import Ratings
from embrec.errors import DataError

MIN_TRAIN_RATINGS = 2
"""The fewest training ratings (distinct user-item pairs) a model is fitted on."""


def require_enough(train: Ratings, test: Ratings | None = None) -> None:
    """Raise :class:`DataError` when ``train`` or ``test`` is too small to train or score.

    ``train`` needs at least :data:`MIN_TRAIN_RATINGS` distinct ratings with a
    finite value; ``test``, when given, at least one rating.
    """
    n_train = int(np.isfinite(train.values).sum())
    if n_train < MIN_TRAIN_RATINGS:
        raise DataError(
            f"{train.name!r} has {n_train} training rating{'s' if n_train != 1 else ''} "
            f"({train.n_users} user{'s' if train.n_users != 1 else ''}, "
            f"{train.n_items} item{'s' if train.n_items != 1 else ''}; duplicate user-item "
            f"pairs count once); at least {MIN_TRAIN_RATINGS} distinct ratings are needed to "
            "train: give more ratings"
        )
    if test is not None and len(test) == 0:
        raise DataError(
            f"test set {test.name!r} has no ratings; at least one test rating is needed for a "
            "test RMSE: give a larger file or a larger test fraction, or train without a test"
        )
