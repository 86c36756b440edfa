"""Search a model's hyperparameters on a carve-out of its training data, with Optuna.

The training ratings ``T`` are split (seeded, :func:`~embrec.data.splits.holdout_validation`)
into a fitting part ``F`` and a carve-out ``C`` (10 % by default). Each trial fits
the model on ``F`` with values proposed by Optuna's TPE sampler (Bergstra et al.
2011; seeded, so a budget in trials gives the same search for the same seed)
and scores it by its RMSE on ``C``; the first trial is the model's defaults, so
the chosen values never score worse on ``C`` than a plain run. Where the
solver reports epochs, the RMSE on ``C`` at each tenth of a trial's schedule
goes to a median pruner, which, from half the schedule on, stops a trial whose
RMSE at that share is worse than the median of the earlier trials there.
The test part of an outer split never reaches this module: the search
receives ``T`` only.

The caller then refits on all of ``T`` with the chosen values; the
:class:`SearchResult` (each trial's values, state and carve-out RMSE, the
chosen values, the carve-out's size and seed, the seconds) is recorded in the
bundle's provenance under ``"tuning"``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

with warnings.catch_warnings():
    # optuna imports tqdm.auto, which warns in a notebook without ipywidgets.
    warnings.filterwarnings("ignore", message="IProgress not found")
    import optuna

from embrec.data.ratings import Ratings
from embrec.data.splits import holdout_validation
from embrec.tuning.budget import Budget, parse_budget
from embrec.tuning.space import Dimension, search_space

CARVE_FRACTION = 0.1
WARMUP_TRIALS = 5
"""Trials that run to the end before the pruner may stop any (it needs a median)."""
PRUNE_FROM_PERCENT = 50
"""No trial is stopped before half of its epochs: a decaying learning rate makes early RMSE
a poor guide."""


def schedule_percent(epoch: int, epochs: int) -> int | None:
    """The tenth of its schedule (10, 20, ..., 100) that 1-based ``epoch`` of ``epochs`` ends.

    Trials of different lengths are compared at the same share of their learning-rate
    schedule, not at the same epoch: at epoch 10, a 20-epoch cosine run has annealed
    and a 60-epoch one has not, so the longer one looks worse there without being so.
    None for an epoch that ends no tenth.
    """
    reached, before = (10 * epoch) // epochs, (10 * (epoch - 1)) // epochs
    return 10 * reached if reached > before else None


@dataclass(frozen=True)
class TrialRecord:
    """One trial: its values, how it ended and its carve-out RMSE (the last reported if pruned)."""

    number: int
    values: dict[str, Any]
    state: str
    carve_rmse: float | None
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "values": self.values, "state": self.state,
                "carve_rmse": self.carve_rmse, "seconds": round(self.seconds, 3)}


@dataclass
class SearchResult:
    """What a search tried and chose, and on which carve-out of the training data."""

    model: str
    solver: str
    budget: Budget
    space: tuple[Dimension, ...]
    trials: list[TrialRecord]
    chosen: dict[str, Any]
    chosen_rmse: float
    default_rmse: float | None
    n_fit: int
    n_carve: int
    carve_fraction: float
    seed: int
    seconds: float
    fixed: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": f"optuna {optuna.__version__} TPE, median pruner",
            "model": self.model, "solver": self.solver, "budget": self.budget.to_json(),
            "space": [d.to_json() for d in self.space], "fixed": self.fixed,
            "n_trials": len(self.trials),
            "n_pruned": sum(t.state == "pruned" for t in self.trials),
            "chosen": self.chosen, "chosen_carve_rmse": self.chosen_rmse,
            "default_carve_rmse": self.default_rmse,
            "carve_out": {"fraction": self.carve_fraction, "seed": self.seed,
                          "n_fit": self.n_fit, "n_carve": self.n_carve},
            "seconds": round(self.seconds, 3),
            "trials": [t.to_json() for t in self.trials],
        }

    def describe(self) -> str:
        chosen = ", ".join(f"{k}={_short(v)}" for k, v in self.chosen.items())
        default = ("" if self.default_rmse is None
                   else f" (defaults {self.default_rmse:.4f})")
        pruned = sum(t.state == "pruned" for t in self.trials)
        return (f"tuned {self.model} in {len(self.trials)} trials ({pruned} pruned), "
                f"{self.seconds:.1f} s, on a {self.carve_fraction:.0%} carve-out of the "
                f"training part ({self.n_carve:,} ratings, seed {self.seed}): {chosen}; "
                f"carve-out RMSE {self.chosen_rmse:.4f}{default}")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# fit(train, model, *, test, solver, verbose, on_epoch, **hyperparameters) -> TrainedModel
FitFn = Callable[..., Any]


def search_hyperparameters(
    fit: FitFn,
    train: Ratings,
    model: str,
    solver: str,
    hyperparameters: dict[str, Any],
    defaults: dict[str, Any],
    budget: str | int | Budget | None = None,
    *,
    seed: int = 0,
    fraction: float = CARVE_FRACTION,
    verbose: bool = True,
) -> SearchResult:
    """Search ``model``'s space on a carve-out of ``train``; ``hyperparameters`` stay fixed.

    ``fit`` is :func:`embrec.training.fit.fit` (passed in, so this module sits
    below it); ``defaults`` are the model's effective defaults (enqueued as the
    first trial). Returns the trials and the chosen values; refitting is the
    caller's.
    """
    budget = parse_budget(budget)
    space = search_space(model, solver, fixed=hyperparameters)
    part = holdout_validation(train, fraction, seed)
    trials: list[TrialRecord] = []

    def objective(trial: optuna.Trial) -> float:
        values = {d.name: d.suggest(trial) for d in space}
        started = time.perf_counter()
        last: list[float] = []

        epochs = int({**defaults, **hyperparameters, **values}.get("epochs", 1))

        def on_epoch(record: Any) -> None:
            if record.valid_rmse is None:
                return
            last.append(record.valid_rmse)
            step = schedule_percent(record.epoch, epochs)
            if step is None:
                return
            trial.report(record.valid_rmse, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        try:
            trained = fit(part.train, model, test=part.test, solver=solver, verbose=False,
                          on_epoch=on_epoch, **hyperparameters, **values)
        except optuna.TrialPruned:
            trials.append(TrialRecord(trial.number, values, "pruned", last[-1],
                                      time.perf_counter() - started))
            raise
        rmse = float(trained.metrics["test_rmse"])
        if not math.isfinite(rmse):
            rmse = math.inf
        trials.append(TrialRecord(trial.number, values, "complete", rmse,
                                  time.perf_counter() - started))
        if verbose:
            shown = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
            print(f"trial {trial.number}: {shown}: carve-out RMSE {rmse:.4f}")
        return rmse

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=WARMUP_TRIALS,
                                           n_warmup_steps=PRUNE_FROM_PERCENT),
    )
    study.enqueue_trial({d.name: d.clip(defaults[d.name]) for d in space if d.name in defaults})
    started = time.perf_counter()
    study.optimize(objective, n_trials=budget.trials, timeout=budget.seconds)
    seconds = time.perf_counter() - started
    completed = [t for t in trials if t.state == "complete"]
    best = min(completed, key=lambda t: t.carve_rmse)
    return SearchResult(
        model=model, solver=solver, budget=budget, space=space, trials=trials,
        chosen=dict(best.values), chosen_rmse=best.carve_rmse,
        default_rmse=trials[0].carve_rmse if trials[0].state == "complete" else None,
        n_fit=len(part.train), n_carve=len(part.test), carve_fraction=fraction, seed=seed,
        seconds=seconds, fixed={k: v for k, v in hyperparameters.items()
                                if isinstance(v, int | float | str | bool)},
    )
