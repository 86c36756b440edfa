"""The ``sgd`` and ``als`` solvers of ``mf`` / ``mf-bias``: compiled epochs over float32 tables.

The objective, the initialisation and the options each reads are described in
:mod:`embrec.solvers.factorization`; the kernels are in :mod:`embrec.solvers.sgd`
and :mod:`embrec.solvers.als`. Numba's thread count is set for each epoch and
put back after it, so a fit never changes it for the caller.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from embrec.errors import ConfigError
from embrec.numba_threads import set_threads
from embrec.solvers.als import RatingMatrix, run_als_epoch
from embrec.solvers.factorization import FactorSolver, FactorTables
from embrec.solvers.sgd import StratifiedRatings, choose_strata, choose_threads, run_sgd_epoch
from embrec.training.schedule import epoch_lr
from embrec.training.solver import EpochStep, Problem


class SGDSolver(FactorSolver):
    """Compiled parallel SGD (FPSGD order), one pass over the ratings per epoch."""

    name = "sgd"
    uses = frozenset({"epochs", "lr", "emb_l2", "schedule", "valid_fraction", "patience",
                      "seed", "threads", "device"})

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        config, train = problem.config, problem.train
        self.threads = choose_threads(config.threads, len(train))
        strata = choose_strata(train.n_users, train.n_items, self.fitted.factors, self.threads)
        self.data = StratifiedRatings(train.users, train.items, train.values, train.n_users,
                                      train.n_items, strata, config.seed)
        self.tables = FactorTables.initial(self.fitted.factors, problem.fallback, self.biased,
                                           config.seed, self.data.user_order,
                                           self.data.item_order)

    def run_epoch(self, epoch: int) -> EpochStep:
        config = self.config
        lr = epoch_lr(config.schedule, config.lr, epoch, config.epochs)
        previous = set_threads(self.threads)
        try:
            loss = run_sgd_epoch(self.data, *self.tables.arrays(), self.mean, lr,
                                 config.emb_l2, config.emb_l2, self.biased)
        finally:
            set_threads(previous)
        return EpochStep(loss, lr, examples=self.n_ratings)

    def state(self) -> dict[str, Any]:
        return {**super().state(), "order_rng": self.data.rng.bit_generator.state}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.data.rng.bit_generator.state = state["order_rng"]


class ALSSolver(FactorSolver):
    """Alternating least squares: a user half-step and an item half-step per epoch."""

    name = "als"
    uses = frozenset({"epochs", "emb_l2", "valid_fraction", "patience", "seed", "threads",
                      "device"})

    def __init__(self, problem: Problem) -> None:
        config, train = problem.config, problem.train
        if not config.emb_l2 > 0:
            raise ConfigError(
                f"the als solver needs emb_l2 > 0 (the ridge λ), not {config.emb_l2:g}; try 0.05"
            )
        super().__init__(problem)
        self.threads = config.threads or numba.config.NUMBA_NUM_THREADS
        self.matrix = RatingMatrix(train.users, train.items, train.values,
                                   train.n_users, train.n_items)
        self.tables = FactorTables.initial(self.fitted.factors, problem.fallback, self.biased,
                                           config.seed, np.arange(train.n_users),
                                           np.arange(train.n_items))

    def run_epoch(self, epoch: int) -> EpochStep:
        previous = set_threads(self.threads)
        try:
            loss = run_als_epoch(self.matrix, *self.tables.arrays(), self.mean,
                                 self.config.emb_l2, self.biased)
        finally:
            set_threads(previous)
        return EpochStep(loss, 0.0, examples=self.n_ratings)

    def diverged_hint(self) -> str:
        return "raise emb_l2"


__all__ = ["ALSSolver", "SGDSolver"]
