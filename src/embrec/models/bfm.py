"""Bayesian factorisation machine (``bfm``): the network that holds its posterior mean.

The model (Rendle, "Factorization Machines", ICDM 2010) over the user row
``x^U(u)`` and item row ``x^I(i)`` of :mod:`embrec.data.features`::

    ŷ(x) = w0 + Σ_j w_j x_j + Σ_{j<l} <v_j, v_l> x_j x_l

is fitted by Gibbs sampling (:mod:`embrec.solvers.gibbs`). With every feature
in either the user or the item block, one sample ``s`` is a biased dot product::

    ŷ_s(u, i) = w0_s + A_s(u) + B_s(i) + P_s(u) · Q_s(i)

(``P_u = Σ_j x^U_j v_j``, ``A_u`` the user block's linear and inner pairwise
terms; likewise ``Q_i``, ``B_i``). The prediction is the posterior mean over the
kept samples ``s = 1..S``::

    r̂(u, i) = (1/S) Σ_s ŷ_s(u, i) = μ + b_u + b_i + p_u · q_i

with ``μ, b_u, b_i`` the sample means of ``w0, A, B`` and ``p_u · q_i`` the
entries of ``M = (1/S) Σ_s P_s Q_sᵀ``, stored as its SVD ``M = U Σ Vᵀ`` with
``p = U Σ^½`` and ``q = V Σ^½``, ``width`` columns (exact when the width is
``min(n_users, n_items)``). So :class:`BayesianFM` is a plain dot-product-plus-
biases network that rebuilds from ``(config, shape)`` like the others.

Fold-in of a new user (:class:`BFMFoldIn`) uses ``T`` thinned samples
kept as buffers. A new user with ratings ``r_i, i ∈ N`` has the implicit row
``x_j = 1/sqrt(|N|)`` for ``j ∈ N`` (known from the ratings) and unknown id
parameters ``θ = (w_u, v_u)``. In sample ``s``, with ``I = Σ_j x_j y_j`` (the
``rated`` factors ``y_j``) the prediction is linear in θ::

    ŷ_s(i) = o_i + w_u + v_u · (I + Q_i),
    o_i = w0 + B_i + Σ_j x_j w^y_j + ½ (|I|² - Σ_j x_j² |y_j|²) + I · Q_i

and the conditional posterior of θ under the sample's prior ``N(μ, Λ⁻¹)`` of the
``user`` group and noise precision ``α`` is Gaussian with mean::

    θ_s = (α Xᵀ X + Λ)⁻¹ (α Xᵀ (r - o) + Λ μ),   X_i = [1, I + Q_i]

The fold-in scores are ``(1/T) Σ_s (o + X θ_s)`` over every item. Item space:
the posterior-mean item factors ``q``.

``factors`` is the FM's rank k (``rank`` is its old name); ``width``, the
columns kept of the posterior mean, is set by the solver.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from embrec.errors import ModelError
from embrec.models.base import DataShape, PublishedDotBias
from embrec.models.foldin import FoldIn
from embrec.models.item_space import item_embeddings
from embrec.models.search_space import ANY_SOLVER, integer
from embrec.models.spec import ModelConfig, ModelSpec
from embrec.models.trained import TrainedNetwork

MAX_WIDTH = 1024
"""Widest stored posterior-mean factorisation (``width=None`` means min(n_users, n_items, this))."""


def default_width(shape: DataShape) -> int:
    return max(1, min(shape.n_users, shape.n_items, MAX_WIDTH))


class BayesianFM(PublishedDotBias):
    """``r̂(u, i) = μ + b_u + b_i + p_u · q_i``: the posterior mean of a Bayesian FM.

    Buffers for fold-in (``T = fold_in_samples`` thinned samples, rank ``k``):
    ``fold_offset (T, n_items)`` = ``w0 + B_i``, ``fold_item (T, n_items, k)`` =
    ``Q_i``, ``fold_rated (T, n_items, k)`` and ``fold_rated_w (T, n_items)`` the
    ``rated`` block's ``v_j, w_j``, ``fold_prior (T, 3 + 2k)`` =
    ``[α, μ_w, λ_w, μ_v (k), λ_v (k)]`` of the ``user`` group.
    """

    def __init__(self, shape: DataShape, width: int, rank: int, fold_in_samples: int) -> None:
        super().__init__(shape, width)
        t, n = fold_in_samples, shape.n_items
        self.register_buffer("fold_offset", torch.zeros(t, n))
        self.register_buffer("fold_item", torch.zeros(t, n, rank))
        self.register_buffer("fold_rated", torch.zeros(t, n, rank))
        self.register_buffer("fold_rated_w", torch.zeros(t, n))
        self.register_buffer("fold_prior", torch.zeros(t, 3 + 2 * rank))

    def fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The scores of :class:`BFMFoldIn` for a new user's ratings (for callers that hold
        the network only)."""
        return BFMFoldIn(self).scores(items, values)


