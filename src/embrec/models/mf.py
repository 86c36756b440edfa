"""Matrix factorisation: ratings as dot products of user and item embeddings.

``DotProduct`` (``mf``)::

    r̂(u, i) = p_u · q_i

``DotProductBias`` (``mf-bias``), the biased MF of Koren, Bell & Volinsky,
"Matrix Factorization Techniques for Recommender Systems" (IEEE Computer 2009),
optionally squashed into a range as in fastai's ``EmbeddingDotBias``::

    z(u, i) = μ + b_u + b_i + p_u · q_i
    r̂(u, i) = z                                    (y_range None)
    r̂(u, i) = lo + (hi - lo) · σ(z - μ')           (y_range (lo, hi))

where μ is the global mean, fixed at construction (zero when squashing, so
that σ starts at the middle of the range: μ' makes z - μ' = 0 at start).
Factors start as N(0, 0.01²) and biases at zero.

Fold-in: the user's parameters θ = [p_u; b_u] (``mf``: θ = p_u) on the frozen
item factors and biases, the MAP estimate of :mod:`embrec.models.foldin` with
``x_i = [q_i; 1]``, ``o_i = b_i + μ`` (``mf``: ``x_i = q_i``, ``o_i = 0``) and
the sigmoid range as the link (Gauss-Newton), or the identity. Item space: the
item factors ``q_i``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from embrec.models.base import DataShape, PairModel, rows, sigmoid_range
from embrec.models.foldin import GaussianFoldIn, population_prior, training_noise
from embrec.models.item_space import item_embeddings
from embrec.models.search_space import Dimension, integer
from embrec.models.spec import ModelConfig, ModelSpec, YRange, resolve_y_range
from embrec.models.trained import TrainedNetwork


def _factor_table(n: int, k: int, sparse: bool) -> nn.Embedding:
    table = nn.Embedding(n, k, sparse=sparse)
    nn.init.normal_(table.weight, std=0.01)
    return table


def _bias_table(n: int, sparse: bool) -> nn.Embedding:
    table = nn.Embedding(n, 1, sparse=sparse)
    nn.init.zeros_(table.weight)
    return table


class DotProduct(PairModel):
    """``r̂(u, i) = p_u · q_i`` (optionally squashed into ``y_range``)."""

    def __init__(
        self,
        shape: DataShape,
        factors: int = 50,
        y_range: tuple[float, float] | None = None,
        sparse: bool = False,
    ) -> None:
        super().__init__()
        self.n_items = shape.n_items
        self.y_range = y_range
        self.user_factors = _factor_table(shape.n_users, factors, sparse)
        self.item_factors = _factor_table(shape.n_items, factors, sparse)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        dot = (rows(self.user_factors, users) * rows(self.item_factors, items)).sum(dim=1)
        return dot if self.y_range is None else sigmoid_range(dot, *self.y_range)

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        user_rows, item_rows = rows(self.user_factors, users), rows(self.item_factors, items)
        return user_rows.pow(2).sum() + item_rows.pow(2).sum()

    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        dot = rows(self.user_factors, users) @ self.item_factors.weight.T
        return dot if self.y_range is None else sigmoid_range(dot, *self.y_range)


class DotProductBias(DotProduct):
    """``r̂(u, i) = μ + b_u + b_i + p_u · q_i``, optionally squashed into ``y_range``."""

    def __init__(
        self,
        shape: DataShape,
        factors: int = 50,
        y_range: tuple[float, float] | None = None,
        sparse: bool = False,
    ) -> None:
        super().__init__(shape, factors, y_range, sparse)
        self.user_bias = _bias_table(shape.n_users, sparse)
        self.item_bias = _bias_table(shape.n_items, sparse)
        offset = 0.0 if y_range is not None else shape.global_mean
        self.register_buffer("global_bias", torch.tensor(float(offset)))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        z = (
            (rows(self.user_factors, users) * rows(self.item_factors, items)).sum(dim=1)
            + rows(self.user_bias, users).squeeze(1)
            + rows(self.item_bias, items).squeeze(1)
            + self.global_bias
        )
        return z if self.y_range is None else sigmoid_range(z, *self.y_range)

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (
            super().penalty(users, items)
            + rows(self.user_bias, users).pow(2).sum()
            + rows(self.item_bias, items).pow(2).sum()
        )

    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        z = (
            rows(self.user_factors, users) @ self.item_factors.weight.T
            + rows(self.user_bias, users)
            + self.item_bias.weight.T
            + self.global_bias
        )
        return z if self.y_range is None else sigmoid_range(z, *self.y_range)


class MFConfig(ModelConfig):
    factors: int = 50
    y_range: YRange = None


class MFBiasConfig(ModelConfig):
    factors: int = 50
    y_range: YRange = "auto"


def dot_product_fold_in(model: TrainedNetwork) -> GaussianFoldIn:
    """θ = [p_u; b_u] (or p_u) on the frozen item factors and biases (module docstring)."""
    module = model.module
    factors = module.item_factors.weight.detach().numpy()
    users = [module.user_factors.weight.detach().numpy()]
    offsets = np.zeros(len(factors))
    if hasattr(module, "item_bias"):
        factors = np.hstack([factors, np.ones((len(factors), 1), dtype=factors.dtype)])
        users.append(module.user_bias.weight.detach().numpy())
        offsets = module.item_bias.weight.detach().numpy()[:, 0] + float(module.global_bias)
    mean, cov = population_prior(model, np.hstack(users))
    link = "" if module.y_range is None else ", Gauss-Newton through the sigmoid"
    return GaussianFoldIn(
        factors, offsets, mean, cov, training_noise(model), module.y_range,
        f"fold-in: MAP user factors on frozen item factors{link} ({model.name})",
    )


TRAIN_DEFAULTS: dict[str, Any] = {"epochs": 5, "lr": 5e-3, "weight_decay": 0.1, "batch_size": 1024}
SOLVER_DEFAULTS: dict[str, dict[str, Any]] = {
    "sgd": {"epochs": 25, "lr": 0.03, "emb_l2": 0.07, "schedule": "cosine"},
    "als": {"epochs": 10, "emb_l2": 0.1},
}
"""The compiled SGD wants other rates than Adam; ALS has no learning rate."""

REG_OPTION = {"sgd": "emb_l2", "als": "emb_l2", "torch": "weight_decay"}
"""What ``reg`` sets: the L2 of the compiled solvers, AdamW's decay in the PyTorch loop."""

