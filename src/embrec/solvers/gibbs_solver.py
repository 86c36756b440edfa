"""The ``gibbs`` solver of a ``bfm``: one Gibbs sweep per epoch of the training loop.

The sampler is :class:`~embrec.solvers.gibbs.GibbsSampler`. Of the training
options only ``epochs`` (sweeps), ``seed`` and ``valid_fraction`` (a monitored
part, reported only) apply; the kernels run on one core. The first
``burn_in`` sweeps are discarded; the kept ones are summed into a
:class:`~embrec.solvers.gibbs_posterior.PosteriorMean`. A checkpoint holds the
chain's parameters, numba's random generator (:mod:`embrec.solvers.numba_rng`),
the running posterior sums and the running held-out predictions, so a resumed
chain draws exactly what the uninterrupted one would have.

The returned config carries the fitted ``width`` and ``fold_in_samples``,
which the bundle needs to rebuild the network.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from embrec.data.ratings import Ratings
from embrec.errors import ConfigError
from embrec.models.registry import ModelConfig
from embrec.predictor import Fallback
from embrec.solvers import numba_rng
from embrec.solvers.gibbs import GibbsSampler, fitted_width
from embrec.solvers.gibbs_posterior import PosteriorMean
from embrec.training.scores import Evaluation, score_predictions
from embrec.training.solver import EpochStep, Problem, Solver


class RunningMean:
    """A held-out set's predictions: of the current sample (burn-in), or the running mean."""

    def __init__(self, ratings: Ratings, train: Ratings, fallback: Fallback) -> None:
        counts_u, counts_i = train.user_counts(), train.item_counts()
        self.ratings = ratings
        # -1 marks an id the training data lacks (ratings aligned from another file).
        known = (ratings.users >= 0) & (ratings.items >= 0)
        self.modelled = known & (counts_u[np.maximum(ratings.users, 0)] > 0) & (
            counts_i[np.maximum(ratings.items, 0)] > 0
        )
        self.users = ratings.users[self.modelled]
        self.items = ratings.items[self.modelled]
        self.fallback = fallback.predict(ratings.users, ratings.items)
        self.total = np.zeros(int(self.modelled.sum()))
        self.count = 0

    def update(self, sampler: GibbsSampler, keep: bool) -> Evaluation:
        current = sampler.predict(self.users, self.items)
        if keep:
            self.total += current
            self.count += 1
        raw = self.fallback.astype(np.float64)
        raw[self.modelled] = self.total / self.count if keep else current
        return score_predictions(raw, self.ratings.values, self.ratings.scale)


class GibbsSolver(Solver):
    """MCMC for the Bayesian FM; see the module docstring."""

    name = "gibbs"
    uses = frozenset({"epochs", "seed", "valid_fraction", "device"})
    keeps_best = False

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        config, train, model_config = problem.config, problem.train, problem.model_config
        if config.device.startswith("cuda"):
            raise ConfigError(f"--device {config.device}: the gibbs solver runs on the CPU; "
                              "use --device cpu or auto")
        if not 0 <= model_config.burn_in < config.epochs:
            raise ConfigError(
                f"bfm: burn_in ({model_config.burn_in}) must be below epochs ({config.epochs}), "
                "the number of Gibbs sweeps"
            )
        if model_config.rank < 1:
            raise ConfigError(f"bfm: rank must be at least 1, not {model_config.rank}")
        kept = config.epochs - model_config.burn_in
        width = fitted_width(model_config, train.n_users, train.n_items, kept)
        self.fitted = model_config.model_copy(update={
            "width": width, "fold_in_samples": min(model_config.fold_in_samples, kept),
        })
        self.kept = kept
        with threadpool_limits(1):
            self.sampler = GibbsSampler(
                train, self.fitted.rank, implicit=self.fitted.implicit,
                flipped=self.fitted.flipped, side=self.fitted.side,
                init_std=self.fitted.init_std, seed=config.seed)
        self.mean = self._posterior(kept)
        self.running: dict[str, RunningMean] = {}
        self.latest: dict[str, Evaluation] = {}
        self.table_every = max(1, config.epochs // 40)
        if problem.verbose and self.fitted.burn_in:
            print(f"sweeps 1..{self.fitted.burn_in} are burn-in: discarded, their validation "
                  f"RMSE is that of one sample and may rise; the model averages the {kept} "
                  "sweeps after")

    def _posterior(self, kept: int) -> PosteriorMean:
        train = self.problem.train
        return PosteriorMean(train.n_users, train.n_items, self.fitted.rank, kept,
                             self.fitted.width, self.fitted.fold_in_samples)

    def watch(self, sets: dict[str, Ratings | None]) -> None:
        super().watch(sets)
        self.running = {name: RunningMean(r, self.problem.train, self.problem.fallback)
                        for name, r in self.watched.items()}

    def run_epoch(self, epoch: int) -> EpochStep:
        with threadpool_limits(1):
            loss = self.sampler.sweep()
            keep = epoch >= self.fitted.burn_in
            if keep:
                self.mean.add(self.sampler, self.problem.train.n_items)
            self.latest = {name: r.update(self.sampler, keep) for name, r in self.running.items()}
        return EpochStep(loss, 0.0, "sampling" if keep else "burn-in",
                         examples=len(self.problem.train))

    def scores(self) -> dict[str, Evaluation]:
        return self.latest

    def diverged_hint(self) -> str:
        return "lower init_std or rank of the bfm"

    def state(self) -> dict[str, Any]:
        return {
            "sampler": self.sampler.state(),
            "numba_rng": {**numba_rng.get_state(),
                          "mt": torch.from_numpy(numba_rng.get_state()["mt"])},
            "posterior": self.mean.state(),
            "running": {name: {"total": torch.from_numpy(r.total.copy()), "count": r.count}
                        for name, r in self.running.items()},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.sampler.load_state(state["sampler"])
        saved = state["numba_rng"]
        numba_rng.set_state({**saved, "mt": saved["mt"].numpy()})
        self.mean.load_state(state["posterior"])
        for name, saved_running in state["running"].items():
            if name in self.running:
                self.running[name].total = saved_running["total"].numpy().copy()
                self.running[name].count = int(saved_running["count"])

    def finish(self) -> tuple[torch.nn.Module, ModelConfig]:
        problem = self.problem
        if self.mean.count == 0:
            self.mean = self._posterior(1)
            self.mean.add(self.sampler, problem.train.n_items)
        fitted = self.fitted.model_copy(update={"fold_in_samples": len(self.mean.fold)})
        module = problem.spec.build(fitted, problem.shape, False)
        with threadpool_limits(1):
            self.mean.publish(module)
        module.eval()
        return module, fitted
