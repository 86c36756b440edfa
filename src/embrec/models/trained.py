"""What a model's fold-in and item space may read of a trained model.

A :class:`TrainedNetwork` is the view of a trained model (``embrec.TrainedModel``
satisfies it) that the per-model strategies of :class:`~embrec.models.spec.ModelSpec`
receive. It is a protocol, so the models layer never imports the bundle.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from embrec.data.ratings import Ratings


class RawPredictor(Protocol):
    """The network's scorer on its scoring device (:class:`embrec.predictor.Predictor`)."""

    def predict(
        self, users: np.ndarray, items: np.ndarray, clip: bool = True
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def forward_rows(self, rows: np.ndarray) -> np.ndarray: ...

    def item_codes(self) -> torch.Tensor: ...


class UnitTransform(Protocol):
    factor: float


class TrainedNetwork(Protocol):
    """A fitted network with its data: everything a fold-in or an item space needs.

    ``train`` is in rating units, ``reference_train`` on the reference scale the
    network was trained on (the same unless the ratings were rescaled, see
    :mod:`embrec.data.transform`); ``transform.factor`` is the ratio of the two.
    """

    name: str
    module: nn.Module
    model_config: Any
    train: Ratings
    transform: UnitTransform

    @property
    def reference_train(self) -> Ratings: ...

    @property
    def predictor(self) -> RawPredictor: ...
