"""The compiled solvers of the factorisation models: ``sgd`` and ``als`` for ``mf`` / ``mf-bias``.

Both fit the linear model ``r̂(u, i) = μ + b_u + b_i + p_u · q_i`` (``mf``:
``p_u · q_i``) to the regularised squared error::

    Σ_(u,i) (r_ui - r̂(u, i))² + λ Σ_(u,i) (‖p_u‖² + ‖q_i‖² + b_u² + b_i²)

(the regulariser is summed over ratings, so a row with ``n`` ratings is
penalised ``n`` times: the objective of Surprise's ``SVD`` and of ALS-WR). The
kernels are in :mod:`embrec.solvers.sgd` and :mod:`embrec.solvers.als`.

Hyperparameters come from :class:`~embrec.training.config.TrainConfig`:

* ``epochs``: passes (SGD) or user + item half-steps (ALS);
* ``lr``: the SGD step γ, shaped per epoch by ``schedule`` (``constant``,
  ``cosine``, or ``one-cycle`` warming up from γ/25 over the first quarter of
  the epochs and annealing to γ/2.5e6); ALS has no step;
* ``emb_l2``: λ, for factors and biases alike;
* ``seed``: the initial factors and the SGD orders;
* ``threads``: numba threads (SGD with None: one per 200,000 ratings, up to
  every core; ALS with None: every core);
* ``patience`` with ``valid_fraction``: early stopping on the monitored RMSE,
  keeping the best epoch's tables, as the PyTorch loop does.

``batch_size``, ``optimizer``, ``weight_decay`` and ``grad_clip`` belong to the
PyTorch loop: given explicitly with these solvers they are an error naming the
solvers that use them (``weight_decay``'s counterpart here is ``emb_l2``).
Epochs are driven by the one training loop (:mod:`embrec.training.loop`), so
checkpoints and ``--resume`` continue a run bit for bit (tables and the SGD's
random orders); held-out sets are scored from the solver's own tables each
epoch, and the tables are copied into the network once, at the end.

Factors start as N(0, 0.02²) (smaller than Surprise's 0.1: better on ml-100k), the biases at
the baseline's regularised biases (the ``fallback``), μ at the training mean.
The model is linear: ``y_range="auto"`` (the ``mf-bias`` default) becomes
``None`` in the returned config, which is what the bundle stores, and the fit
prints that it did (on ml-100k u1 the linear sgd fit reaches test RMSE 0.9171
with the fast preset, the sigmoid torch fit 0.92-0.94 in its default epochs).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import torch

from embrec.data.ratings import Ratings
from embrec.errors import ConfigError
from embrec.models.registry import ModelConfig, ModelSpec
from embrec.predictor import Fallback
from embrec.training.scores import Evaluation, score_predictions
from embrec.training.solver import Problem, Solver

INIT_STD = 0.02
"""Standard deviation of the initial factors (on the ml-100k folds 0.02 beat 0.05 and 0.1)."""


def linear_config(spec: ModelSpec, model_config: ModelConfig) -> ModelConfig:
    """The config of the linear model the compiled solvers fit: ``y_range="auto"`` -> None."""
    y_range = getattr(model_config, "y_range", None)
    if y_range == "auto":
        return model_config.model_copy(update={"y_range": None})
    if y_range is not None:
        raise ConfigError(
            f"model {spec.name!r}: the compiled solvers fit a linear model, so y_range must be "
            f"None or 'auto', not {y_range!r}; use solver='torch' for a squashed output"
        )
    return model_config


@numba.njit(cache=True, nogil=True)
def predict_pairs(user_rows, item_rows, user_factors, item_factors, user_bias, item_bias,
                  mean, out):
    """``out[j] = p_u · q_i + b_u + b_i + μ`` for the pairs ``(user_rows[j], item_rows[j])``."""
    k = user_factors.shape[1]
    for j in range(len(user_rows)):
        u, i = user_rows[j], item_rows[j]
        dot = np.float32(0.0)
        for f in range(k):
            dot += user_factors[u, f] * item_factors[i, f]
        out[j] = dot + user_bias[u] + item_bias[i] + mean


@dataclass
class FactorTables:
    """The float32 tables a kernel updates, rows in the kernel's order.

    Row ``r`` of ``user_factors`` belongs to user ``user_order[r]`` (likewise for
    items); :meth:`publish` writes the tables into the module in its own order.
    """

    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_order: np.ndarray
    item_order: np.ndarray

    @classmethod
    def initial(
        cls, n_factors: int, fallback: Fallback, biased: bool, seed: int,
        user_order: np.ndarray, item_order: np.ndarray,
    ) -> FactorTables:
        rng = np.random.default_rng(seed)
        n_users, n_items = len(user_order), len(item_order)
        user_factors = rng.normal(0.0, INIT_STD, (n_users, n_factors)).astype(np.float32)
        item_factors = rng.normal(0.0, INIT_STD, (n_items, n_factors)).astype(np.float32)
        if biased:
            user_bias = fallback.user_bias.astype(np.float32)
            item_bias = fallback.item_bias.astype(np.float32)
        else:
            user_bias = np.zeros(n_users, dtype=np.float32)
            item_bias = np.zeros(n_items, dtype=np.float32)
        return cls(
            user_factors[user_order], item_factors[item_order],
            user_bias[user_order], item_bias[item_order], user_order, item_order,
        )

    def snapshot(self) -> tuple[torch.Tensor, ...]:
        """Copies of the four tables (tensors, so a checkpoint can hold them)."""
        return tuple(torch.from_numpy(a.copy()) for a in self.arrays())

    def restore(self, saved: tuple[Any, ...]) -> None:
        for target, source in zip(self.arrays(), saved):
            target[...] = source.numpy() if isinstance(source, torch.Tensor) else source

    def rows_of(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The table rows of user and item indices (the inverse of the kernel's order)."""
        user_rank = np.empty(len(self.user_order), dtype=np.int64)
        user_rank[self.user_order] = np.arange(len(self.user_order))
        item_rank = np.empty(len(self.item_order), dtype=np.int64)
        item_rank[self.item_order] = np.arange(len(self.item_order))
        return user_rank[users], item_rank[items]

    def predict_rows(self, user_rows: np.ndarray, item_rows: np.ndarray,
                     mean: float) -> np.ndarray:
        """``μ + b_u + b_i + p_u · q_i`` in float32, as the network computes it."""
        out = np.empty(len(user_rows), dtype=np.float32)
        predict_pairs(user_rows, item_rows, self.user_factors, self.item_factors,
                      self.user_bias, self.item_bias, np.float32(mean), out)
        return out


    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.user_factors, self.item_factors, self.user_bias, self.item_bias

    @torch.no_grad()
    def publish(self, module: torch.nn.Module) -> None:
        """Copy the tables into the module's embedding weights."""
        users = torch.from_numpy(self.user_order)
        items = torch.from_numpy(self.item_order)
        module.user_factors.weight[users] = torch.from_numpy(self.user_factors)
        module.item_factors.weight[items] = torch.from_numpy(self.item_factors)
        if hasattr(module, "user_bias"):
            module.user_bias.weight[users, 0] = torch.from_numpy(self.user_bias)
            module.item_bias.weight[items, 0] = torch.from_numpy(self.item_bias)




