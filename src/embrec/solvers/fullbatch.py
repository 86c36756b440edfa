"""The ``fullbatch`` solver of ``fm`` (:mod:`embrec.models.fm`): Adam on all ratings at once.

The feature rows of every user and item (:mod:`embrec.data.features`, the
blocks the model's config asks for) are two sparse matrices ``X^U``,
``X^I``. One epoch is one Adam step on the whole training set::

    P = X^U V^U,  Q = X^I V^I,  b^U = X^U w^U,  b^I = X^I w^I
    loss = (1/|T|) [ Σ (r - μ - b^U_u - b^I_i - P_u · Q_i)² + λ Σ_j c_j (‖v_j‖² + w_j²) ]

with ``c_j`` the feature's occurrences in the training set (:func:`occurrences`),
and the learning rate of ``schedule`` at the epoch (:mod:`embrec.training.schedule`;
one-cycle by default, peak ``lr``). A step on ml-100k's 80,000 ratings takes
about 0.05 s on one core. The tables start at ``N(0, init_std²)``
(biases at zero, ``μ`` at the training mean) from the run's seed.

A monitor part (``valid_fraction``) keeps the best epoch as the other solvers
do. A checkpoint holds the tables and Adam's moments. :meth:`finish` pools the
tables into the plain network :class:`~embrec.models.fm.FeatureFM`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from embrec.data.features import ITEM_BLOCKS, USER_BLOCKS, FeatureRows, item_rows, user_rows
from embrec.device import resolve_device
from embrec.models.fm import FeatureFM, FMConfig
from embrec.models.registry import ModelConfig
from embrec.predictor import Predictor
from embrec.training.schedule import epoch_lr
from embrec.training.scores import Evaluation
from embrec.training.solver import EpochStep, Problem, Solver
from embrec.training.torch_solver import evaluate


def blocks_of(config: FMConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The user and item feature blocks ``config`` asks for."""
    user = tuple(b for b in USER_BLOCKS if (b != "rated" or config.implicit)
                 and (b != "side" or config.side))
    item = tuple(b for b in ITEM_BLOCKS if (b != "raters" or config.flipped)
                 and (b != "side" or config.side))
    return user, item


def sparse_rows(rows: FeatureRows, device: torch.device) -> torch.Tensor:
    """The rows as a float32 sparse (COO) tensor."""
    entity = np.repeat(np.arange(rows.n_rows), np.diff(rows.indptr))
    indices = torch.from_numpy(np.vstack([entity, rows.indices]).astype(np.int64))
    values = torch.from_numpy(rows.values.astype(np.float32))
    return torch.sparse_coo_tensor(indices, values, (rows.n_rows, rows.n_features),
                                   check_invariants=True).coalesce().to(device)


def block_columns(rows: FeatureRows, name: str) -> np.ndarray:
    """The feature columns of block ``name`` (in entity order), empty if absent."""
    if name not in rows.group_names:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(rows.groups == rows.group_names.index(name))


def occurrences(rows: FeatureRows, ratings_per_row: np.ndarray) -> np.ndarray:
    """``c_j = Σ_e n_e x_ej²``: how much of the training set feature ``j`` takes part in."""
    squared = sp.csr_matrix((rows.values**2, rows.indices, rows.indptr),
                            shape=(rows.n_rows, rows.n_features))
    return np.asarray(squared.T @ ratings_per_row, dtype=np.float64)


