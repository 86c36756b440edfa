"""Factorisation machine over ids, implicit feedback and side information (``fm``), by Adam.

The two-block model (Rendle, "Factorization Machines", ICDM 2010; the user and
item rows ``x^U(u)``, ``x^I(i)`` of :mod:`embrec.data.features`)::

    P = X^U V^U,   Q = X^I V^I              (one k-vector per user, per item)
    r̂(u, i) = μ + w^U · x^U(u) + w^I · x^I(i) + P_u · Q_i

is the network of the neural factorisation machine with its hidden layers
removed (He & Chua, "Neural Factorization Machines for Sparse Predictive
Analytics", SIGIR 2017): embedding tables pooled by the feature rows, one
interaction layer between the user's and the item's pooled vectors. Only
pairs across the two blocks interact; a pair within one block adds the same to
every prediction of its user (or item) and is left to the linear terms. The
:mod:`embrec.solvers.fullbatch` solver fits the maximum a posteriori estimate::

    min  (1/|T|) [ Σ_{(u,i,r)∈T} (r - r̂(u, i))² + λ Σ_j c_j (‖v_j‖² + w_j²) ]

over the features ``j`` of both blocks (λ = ``reg``), by full-batch Adam, one
step an epoch. ``c_j = Σ_{(u,i)∈T} x_j²`` weighs each feature's penalty by how
much of the training set it takes part in (a user id: the user's ratings),
the weighting that stochastic gradient descent applies per rating. A uniform
penalty ``λ ‖θ‖²`` was tried first: no λ brought ml-100k u1 below 0.905, as a
λ strong enough for the rare features crushes the biases of the common ones. The Bayesian FM
(:mod:`embrec.models.bfm`) samples the same model's posterior instead; this
one is a point estimate, seconds to fit, and errs differently, which makes it
a useful member of a blend.

Once fitted, the network is the plain biased dot product ``μ + b_u + b_i +
p_u · q_i`` with ``b_u = w^U · x^U(u)``, ``p = P``, ``b_i``, ``q = Q`` (so
:class:`FeatureFM` rebuilds from ``(config, shape)`` like the other models).

Fold-in of a new user (:func:`fm_fold_in`): a new user has no id parameters
and no side information, but the implicit row ``x_j = 1/sqrt(|N|)`` of the
items ``N`` they rated is known. With ``I = Σ_j x_j y_j`` and ``c = Σ_j x_j
w^y_j`` (the ``rated`` block's factors ``y_j`` and weights ``w^y_j``, kept as
buffers) the prediction is linear in the id parameters ``θ = (w_u, v_u)``::

    r̂_i(θ) = [1, Q_i] · θ + o_i,   o_i = μ + b_i + c + I · Q_i

and θ is the MAP estimate of :mod:`embrec.models.foldin` under the spread of
the known users' id parameters. Item space: the pooled item vectors ``q``.
"""

from __future__ import annotations

import numpy as np
import torch

from embrec.models.base import DataShape, PublishedDotBias
from embrec.models.foldin import FoldIn, GaussianFoldIn, population_prior, training_noise
from embrec.models.item_space import item_embeddings
from embrec.models.search_space import ANY_SOLVER, Dimension, integer
from embrec.models.spec import ModelConfig, ModelSpec
from embrec.models.trained import TrainedNetwork


class FeatureFM(PublishedDotBias):
    """``r̂(u, i) = μ + b_u + b_i + p_u · q_i``: a fitted ``fm`` (module docstring).

    Buffers for fold-in: ``rated_factors (n_items, k)`` and ``rated_bias
    (n_items,)``, the ``rated`` block's ``y_j`` and ``w^y_j`` (zeros without
    implicit feedback); ``user_id (n_users, 1 + k)``, each user's id parameters
    ``[w_u, v_u]`` (their spread is the fold-in's prior).
    """

    def __init__(self, shape: DataShape, factors: int) -> None:
        super().__init__(shape, factors)
        self.register_buffer("rated_factors", torch.zeros(shape.n_items, factors))
        self.register_buffer("rated_bias", torch.zeros(shape.n_items))
        self.register_buffer("user_id", torch.zeros(shape.n_users, 1 + factors))


class FMFoldIn(FoldIn):
    """MAP id parameters of a new user whose implicit row is known (module docstring)."""

    description = "fold-in: MAP id parameters of a new user, implicit row known (fm)"

    def __init__(self, module: FeatureFM, prior_mean: np.ndarray, prior_cov: np.ndarray,
                 noise: float) -> None:
        self.q = module.item_factors.weight.detach().double().numpy()
        self.offset = (module.item_bias.weight.detach().double().numpy()[:, 0]
                       + float(module.global_bias))
        self.rated = module.rated_factors.detach().double().numpy()
        self.rated_bias = module.rated_bias.detach().double().numpy()
        self.features = np.hstack([np.ones((len(self.q), 1)), self.q])
        self.prior_mean, self.prior_cov, self.noise = prior_mean, prior_cov, noise

    @classmethod
    def of(cls, model: TrainedNetwork) -> FMFoldIn:
        """The fold-in of a trained ``fm`` (its spec's ``fold_in``)."""
        mean, cov = population_prior(model, model.module.user_id.double().numpy())
        return cls(model.module, mean, cov, training_noise(model))

    def scores(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        items, first = np.unique(items, return_index=True)
        values = values[first]
        x = 1.0 / np.sqrt(len(items)) if len(items) else 0.0
        implicit = x * self.rated[items].sum(axis=0)
        offsets = self.offset + x * self.rated_bias[items].sum() + self.q @ implicit
        ridge = GaussianFoldIn(self.features, offsets, self.prior_mean, self.prior_cov,
                               self.noise, None, self.description)
        return ridge.scores(items, values)


class FMConfig(ModelConfig):
    """``fm`` (module docstring): rank, λ, which feature blocks, the tables' initial spread."""

    factors: int = 32
    reg: float = 0.4
    implicit: bool = True
    flipped: bool = True
    side: bool = True
    init_std: float = 0.01


SPEC = ModelSpec(
    "fm",
    "factorisation machine over ids, implicit feedback of users and items and side "
    "information, fitted by full-batch Adam (MAP)",
    FMConfig,
    lambda c, s, sparse: FeatureFM(s, c.factors),
    item_space=item_embeddings,
    fold_in=FMFoldIn.of,
    solvers=("fullbatch",),
    train_defaults={"epochs": 300, "lr": 0.02, "schedule": "one-cycle"},
    search_space={ANY_SOLVER: (Dimension("reg", 0.05, 5.0), integer("factors", 8, 64, log=True),
                               integer("epochs", 100, 600))},
)