class HeldOut:
    """A held-out set scored straight from the tables, as the Predictor would score it.

    Pairs whose user or item has no training rating get the fallback prediction.
    """

    def __init__(self, ratings: Ratings, train: Ratings, fallback: Fallback,
                 tables: FactorTables) -> None:
        counts_u, counts_i = train.user_counts(), train.item_counts()
        users, items = ratings.users.astype(np.int64), ratings.items.astype(np.int64)
        known = (users >= 0) & (items >= 0)
        u, i = np.maximum(users, 0), np.maximum(items, 0)
        self.modelled = known & (counts_u[u] > 0) & (counts_i[i] > 0)
        self.rows = tables.rows_of(users[self.modelled], items[self.modelled])
        self.fallback = fallback.predict(users, items)
        self.ratings = ratings

    def score(self, tables: FactorTables, mean: float) -> Evaluation:
        raw = self.fallback.copy()
        raw[self.modelled] = tables.predict_rows(*self.rows, mean)
        return score_predictions(raw, self.ratings.values, self.ratings.scale)


class FactorSolver(Solver):
    """A compiled solver of ``mf`` / ``mf-bias``: epochs update :class:`FactorTables` in place."""

    instead = {"weight_decay": "the compiled solvers' regulariser is emb_l2 (--emb-l2, or --reg)"}

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        spec, train = problem.spec, problem.train
        if not hasattr(problem.model_config, "factors"):
            raise ConfigError(f"the {self.name} solver fits a dot product of factor tables; "
                              f"model {spec.name!r} has none")
        if problem.config.device.startswith("cuda"):
            raise ConfigError(
                f"--device {problem.config.device}: the {self.name} solver runs on the CPU; "
                "use --solver torch to train on a GPU"
            )
        self.fitted = linear_config(spec, problem.model_config)
        if problem.verbose and self.fitted is not problem.model_config:
            print(f"{spec.name} fitted by {self.name} is linear: y_range 'auto' -> None "
                  "(recorded in the bundle; use --solver torch for the sigmoid range)",
                  file=sys.stderr)
        self.module = spec.build(self.fitted, problem.shape, False)
        self.biased = hasattr(self.module, "user_bias")
        if not hasattr(self.module, "user_factors"):
            raise ConfigError(f"the {self.name} solver fits a dot product of factor tables; "
                              f"model {spec.name!r} has none")
        self.mean = float(problem.fallback.global_mean)
        self.held_out: dict[str, HeldOut] = {}
        self.n_ratings = len(train)

    def watch(self, sets: dict[str, Ratings | None]) -> None:
        super().watch(sets)
        self.held_out = {name: HeldOut(r, self.problem.train, self.problem.fallback, self.tables)
                         for name, r in self.watched.items()}

    def scores(self) -> dict[str, Evaluation]:
        mean = self.mean if self.biased else 0.0
        return {name: held.score(self.tables, mean) for name, held in self.held_out.items()}

    def snapshot(self) -> tuple[torch.Tensor, ...]:
        return self.tables.snapshot()

    def restore(self, snapshot: tuple[Any, ...]) -> None:
        self.tables.restore(snapshot)

    def state(self) -> dict[str, Any]:
        return {"tables": self.tables.snapshot()}

    def load_state(self, state: dict[str, Any]) -> None:
        self.tables.restore(state["tables"])

    def finish(self) -> tuple[torch.nn.Module, ModelConfig]:
        self.tables.publish(self.module)
        return self.module, self.fitted

    def diverged_hint(self) -> str:
        return f"{super().diverged_hint()} or raise emb_l2"
