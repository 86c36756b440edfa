"""Folding a new user into a trained model, without retraining: their ratings in, scores out.

Each model declares its own fold-in on its spec (``spec.fold_in``, in the
model's module under :mod:`embrec.models`; the shared maths, the MAP estimate
of a new user's parameters under a population prior, is in
:mod:`embrec.models.foldin`). This module picks the model's fold-in and maps
ratings in and scores out when the network was trained on rescaled ratings.
"""

from __future__ import annotations

import numpy as np

from embrec.bundle import TrainedModel
from embrec.data.transform import RatingTransform
from embrec.models.foldin import FoldIn, GaussianFoldIn, RowFoldIn, sigmoid_link
from embrec.models.registry import get_spec


class RescaledFoldIn(FoldIn):
    """A fold-in of a network trained on the reference scale: ratings in, scores out, mapped."""

    def __init__(self, inner: FoldIn, transform: RatingTransform) -> None:
        self.inner = inner
        self.transform = transform
        self.description = inner.description

    def scores(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        reference = np.asarray(self.transform.forward(np.asarray(values, dtype=np.float64)))
        scores = self.inner.scores(items, reference.astype(np.float32))
        return np.asarray(self.transform.inverse(scores), dtype=np.float32)


def make_fold_in(model: TrainedModel) -> FoldIn:
    """The fold-in that fits ``model``'s network, as its spec declares it.

    A network trained on ratings mapped onto the reference scale (see
    :mod:`embrec.data.transform`) folds in the mapped ratings; its scores are
    mapped back.
    """
    inner = network_fold_in(model)
    if model.transform.identity:
        return inner
    return RescaledFoldIn(inner, model.transform)


def network_fold_in(model: TrainedModel) -> FoldIn:
    """The fold-in of ``model``'s network, in the network's own units."""
    return get_spec(model.name).fold_in(model)


__all__ = ["FoldIn", "GaussianFoldIn", "RescaledFoldIn", "RowFoldIn", "make_fold_in",
           "network_fold_in", "sigmoid_link"]