class FeatureTables(nn.Module):
    """``μ`` and each feature's factors and weight, for the user block and the item block."""

    def __init__(self, n_user_features: int, n_item_features: int, factors: int,
                 init_std: float, mean: float) -> None:
        super().__init__()
        self.user_factors = nn.Parameter(torch.randn(n_user_features, factors) * init_std)
        self.item_factors = nn.Parameter(torch.randn(n_item_features, factors) * init_std)
        self.user_weights = nn.Parameter(torch.zeros(n_user_features, 1))
        self.item_weights = nn.Parameter(torch.zeros(n_item_features, 1))
        self.mean = nn.Parameter(torch.tensor(float(mean)))

    def pooled(self, user_x: torch.Tensor, item_x: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``P, Q, b^U, b^I``: every user's and item's pooled vector and bias."""
        return (user_x @ self.user_factors, item_x @ self.item_factors,
                (user_x @ self.user_weights)[:, 0], (item_x @ self.item_weights)[:, 0])

    def penalty(self, user_counts: torch.Tensor, item_counts: torch.Tensor) -> torch.Tensor:
        """``Σ_j c_j (‖v_j‖² + w_j²)`` over both blocks, ``c_j`` each feature's occurrences."""
        user = self.user_factors.pow(2).sum(dim=1) + self.user_weights[:, 0].pow(2)
        item = self.item_factors.pow(2).sum(dim=1) + self.item_weights[:, 0].pow(2)
        return user @ user_counts + item @ item_counts


class FullBatchSolver(Solver):
    """One full-batch Adam step an epoch on the MAP objective; see the module docstring."""

    name = "fullbatch"
    uses = frozenset({"epochs", "lr", "schedule", "seed", "valid_fraction", "patience",
                      "device"})

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        options: FMConfig = problem.model_config
        train = problem.train
        self.options = options
        self.device = resolve_device(self.config.device)
        user_blocks, item_blocks = blocks_of(options)
        self.user_rows = user_rows(train, user_blocks)
        self.item_rows = item_rows(train, item_blocks)
        self.user_x = sparse_rows(self.user_rows, self.device)
        self.item_x = sparse_rows(self.item_rows, self.device)
        self.tables = FeatureTables(self.user_rows.n_features, self.item_rows.n_features,
                                    options.factors, options.init_std,
                                    float(np.mean(train.values))).to(self.device)
        self.optimizer = torch.optim.Adam(self.tables.parameters(), lr=self.config.lr)

        def tensor(values: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.from_numpy(np.asarray(values)).to(dtype).to(self.device)

        self.users = tensor(train.users, torch.int64)
        self.items = tensor(train.items, torch.int64)
        self.values = tensor(train.values, torch.float32)
        self.user_counts = tensor(occurrences(self.user_rows, train.user_counts()), torch.float32)
        self.item_counts = tensor(occurrences(self.item_rows, train.item_counts()), torch.float32)

    def _predict(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        P, Q, user_bias, item_bias = self.tables.pooled(self.user_x, self.item_x)
        return (self.tables.mean + user_bias[users] + item_bias[items]
                + (P[users] * Q[items]).sum(dim=1))

    def run_epoch(self, epoch: int) -> EpochStep:
        lr = epoch_lr(self.config.schedule, self.config.lr, epoch, self.epochs)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.tables.train()
        self.optimizer.zero_grad()
        mse = (self._predict(self.users, self.items) - self.values).pow(2).mean()
        penalty = self.tables.penalty(self.user_counts, self.item_counts)
        loss = mse + self.options.reg * penalty / len(self.values)
        loss.backward()
        self.optimizer.step()
        return EpochStep(float(mse.detach()), lr, examples=len(self.values))

    def scores(self) -> dict[str, Evaluation]:
        if not self.watched:
            return {}
        predictor = Predictor(self._network(), self.problem.train, self.problem.fallback,
                              self.problem.train.scale)
        return {name: evaluate(predictor, ratings) for name, ratings in self.watched.items()}

    def diverged_hint(self) -> str:
        return f"lower the learning rate (it was {self.config.lr:g}) or raise reg of the fm model"

    @torch.no_grad()
    def _network(self) -> FeatureFM:
        """The pooled tables published into the plain network (module docstring of ``fm``)."""
        net = FeatureFM(self.problem.shape, self.options.factors)
        P, Q, user_bias, item_bias = (t.detach().cpu() for t in
                                      self.tables.pooled(self.user_x, self.item_x))
        tables = {name: p.detach().cpu() for name, p in self.tables.named_parameters()}
        net.user_factors.weight.copy_(P)
        net.item_factors.weight.copy_(Q)
        net.user_bias.weight.copy_(user_bias[:, None])
        net.item_bias.weight.copy_(item_bias[:, None])
        net.global_bias.copy_(tables["mean"])
        rated = torch.from_numpy(block_columns(self.user_rows, "rated"))
        if len(rated):
            net.rated_factors.copy_(tables["user_factors"][rated])
            net.rated_bias.copy_(tables["user_weights"][rated, 0])
        ids = torch.from_numpy(block_columns(self.user_rows, "user"))
        net.user_id.copy_(torch.cat([tables["user_weights"][ids], tables["user_factors"][ids]],
                                    dim=1))
        return net.eval()

    # -- checkpoints and the best epoch ---------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"tables": self.snapshot(), "optimizer": self.optimizer.state_dict()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.restore(state["tables"])
        self.optimizer.load_state_dict(state["optimizer"])

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.tables.state_dict().items()}

    def restore(self, snapshot: dict[str, torch.Tensor]) -> None:
        self.tables.load_state_dict(snapshot)

    def finish(self) -> tuple[torch.nn.Module, ModelConfig]:
        return self._network(), self.options
