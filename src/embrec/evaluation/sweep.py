"""Hyperparameter sweeps: every point of a grid or a random search, cross-validated.

A point is one setting of the swept hyperparameters, e.g. ``{"lr": 0.01}``;
the other hyperparameters are fixed for the whole sweep. Each point is fitted on
every fold (:func:`~embrec.evaluation.crossval.resolve_folds`), and every
(point, fold) result is one row of a results file (:mod:`embrec.evaluation.results`),
appended and flushed as soon as it exists. Rerunning the same sweep on the same
file skips the (point, fold) pairs already there, so an interrupted sweep picks
up where it stopped.

Search spaces (:func:`parse_space`): ``lr=log:1e-4:1e-1`` (log-uniform),
``dropout=uniform:0:0.5``, ``factors=int:8:128`` (uniform integer, both ends
included), ``factors=logint:8:256``, ``optimizer=choice:adam,adamw`` (or just
``adam,adamw``). Random points are drawn from ``seed`` and rounded to four
significant digits, so the same sweep draws the same points again.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.ratings import Ratings
from embrec.display import TableDisplay
from embrec.errors import ConfigError
from embrec.evaluation.crossval import BASELINE_MODEL, FoldResult, FoldsSpec, resolve_folds
from embrec.evaluation.parallel import FoldTask, check_request, run_tasks
from embrec.evaluation.results import ResultsFile, canonical_json, row_of

DISTRIBUTIONS = ("log", "uniform", "int", "logint", "choice")


def parse_value(text: str) -> Any:
    """A value as JSON when it parses (numbers, lists, null), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _key_and_rest(item: str, flag: str) -> tuple[str, str]:
    key, sep, rest = item.partition("=")
    if not sep or not key.strip() or not rest.strip():
        raise ConfigError(f"{flag} {item!r}: expected KEY=VALUES, e.g. {flag} lr=0.001,0.01")
    return key.strip().replace("-", "_"), rest.strip()


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["lr=0.001,0.01", "factors=32,64"]`` -> ``{"lr": [0.001, 0.01], "factors": [32, 64]}``.

    Values are separated by commas, or by semicolons when a value itself holds
    commas (``layers=100,50;200,100``).
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, rest = _key_and_rest(item, "--grid")
        if key in grid:
            raise ConfigError(f"--grid names {key!r} twice; give all its values in one --grid")
        separator = ";" if ";" in rest else ","
        grid[key] = [parse_value(v.strip()) for v in rest.split(separator) if v.strip()]
    return grid


@dataclass(frozen=True)
class Distribution:
    """One hyperparameter's search distribution (see the module docstring)."""

    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    def draw(self, rng: np.random.Generator) -> Any:
        if self.kind == "choice":
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.kind == "int":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.kind == "logint":
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1)))
            return int(min(self.high, math.floor(value)))
        if self.kind == "log":
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = float(rng.uniform(self.low, self.high))
        return float(f"{value:.4g}")


def parse_distribution(key: str, text: str) -> Distribution:
    kind, sep, rest = text.partition(":")
    if not sep or kind not in DISTRIBUTIONS:
        choices = tuple(parse_value(v.strip()) for v in text.split(",") if v.strip())
        return Distribution("choice", choices=choices)
    if kind == "choice":
        choices = tuple(parse_value(v.strip()) for v in rest.split(",") if v.strip())
        if not choices:
            raise ConfigError(f"--space {key}: choice needs at least one value")
        return Distribution("choice", choices=choices)
    bounds = rest.split(":")
    try:
        low, high = (float(b) for b in bounds)
    except ValueError:
        raise ConfigError(
            f"--space {key}={text}: expected {kind}:LOW:HIGH with two numbers"
        ) from None
    if not low < high or (kind in ("log", "logint") and low <= 0):
        raise ConfigError(
            f"--space {key}={text}: need LOW < HIGH" + (" and LOW > 0" if "log" in kind else "")
        )
    return Distribution(kind, low, high)


