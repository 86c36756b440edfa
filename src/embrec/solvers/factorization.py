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
PyTorch loop and are not used; nor are checkpoints (an epoch takes well under a
second on a million ratings).

Factors start as N(0, 0.02²) (smaller than Surprise's 0.1: better on ml-100k), the biases at
the baseline's regularised biases (the ``fallback``), μ at the training mean.
The model is linear: ``y_range="auto"`` (the ``mf-bias`` default) becomes
``None`` in the returned config, which is what the bundle stores.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
import torch

from embrec.bundle import shape_of
from embrec.data.ratings import Ratings
from embrec.errors import ConfigError, TrainingDiverged
from embrec.models.registry import ModelConfig, ModelSpec
from embrec.numba_threads import set_threads
from embrec.predictor import Fallback, Predictor
from embrec.solvers.als import RatingMatrix, run_als_epoch
from embrec.solvers.sgd import (
    StratifiedRatings,
    choose_strata,
    choose_threads,
    run_sgd_epoch,
)
from embrec.training.config import TrainConfig
from embrec.training.history import EpochRecord, EpochTable, History
from embrec.training.loop import evaluate

INIT_STD = 0.02
"""Standard deviation of the initial factors (on the ml-100k folds 0.02 beat 0.05 and 0.1)."""

SolverResult = tuple[torch.nn.Module, History, ModelConfig]


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

    def snapshot(self) -> tuple[np.ndarray, ...]:
        return tuple(a.copy() for a in self.arrays())

    def restore(self, saved: tuple[np.ndarray, ...]) -> None:
        for target, source in zip(self.arrays(), saved):
            target[...] = source

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


def epoch_lr(config: TrainConfig, epoch: int) -> float:
    """The SGD step of ``epoch`` (0-based) under ``config.schedule``, taken at mid-epoch."""
    t = (epoch + 0.5) / config.epochs
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * t))
    if config.schedule == "one-cycle":
        start, end = config.lr / 25.0, config.lr / 25.0 / 1e5
        if t < 0.25:
            return start + (config.lr - start) * 0.5 * (1.0 - math.cos(math.pi * t / 0.25))
        return end + (config.lr - end) * 0.5 * (1.0 + math.cos(math.pi * (t - 0.25) / 0.75))
    return config.lr


def train_epochs(
    run_epoch: Callable[[float], float],
    tables: FactorTables,
    module: torch.nn.Module,
    config: TrainConfig,
    predictor: Predictor,
    *,
    valid: Ratings | None,
    monitor: Ratings | None,
    verbose: bool,
    on_epoch: Callable[[EpochRecord], None] | None,
    uses_lr: bool,
) -> History:
    """Run ``run_epoch(lr) -> train loss`` epoch by epoch, as the PyTorch loop reports and stops."""
    history = History()
    table = EpochTable(enabled=verbose, epochs=config.epochs)
    best_rmse, best_state = math.inf, None
    n_ratings = len(predictor.train)
    try:
        for epoch in range(config.epochs):
            lr = epoch_lr(config, epoch) if uses_lr else 0.0
            started = time.perf_counter()
            loss = run_epoch(lr)
            seconds = time.perf_counter() - started
            if not math.isfinite(loss):
                raise TrainingDiverged(
                    f"the training loss became {loss} in epoch {epoch + 1}; lower the learning "
                    f"rate (it was {config.lr:g}, try {config.lr / 10:g}) or raise emb_l2"
                )
            if valid is not None or monitor is not None:
                tables.publish(module)
            valid_eval = None if valid is None else evaluate(predictor, valid)
            monitor_eval = None if monitor is None else evaluate(predictor, monitor)
            record = EpochRecord(
                epoch=epoch + 1,
                train_loss=loss,
                valid_loss=None if valid_eval is None else valid_eval.loss,
                valid_rmse=None if valid_eval is None else valid_eval.rmse,
                monitor_rmse=None if monitor_eval is None else monitor_eval.rmse,
                seconds=seconds,
                ratings_per_second=n_ratings / max(seconds, 1e-9),
                lr=lr,
            )
            history.epochs.append(record)
            if monitor_eval is not None and monitor_eval.rmse < best_rmse:
                best_rmse, best_state = monitor_eval.rmse, tables.snapshot()
                history.best_epoch = record.epoch
            table.row(record)
            if on_epoch is not None:
                on_epoch(record)
            if (
                config.patience is not None
                and history.best_epoch is not None
                and record.epoch - history.best_epoch >= config.patience
            ):
                history.stopped = "early-stopped"
                break
    except KeyboardInterrupt:
        history.stopped = "interrupted"
    if best_state is not None:
        tables.restore(best_state)
    tables.publish(module)
    return history


