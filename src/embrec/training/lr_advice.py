"""A learning rate that is checked to help the model it is suggested for.

A range test (:func:`~embrec.training.lr_find.lr_find`) reads a rate off the
training loss of a few hundred batches at growing rates. That rate is a guess:
on ``mf-bias`` it suggests 6.6e-2, with which the trained model is worse than
with the default rate. So every candidate rate is *validated*: the model is
fitted on the training ratings minus a seeded carve-out (``fraction``, 10 % by
default), with exactly the solver and hyperparameters it will be trained with,
and scored (RMSE) on the carve-out. The rate with the lowest carve-out RMSE is
recommended; the current rate (the default, or the one given) wins ties and
stays recommended when no candidate beats it.

The candidates depend on the solver, since a rate means something different
to each:

* ``torch``: two rates read off a range test run with the model's optimiser
  (a constant rate per batch): the steepest descent of the loss and a tenth of
  the rate of its minimum (fastai's two rules); the rate is the peak of the
  training schedule;
* ``sgd`` (the compiled per-rating SGD of ``mf``/``mf-bias``): a batch range test
  measures another optimiser, so the candidates are a grid around the current
  rate, ``lr × (1/4, 1/2, 2, 4)``;
* ``als`` and ``gibbs`` have no learning rate: asking is a :class:`ConfigError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embrec.data.ratings import Ratings
from embrec.data.splits import holdout_validation
from embrec.errors import ConfigError, TrainingDiverged
from embrec.models.registry import get_spec
from embrec.training.fit import fit, split_hyperparameters
from embrec.training.lr_find import LRFinderResult, lr_find

SGD_GRID = (0.25, 0.5, 2.0, 4.0)
"""Multiples of the current rate tried for the compiled ``sgd`` solver."""

RATE_SOLVERS = ("torch", "sgd")


@dataclass
class RateTrial:
    """One rate fitted on the training ratings without the carve-out, scored on it."""

    lr: float
    origin: str
    rmse: float

    def to_json(self) -> dict[str, Any]:
        return {"lr": self.lr, "origin": self.origin,
                "carve_out_rmse": None if math.isinf(self.rmse) else self.rmse}


@dataclass
class LRAdvice:
    """The recommended rate, what it is the rate of, and the evidence for it."""

    model: str
    solver: str
    optimiser: str
    current_lr: float
    trials: list[RateTrial]
    fraction: float
    seed: int
    range_test: LRFinderResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> RateTrial:
        current = next(t for t in self.trials if t.origin == "current")
        better = [t for t in self.trials if t.rmse < current.rmse]
        return min(better, key=lambda t: t.rmse) if better else current

    @property
    def suggestion(self) -> float:
        return self.best.lr

    def verdict(self) -> str:
        best = self.best
        current = next(t for t in self.trials if t.origin == "current")
        if best is current:
            return (f"keep the current rate {current.lr:.2e}: no candidate beat its "
                    f"carve-out RMSE {current.rmse:.4f}")
        return (f"use {best.lr:.2e} ({best.origin}): carve-out RMSE {best.rmse:.4f} against "
                f"{current.rmse:.4f} with the current rate {current.lr:.2e}")

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "solver": self.solver,
            "optimiser": self.optimiser,
            "suggestion": self.suggestion,
            "current_lr": self.current_lr,
            "carve_out_fraction": self.fraction,
            "seed": self.seed,
            "trials": [t.to_json() for t in self.trials],
            "range_test_suggestion": None if self.range_test is None
            else self.range_test.suggestion,
            "min_loss_lr": None if self.range_test is None else self.range_test.min_loss_lr,
        }

    def plot_trials(self, path: str | Path, title: str) -> Path:
        """Carve-out RMSE against the rate of each trial (PNG)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        done = sorted((t for t in self.trials if math.isfinite(t.rmse)), key=lambda t: t.lr)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([t.lr for t in done], [t.rmse for t in done], marker="o")
        ax.axvline(self.suggestion, color="tab:red", linestyle="--",
                   label=f"suggested lr = {self.suggestion:.2e}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel(f"RMSE on the {self.fraction:.0%} carve-out")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def describe_optimiser(solver: str, config: Any) -> str:
    """What the rate is the rate of, in words."""
    if solver == "sgd":
        return (f"the compiled per-rating SGD solver; the rate is the starting step of its "
                f"{config.schedule} schedule over {config.epochs} epochs")
    role = {"one-cycle": "the peak of", "cosine": "the start of", "constant": "the rate of"}
    return (f"the {config.optimizer} optimiser of the PyTorch loop; the rate is "
            f"{role[config.schedule]} its {config.schedule} schedule over {config.epochs} epochs")


def carve_out_rmse(fit_part: Ratings, check: Ratings, model: str, solver: str, lr: float,
                   hyperparameters: dict[str, Any]) -> float:
    """RMSE on ``check`` of the model fitted on ``fit_part`` with rate ``lr`` (inf: diverged)."""
    try:
        trained = fit(fit_part, model, test=check, solver=solver, **{**hyperparameters, "lr": lr})
    except TrainingDiverged:
        return math.inf
    return float(trained.metrics["test_rmse"])


def advise_lr(
    train: Ratings,
    model: str = "mf-bias",
    *,
    solver: str | None = None,
    fraction: float = 0.1,
    steps: int = 100,
    **hyperparameters: Any,
) -> LRAdvice:
    """Find candidate rates for ``solver`` and keep the one that helps on a carve-out.

    See the module docstring. ``hyperparameters`` are those the model will be
    trained with (``lr`` among them sets the current rate); the carve-out is
    drawn with their ``seed`` (default 0).
    """
    spec = get_spec(model)
    solver = solver or spec.solvers[0]
    if solver not in spec.solvers:
        raise ConfigError(
            f"model {spec.name!r} has no solver {solver!r}; choose one of {', '.join(spec.solvers)}"
        )
    if solver not in RATE_SOLVERS:
        raise ConfigError(
            f"solver {solver!r} has no learning rate to find; "
            f"choose --solver {' or '.join(s for s in RATE_SOLVERS if s in spec.solvers)}"
        )
    _, config = split_hyperparameters(spec, hyperparameters, solver,
                                      (train.n_users, train.n_items))
    current = config.lr
    parts = holdout_validation(train, fraction, config.seed)
    candidates: list[tuple[float, str]] = []
    range_test = None
    notes: list[str] = []
    if solver == "torch":
        range_test = lr_find(parts.train, model, steps=steps,
                             **{k: v for k, v in hyperparameters.items() if k != "lr"})
        candidates.append((range_test.suggestion, "range test: steepest descent"))
        candidates.append((range_test.min_loss_lr / 10, "range test: minimum / 10"))
    else:
        notes.append("a batch range test measures another optimiser than this solver's, so a "
                     "grid around the current rate is tried instead")
        candidates.extend((current * m, f"current x {m:g}") for m in SGD_GRID)
    trials = [RateTrial(current, "current", carve_out_rmse(
        parts.train, parts.test, model, solver, current, hyperparameters))]
    for lr, origin in candidates:
        if any(math.isclose(lr, t.lr, rel_tol=1e-3) for t in trials):
            continue
        rmse = carve_out_rmse(parts.train, parts.test, model, solver, lr, hyperparameters)
        trials.append(RateTrial(lr, origin, rmse))
    return LRAdvice(spec.name, solver, describe_optimiser(solver, config), current, trials,
                    fraction, config.seed, range_test, notes)