def parse_space(items: Sequence[str]) -> dict[str, Distribution]:
    """``["lr=log:1e-4:1e-1", "factors=int:8:128"]`` -> a distribution per key."""
    space: dict[str, Distribution] = {}
    for item in items:
        key, rest = _key_and_rest(item, "--space")
        space[key] = parse_distribution(key, rest)
    return space


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the last key varying fastest."""
    for key, values in grid.items():
        if not values:
            raise ConfigError(f"grid key {key!r} has no values")
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]


def random_points(
    space: Mapping[str, Distribution], n: int, seed: int = 0
) -> list[dict[str, Any]]:
    """``n`` points drawn independently from ``space`` with ``seed``; duplicates dropped."""
    if n < 1:
        raise ConfigError(f"a random search needs at least 1 point, not {n}")
    rng = np.random.default_rng(seed)
    points: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(n):
        point = {key: dist.draw(rng) for key, dist in space.items()}
        if canonical_json(point) not in seen:
            seen.add(canonical_json(point))
            points.append(point)
    return points


def point_label(params: Mapping[str, Any]) -> str:
    """``{"lr": 0.01, "factors": 32}`` -> ``"lr=0.01, factors=32"``."""
    return ", ".join(f"{k}={_format(v)}" for k, v in params.items()) or "defaults"


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


RENAMED_KEYS = {"wd": "weight_decay"}
"""Old spellings of swept or fixed keys, still accepted (with a DeprecationWarning)."""


def expand_aliases(model: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords of ``fit`` for the keys of a sweep: ``wd`` is the old name of
    ``weight_decay``. Shared model names (``factors``) are the model config's own
    (:class:`~embrec.models.spec.ModelConfig`)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in RENAMED_KEYS:
            warnings.warn(f"sweep key {key!r} is now {RENAMED_KEYS[key]!r}",
                          DeprecationWarning, stacklevel=2)
        out[RENAMED_KEYS.get(key, key)] = value
    return out


@dataclass(repr=False)
class SweepResult(TableDisplay):
    """The rows of one sweep (its points on its folds) as read back from the results file.

    ``rows`` holds one row per (point, fold) with the columns of
    :data:`~embrec.evaluation.results.COLUMNS`; ``params`` of each row is the
    point's JSON. Baseline rows (model ``baseline``) are included when the sweep ran them.
    Shown, and ``to_pandas()``, as one row per point: RMSE by fold, mean and std.
    """

    model: str
    points: list[dict[str, Any]]
    folds: list[str]
    rows: pd.DataFrame
    results_path: Path
    n_run: int = 0
    n_skipped: int = 0
    keys: list[str] = field(default_factory=list)

    def model_rows(self) -> pd.DataFrame:
        return self.rows[self.rows["model"] == self.model]

    def baseline_rows(self) -> pd.DataFrame:
        return self.rows[self.rows["model"] == BASELINE_MODEL]

    def table(self, metric: str = "rmse") -> pd.DataFrame:
        """Folds x points of ``metric`` (rows in fold order, then ``mean`` and ``std``).

        A point missing a fold (an unfinished sweep) has no mean.
        """
        rows = self.model_rows()
        labels = [point_label(p) for p in self.points]
        by_params = {canonical_json(p): label for p, label in zip(self.points, labels)}
        frame = rows.assign(point=rows["params"].map(by_params)).dropna(subset=["point"])
        table = frame.pivot_table(index="fold", columns="point", values=metric, aggfunc="first")
        table = table.reindex(index=self.folds, columns=labels)
        table.loc["mean"] = table.loc[self.folds].mean(axis=0, skipna=False)
        table.loc["std"] = table.loc[self.folds].std(axis=0, ddof=1)
        return table

    def headline(self) -> str:
        text = (f"sweep of {self.model}: {len(self.points)} points x {len(self.folds)} folds "
                f"({self.n_run} fits run, {self.n_skipped} found in {self.results_path.name})")
        means = self.table().loc["mean"]
        if not means.isna().all():
            best, rmse = self.best()
            text += f"; best {point_label(best)}: mean RMSE {rmse:.4f}"
        return text

    def to_pandas(self, metric: str = "rmse") -> pd.DataFrame:
        """One row per point (its label), ``metric`` by fold, then ``mean`` and ``std``."""
        frame = self.table(metric).T
        frame.index.name = "point"
        frame.columns.name = None
        return frame

    def best(self, metric: str = "rmse") -> tuple[dict[str, Any], float]:
        """The point with the lowest mean ``metric`` over the folds, and that mean."""
        means = self.table(metric).loc["mean"]
        if means.isna().all():
            raise ConfigError("the sweep has no finished point yet")
        label = means.idxmin()
        index = [point_label(p) for p in self.points].index(label)
        return self.points[index], float(means[label])

    def summary(self) -> dict[str, Any]:
        """JSON: the table (fold -> point -> RMSE), the means and the best point."""
        table = self.table()
        best, best_rmse = self.best()
        baseline = self.baseline_rows()
        return {
            "model": self.model,
            "results": str(self.results_path),
            "keys": self.keys,
            "folds": self.folds,
            "points": [
                {"params": p, "label": point_label(p),
                 "rmse_mean": _none_if_nan(table.loc["mean", point_label(p)]),
                 "rmse_std": _none_if_nan(table.loc["std", point_label(p)]),
                 "rmse": {f: _none_if_nan(table.loc[f, point_label(p)]) for f in self.folds}}
                for p in self.points
            ],
            "best": {"params": best, "label": point_label(best), "rmse_mean": best_rmse},
            "baseline_rmse_mean": float(baseline["rmse"].mean()) if len(baseline) else None,
            "n_run": self.n_run,
            "n_skipped": self.n_skipped,
        }


def _none_if_nan(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def sweep(
    ratings: Ratings,
    model: str,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    space: Mapping[str, Distribution] | None = None,
    n_random: int | None = None,
    folds: FoldsSpec = "official",
    results_path: str | Path = "sweep.csv",
    data_dir: str | Path | None = None,
    seed: int = 0,
    solver: str | None = None,
    workers: int | None = None,
    baseline: bool = True,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    **fixed: Any,
) -> SweepResult:
    """Cross-validate every point of ``grid`` (or ``n_random`` points of ``space``).

    Args:
        grid: hyperparameter -> values; all combinations are points.
        space, n_random: a random search of ``n_random`` points drawn with ``seed``.
        folds: as for :func:`~embrec.evaluation.crossval.cross_validate`.
        results_path: the results CSV; (point, fold) pairs already in it, for the
            same model, hyperparameters, seed and data fingerprint, are skipped.
        seed: seeds the folds, the random points and training.
        workers: parallel fits (see :func:`~embrec.evaluation.parallel.run_tasks`).
        baseline: also fit the ``baseline`` model on every fold, for comparison.
        on_row: called with each row as it is written.
        fixed: hyperparameters shared by every point.
    """
    if (grid is None) == (space is None):
        raise ConfigError("give a grid or a random search space (and its number of points)")
    if space is not None:
        if n_random is None:
            raise ConfigError("a random search needs its number of points (n_random)")
        points = random_points(space, n_random, seed)
    else:
        points = grid_points(grid or {})
    keys = list(grid or space or {})
    clash = sorted(set(expand_aliases(model, dict.fromkeys(keys))) & set(fixed))
    if clash:
        raise ConfigError(f"{clash[0]!r} is both swept and fixed; drop one of them")
    names = resolve_folds(ratings, folds)
    store = ResultsFile(results_path)
    fingerprint = ratings.fingerprint()

    planned: list[tuple[FoldTask, dict[str, Any]]] = []
    if baseline and model != BASELINE_MODEL:
        planned += [(FoldTask(BASELINE_MODEL, {"seed": seed}, None, name), {}) for name in names]
    for params in points:
        hyper = {"seed": seed, **fixed, **expand_aliases(model, params)}
        check_request(model, hyper, solver)
        planned += [(FoldTask(model, hyper, solver, name), params) for name in names]

    done = store.done_keys()
    todo = [
        (task, params) for task, params in planned
        if store.key(task.model, task.solver, task.hyper, task.fold, fingerprint) not in done
    ]
    tasks = [task for task, _ in todo]
    for index, result in run_tasks(
        ratings, tasks, data_dir=data_dir, seed=seed, workers=workers
    ):
        task, params = todo[index]
        row = row_of(task, params, result, fingerprint, ratings.name)
        store.append(row)
        if on_row is not None:
            on_row(row)
    wanted = {store.key(t.model, t.solver, t.hyper, t.fold, fingerprint) for t, _ in planned}
    rows = store.read()
    own = pd.Series([ResultsFile.row_key(r) in wanted for r in rows.itertuples()],
                    index=rows.index, dtype=bool)
    return SweepResult(model, points, names, rows[own].reset_index(drop=True), store.path,
                       len(todo), len(planned) - len(todo), keys)


def load_sweep(path: str | Path, model: str | None = None) -> SweepResult:
    """A sweep as read back from a results file (the first non-baseline model when not given).

    Its points and folds are those of the model's rows on the latest data
    fingerprint in the file.
    """
    store = ResultsFile(path, create=False)
    rows = store.read()
    models = [m for m in dict.fromkeys(rows["model"]) if m != BASELINE_MODEL]
    if model is None:
        if not models:
            raise ConfigError(f"{path}: the results file has no sweep rows")
        model = models[0]
    elif model not in models:
        raise ConfigError(f"{path}: no rows for model {model!r}; it has {', '.join(models)}")
    own = rows[rows["model"] == model]
    points = [json.loads(p) for p in dict.fromkeys(own["params"])]
    folds = list(dict.fromkeys(own["fold"]))
    fingerprint = own["fingerprint"].iloc[-1]
    keys = list(dict.fromkeys(k for p in points for k in p))
    baseline = (rows["model"] == BASELINE_MODEL) & rows["fold"].isin(folds)
    rows = rows[((rows["model"] == model) | baseline) & (rows["fingerprint"] == fingerprint)]
    # A point run again with other fixed settings: its latest rows count.
    rows = rows.drop_duplicates(["model", "params", "fold"], keep="last")
    return SweepResult(model, points, folds, rows.reset_index(drop=True), store.path, keys=keys)


def fold_results(rows: pd.DataFrame) -> list[FoldResult]:
    """The rows of one point as FoldResults (histories and activity buckets included)."""
    return [
        FoldResult(
            fold=r.fold, rmse=r.rmse, mae=r.mae, rmse_unclipped=r.rmse_unclipped,
            n_clipped=0, fit_seconds=r.fit_seconds, predict_seconds=r.predict_seconds,
            seconds=r.seconds, n_train=int(r.n_train), n_test=int(r.n_test),
            cold_test_ratings=0, config=json.loads(r.config), history=json.loads(r.history),
            activity=json.loads(r.activity),
        )
        for r in rows.itertuples()
    ]