def _setup(
    spec: ModelSpec, model_config: ModelConfig, train: Ratings, fallback: Fallback
) -> tuple[ModelConfig, torch.nn.Module, bool]:
    if spec.name not in ("mf", "mf-bias"):
        raise ConfigError(f"the compiled solvers fit 'mf' and 'mf-bias', not {spec.name!r}")
    fitted = linear_config(spec, model_config)
    module = spec.build(fitted, shape_of(train, fallback.global_mean), False)
    return fitted, module, hasattr(module, "user_bias")


def fit_sgd(
    spec: ModelSpec,
    model_config: ModelConfig,
    config: TrainConfig,
    train: Ratings,
    fallback: Fallback,
    *,
    valid: Ratings | None = None,
    monitor: Ratings | None = None,
    verbose: bool = False,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    **_: Any,
) -> SolverResult:
    """Fit ``mf`` / ``mf-bias`` by compiled parallel SGD (:mod:`embrec.solvers.sgd`)."""
    fitted, module, biased = _setup(spec, model_config, train, fallback)
    threads = choose_threads(config.threads, len(train))
    previous = set_threads(threads)
    try:
        strata = choose_strata(train.n_users, train.n_items, fitted.factors, threads)
        data = StratifiedRatings(
            train.users, train.items, train.values, train.n_users, train.n_items,
            strata, config.seed,
        )
        tables = FactorTables.initial(
            fitted.factors, fallback, biased, config.seed, data.user_order, data.item_order
        )
        mean = float(fallback.global_mean)

        def run_epoch(lr: float) -> float:
            return run_sgd_epoch(data, *tables.arrays(), mean, lr, config.emb_l2,
                                 config.emb_l2, biased)

        history = train_epochs(
            run_epoch, tables, module, config, Predictor(module, train, fallback, train.scale),
            valid=valid, monitor=monitor, verbose=verbose, on_epoch=on_epoch, uses_lr=True,
        )
    finally:
        set_threads(previous)
    return module, history, fitted


def fit_als(
    spec: ModelSpec,
    model_config: ModelConfig,
    config: TrainConfig,
    train: Ratings,
    fallback: Fallback,
    *,
    valid: Ratings | None = None,
    monitor: Ratings | None = None,
    verbose: bool = False,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    **_: Any,
) -> SolverResult:
    """Fit ``mf`` / ``mf-bias`` by alternating least squares (:mod:`embrec.solvers.als`)."""
    if not config.emb_l2 > 0:
        raise ConfigError(
            f"the als solver needs emb_l2 > 0 (the ridge λ), not {config.emb_l2:g}; try 0.05"
        )
    fitted, module, biased = _setup(spec, model_config, train, fallback)
    previous = set_threads(config.threads or numba.config.NUMBA_NUM_THREADS)
    try:
        matrix = RatingMatrix(train.users, train.items, train.values,
                              train.n_users, train.n_items)
        tables = FactorTables.initial(
            fitted.factors, fallback, biased, config.seed,
            np.arange(train.n_users), np.arange(train.n_items),
        )
        mean = float(fallback.global_mean)

        def run_epoch(lr: float) -> float:
            return run_als_epoch(matrix, *tables.arrays(), mean, config.emb_l2, biased)

        history = train_epochs(
            run_epoch, tables, module, config, Predictor(module, train, fallback, train.scale),
            valid=valid, monitor=monitor, verbose=verbose, on_epoch=on_epoch, uses_lr=False,
        )
    finally:
        set_threads(previous)
    return module, history, fitted