MF_SEARCH_SPACE: dict[str, tuple[Dimension, ...]] = {
    "sgd": (integer("factors", 16, 200, log=True), Dimension("lr", 0.01, 0.08),
            Dimension("emb_l2", 0.02, 0.25), integer("epochs", 10, 60)),
    "torch": (integer("factors", 16, 200, log=True), Dimension("lr", 1e-3, 2e-2),
              Dimension("weight_decay", 0.02, 0.5), integer("epochs", 3, 12)),
    "als": (integer("factors", 16, 200, log=True), Dimension("emb_l2", 0.02, 0.5),
            integer("epochs", 5, 20)),
}
"""The ranges a search explores for either factorisation, per solver."""

MF_SPEC = ModelSpec(
    "mf",
    "dot product of user and item embeddings",
    MFConfig,
    lambda c, s, sparse: DotProduct(s, c.factors, resolve_y_range(c.y_range, s), sparse),
    item_space=item_embeddings,
    fold_in=dot_product_fold_in,
    solvers=("sgd", "torch", "als"),
    train_defaults=TRAIN_DEFAULTS,
    solver_defaults=SOLVER_DEFAULTS,
    reg_option=REG_OPTION,
    search_space=MF_SEARCH_SPACE,
)

MF_BIAS_SPEC = ModelSpec(
    "mf-bias",
    "dot product + user and item biases, sigmoid into y_range",
    MFBiasConfig,
    lambda c, s, sparse: DotProductBias(s, c.factors, resolve_y_range(c.y_range, s), sparse),
    item_space=item_embeddings,
    fold_in=dot_product_fold_in,
    solvers=("sgd", "torch", "als"),
    train_defaults=TRAIN_DEFAULTS,
    solver_defaults=SOLVER_DEFAULTS,
    reg_option=REG_OPTION,
    search_space=MF_SEARCH_SPACE,
)
