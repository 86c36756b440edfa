"""The baseline predictor: global mean plus regularised user and item biases.

    r̂(u, i) = μ + b_u + b_i

The biases minimise Σ (r_ui - μ - b_u - b_i)² + λ_u Σ b_u² + λ_i Σ b_i², solved
in closed form by alternating least squares (Koren, "Factor in the Neighbors",
TKDD 2010, section 2.1; the ``BaselineOnly`` ALS of Surprise)::

    b_i ← Σ_{u ∈ R(i)} (r_ui - μ - b_u) / (λ_i + |R(i)|)
    b_u ← Σ_{i ∈ R(u)} (r_ui - μ - b_i) / (λ_u + |R(u)|)

A few sweeps converge. It is the floor every other model must beat and the
fallback for users and items a model has no parameters for.

Fold-in: ``b_u`` of a new user on the frozen item biases, with the model's own
prior ``b_u ~ N(0, σ²/λ_u)``, which gives the ALS update
``b_u = Σ (r_i - μ - b_i) / (λ_u + k)``. Item space: it has no item vectors, so
the adjusted cosine of the rating columns (:mod:`embrec.models.item_space`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from embrec.models.base import DataShape, PairModel, rows
from embrec.models.foldin import GaussianFoldIn
from embrec.models.item_space import adjusted_rating_columns
from embrec.models.search_space import ANY_SOLVER, Dimension
from embrec.models.spec import ModelConfig, ModelSpec
from embrec.models.trained import TrainedNetwork


class BiasOnly(PairModel):
    """``r̂(u, i) = μ + b_u + b_i``."""

    def __init__(self, shape: DataShape) -> None:
        super().__init__()
        self.n_items = shape.n_items
        self.user_bias = nn.Embedding(shape.n_users, 1)
        self.item_bias = nn.Embedding(shape.n_items, 1)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)
        self.register_buffer("global_bias", torch.tensor(float(shape.global_mean)))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (
            self.global_bias
            + rows(self.user_bias, users).squeeze(1)
            + rows(self.item_bias, items).squeeze(1)
        )

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return rows(self.user_bias, users).pow(2).sum() + rows(self.item_bias, items).pow(2).sum()

    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        return self.global_bias + rows(self.user_bias, users) + self.item_bias.weight.T


def solve_biases(
    users: np.ndarray,
    items: np.ndarray,
    values: np.ndarray,
    n_users: int,
    n_items: int,
    reg_user: float = 15.0,
    reg_item: float = 10.0,
    sweeps: int = 10,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Closed-form regularised biases by alternating least squares.

    Returns ``(μ, b_user, b_item)``; users and items without ratings get bias 0.
    """
    mu = float(values.mean()) if len(values) else 0.0
    values = values.astype(np.float64)
    n_per_user = np.bincount(users, minlength=n_users)
    n_per_item = np.bincount(items, minlength=n_items)
    b_user = np.zeros(n_users)
    b_item = np.zeros(n_items)
    for _ in range(sweeps):
        residual = values - mu - b_user[users]
        b_item = np.bincount(items, weights=residual, minlength=n_items) / (reg_item + n_per_item)
        residual = values - mu - b_item[items]
        b_user = np.bincount(users, weights=residual, minlength=n_users) / (reg_user + n_per_user)
    return mu, b_user.astype(np.float32), b_item.astype(np.float32)


class BaselineConfig(ModelConfig):
    """``λ_u``, ``λ_i`` and the number of ALS sweeps; ``reg`` sets both λ."""

    expands: ClassVar[dict[str, tuple[str, ...]]] = {"reg": ("reg_user", "reg_item")}

    reg_user: float = 15.0
    reg_item: float = 10.0
    sweeps: int = 10


def baseline_fold_in(model: TrainedNetwork) -> GaussianFoldIn:
    """``b_u`` by the ALS update with the model's ``λ_u`` (module docstring)."""
    module = model.module
    offsets = module.item_bias.weight.detach().numpy()[:, 0] + float(module.global_bias)
    reg_user = float(model.model_config.reg_user)
    return GaussianFoldIn(
        np.ones((len(offsets), 1)), offsets, np.zeros(1), np.full((1, 1), 1.0 / reg_user),
        1.0, None, "fold-in: user bias on frozen item biases (baseline)",
    )


SPEC = ModelSpec(
    "baseline",
    "global mean + regularised user and item biases (closed-form ALS)",
    BaselineConfig,
    lambda c, s, sparse: BiasOnly(s),
    item_space=adjusted_rating_columns,
    fold_in=baseline_fold_in,
    solvers=("als",),
    search_space={ANY_SOLVER: (Dimension("reg_user", 1.0, 60.0),
                               Dimension("reg_item", 1.0, 60.0))},
)