class BFMFoldIn(FoldIn):
    """Posterior-mean scores of a new user over the kept samples (module docstring)."""

    description = "fold-in: Bayesian posterior of a new user's id factors, implicit row known (bfm)"

    def __init__(self, module: BayesianFM) -> None:
        self.module = module

    @classmethod
    def of(cls, model: TrainedNetwork) -> BFMFoldIn:
        """The fold-in of a trained ``bfm`` (its spec's ``fold_in``)."""
        return cls(model.module)

    @torch.no_grad()
    def scores(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Unclipped predicted ratings ``(n_items,)``."""
        net = self.module
        n_samples = net.fold_offset.shape[0]
        if n_samples == 0:
            raise ModelError(
                "this bfm keeps no fold-in samples (fold_in_samples=0); retrain it with "
                "fold_in_samples > 0 to fold in new users"
            )
        items = np.asarray(items, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        items, first = np.unique(items, return_index=True)
        values = values[first]
        rank = net.fold_item.shape[2]
        total = np.zeros(net.n_items)
        for s in range(n_samples):
            Q = net.fold_item[s].double().numpy()
            Y = net.fold_rated[s, items].double().numpy()
            prior = net.fold_prior[s].double().numpy()
            alpha, mu_w, lam_w = prior[0], prior[1], prior[2]
            mu_v, lam_v = prior[3:3 + rank], prior[3 + rank:]
            x = 1.0 / np.sqrt(len(items)) if len(items) else 0.0
            implicit = x * Y.sum(axis=0)
            constant = (x * float(net.fold_rated_w[s, items].double().sum())
                        + 0.5 * (implicit @ implicit - x * x * float((Y * Y).sum())))
            offsets = net.fold_offset[s].double().numpy() + constant + Q @ implicit
            features = np.hstack([np.ones((net.n_items, 1)), Q + implicit])
            mean = np.concatenate([[mu_w], mu_v])
            precision = np.concatenate([[lam_w], lam_v])
            X = features[items]
            gram = alpha * X.T @ X + np.diag(precision)
            theta = np.linalg.solve(gram, alpha * X.T @ (values - offsets[items])
                                    + precision * mean)
            total += offsets + features @ theta
        return (total / n_samples).astype(np.float32)


class BFMConfig(ModelConfig):
    """Bayesian FM (module docstring); ``width`` is set by the solver."""

    renamed: ClassVar[dict[str, str]] = {"rank": "factors"}

    factors: int = 16
    burn_in: int = 100
    implicit: bool = True
    flipped: bool = True
    side: bool = True
    init_std: float = 0.1
    width: int | None = None
    fold_in_samples: int = 16

    @property
    def rank(self) -> int:
        """The old name of ``factors``."""
        return self.factors


SPEC = ModelSpec(
    "bfm",
    "Bayesian factorisation machine by Gibbs sampling: ids, implicit feedback of "
    "users and items, side information",
    BFMConfig,
    lambda c, s, sparse: BayesianFM(s, c.width or default_width(s), c.factors, c.fold_in_samples),
    item_space=item_embeddings,
    fold_in=BFMFoldIn.of,
    solvers=("gibbs",),
    train_defaults={"epochs": 400},
    search_space={ANY_SOLVER: (integer("factors", 8, 32, log=True), integer("epochs", 200, 600))},
)
