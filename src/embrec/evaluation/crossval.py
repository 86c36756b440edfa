"""Cross-validation: one model fitted and scored on every fold of a split scheme.

For folds ``f = 1..K`` with test ratings ``T_f`` and the model ``m_f`` fitted on
the rest, the fold scores are ``RMSE_f`` and ``MAE_f`` of the predictions clipped
to the rating scale (:func:`~embrec.evaluation.metrics.rating_metrics`), and::

    mean = (1/K) sum_f RMSE_f,    std = sqrt( (1/(K-1)) sum_f (RMSE_f - mean)^2 )

(the sample standard deviation; 0 for one fold). The folds are the official
MovieLens folds (``"official"``: ``u1``..``u5`` of ml-100k, ``r1``..``r5`` of
ml-10m), a seeded k-fold (an int ``K``) or any list of split specs
(:func:`~embrec.data.splits.parse_split_spec`).

The test fold is handed to ``fit`` only as ``test``, which is reported per epoch
(the learning curves) and never steers training; early stopping, when
``patience`` and ``valid_fraction`` are set, monitors a part carved from the
training fold. Folds run in parallel worker processes (see
:mod:`embrec.evaluation.parallel`) when that is faster.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from embrec.data.movielens_folds import PREDEFINED_FOLDS
from embrec.data.ratings import Ratings
from embrec.data.splits import parse_split_spec
from embrec.display import TableDisplay
from embrec.errors import ConfigError, DataError
from embrec.evaluation.fold import FoldResult, FoldTask
from embrec.evaluation.fold_table import fold_table, mean_std, pooled_activity
from embrec.evaluation.parallel import check_request, resolve_workers, run_tasks
from embrec.io import write_json_atomic
from embrec.presets import apply_preset
from embrec.version import __version__

FoldsSpec = str | int | Sequence[str]
"""``"official"``, a fold count ``K`` (seeded k-fold) or a list of split specs."""

RESULT_KIND = "embrec.cv"
BASELINE_MODEL = "baseline"
DEFAULT_MODEL = "mf-bias"  # as fit's


def resolve_folds(ratings: Ratings, folds: FoldsSpec) -> list[str]:
    """The split specs a folds argument names, checked.

    ``"official"`` is ``u1``..``u5`` for ml-100k and ``r1``..``r5`` for ml-10m;
    an int (or digit string) ``K`` is ``kfold:K:1`` .. ``kfold:K:K``; a comma
    separated string or a list is taken as split specs.
    """
    if isinstance(folds, str) and folds.strip().isdigit():
        folds = int(folds)
    if isinstance(folds, int):
        if folds < 2:
            raise ConfigError(f"k-fold cross-validation needs at least 2 folds, not {folds}")
        return [f"kfold:{folds}:{i}" for i in range(1, folds + 1)]
    if isinstance(folds, str) and folds.strip().lower() == "official":
        datasets = _dataset_names(ratings)
        official = [
            name for name, fold in PREDEFINED_FOLDS.items()
            if fold.dataset in datasets and fold.kind == "block"
        ]
        if not official:
            raise ConfigError(
                f"the ratings {ratings.name!r} have no official folds (only ml-100k and "
                "ml-10m do); pass a fold count such as 5 instead"
            )
        return official
    specs = folds.split(",") if isinstance(folds, str) else list(folds)
    names = [str(parse_split_spec(s.strip())) for s in specs if str(s).strip()]
    if not names:
        raise ConfigError("no folds given; pass 'official', a fold count K or split specs")
    if len(set(names)) != len(names):
        raise ConfigError(f"folds {', '.join(names)} name a fold twice")
    return names


def _dataset_names(ratings: Ratings) -> set[str]:
    """The dataset names the ratings were loaded as (``ml-10M100K`` counts as ``ml-10m``)."""
    candidates = (ratings.source.get("dataset"), ratings.source.get("name"), ratings.name)
    return {
        c.lower().split("[")[0].replace("ml-10m100k", "ml-10m")
        for c in candidates if isinstance(c, str)
    }


@dataclass(repr=False)
class CVResult(TableDisplay):
    """The per-fold scores of one model and what produced them.

    ``config`` is the full fitted config, ``hyperparameters`` what was asked;
    ``dataset`` holds the data's name and fingerprint; ``baseline`` the
    ``baseline`` model cross-validated on the same folds, when asked for.
    Shown, and ``to_pandas()``, as the fold table of
    :mod:`~embrec.evaluation.fold_table` (metrics by fold, mean and std).
    """

    model: str
    solver: str | None
    folds: list[FoldResult]
    splits: list[str]
    folds_spec: str
    seed: int
    hyperparameters: dict[str, Any]
    config: dict[str, Any]
    dataset: dict[str, Any]
    workers: int = 1
    wall_seconds: float = 0.0
    embrec_version: str = __version__
    created: str = ""
    baseline: CVResult | None = None

    @property
    def rmse_mean(self) -> float:
        return mean_std([f.rmse for f in self.folds])[0]

    @property
    def rmse_std(self) -> float:
        return mean_std([f.rmse for f in self.folds])[1]

    @property
    def mae_mean(self) -> float:
        return mean_std([f.mae for f in self.folds])[0]

    @property
    def mae_std(self) -> float:
        return mean_std([f.mae for f in self.folds])[1]

    @property
    def seconds_mean(self) -> float:
        return mean_std([f.seconds for f in self.folds])[0]

    def headline(self) -> str:
        folds = ", ".join(f.fold for f in self.folds)
        text = (f"Evaluating RMSE, MAE of {self.model} (solver {self.solver}) on "
                f"{len(self.folds)} folds of {self.dataset.get('name', 'ratings')!r} ({folds})")
        if self.baseline is not None:
            text += (f"; baseline RMSE {self.baseline.rmse_mean:.4f} "
                     f"± {self.baseline.rmse_std:.4f}")
        return text

    def to_pandas(self) -> pd.DataFrame:
        """The fold table: RMSE, MAE, fit and test seconds by fold, with Mean and Std."""
        return fold_table(self.folds)

    def summary(self) -> dict[str, Any]:
        """The compact JSON the CLI prints: per-fold scores, means, config and provenance."""
        folds = []
        for f in self.folds:
            entry = {"fold": f.fold, "rmse": f.rmse, "mae": f.mae, "seconds": round(f.seconds, 4),
                     "fit_seconds": round(f.fit_seconds, 4),
                     "predict_seconds": round(f.predict_seconds, 4)}
            if f.ranking is not None:
                entry["ranking"] = f.ranking
            folds.append(entry)
        out: dict[str, Any] = {
            "model": self.model, "solver": self.solver, "folds": folds,
            "rmse_mean": self.rmse_mean, "rmse_std": self.rmse_std,
            "mae_mean": self.mae_mean, "mae_std": self.mae_std,
            "seconds_mean": self.seconds_mean, "wall_seconds": round(self.wall_seconds, 3),
            "workers": self.workers, "splits": self.splits, "seed": self.seed,
            "config": self.config, "dataset": self.dataset,
            "embrec_version": self.embrec_version,
        }
        if self.baseline is not None:
            out["baseline"] = {"rmse_mean": self.baseline.rmse_mean,
                               "rmse_std": self.baseline.rmse_std,
                               "mae_mean": self.baseline.mae_mean,
                               "folds": {f.fold: f.rmse for f in self.baseline.folds}}
        return out

    def to_json(self) -> dict[str, Any]:
        """Everything, JSON-able: the summary plus histories, activity buckets and baseline."""
        return {
            "kind": RESULT_KIND,
            **self.summary(),
            "folds": [f.to_json() for f in self.folds],
            "folds_spec": self.folds_spec,
            "hyperparameters": self.hyperparameters,
            "activity": pooled_activity(self.folds),
            "created": self.created,
            "baseline": None if self.baseline is None else self.baseline.to_json(),
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> CVResult:
        if payload.get("kind") != RESULT_KIND:
            raise DataError("not a cross-validation result (no \"kind\": \"embrec.cv\" field)")
        baseline = payload.get("baseline")
        return cls(
            model=payload["model"], solver=payload.get("solver"),
            folds=[FoldResult.from_json(f) for f in payload["folds"]],
            splits=list(payload["splits"]), folds_spec=payload.get("folds_spec", ""),
            seed=int(payload["seed"]), hyperparameters=payload.get("hyperparameters", {}),
            config=payload.get("config", {}), dataset=payload.get("dataset", {}),
            workers=int(payload.get("workers", 1)),
            wall_seconds=float(payload.get("wall_seconds", 0.0)),
            embrec_version=payload.get("embrec_version", ""),
            created=payload.get("created", ""),
            baseline=None if not baseline else cls.from_json(baseline),
        )

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_json` atomically to ``path``."""
        path = Path(path)
        write_json_atomic(path, self.to_json())
        return path

    @classmethod
    def load(cls, path: str | Path) -> CVResult:
        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise DataError(f"cannot read a cross-validation result: {error}", path=path) from None
        try:
            return cls.from_json(payload)
        except (KeyError, TypeError) as error:
            raise DataError(f"cross-validation result lacks field {error}", path=path) from None


def cross_validate(
    ratings: Ratings,
    model: str | None = None,
    folds: FoldsSpec = "official",
    *,
    preset: str | None = None,
    data_dir: str | Path | None = None,
    seed: int = 0,
    solver: str | None = None,
    workers: int | None = None,
    ranking: int | None = None,
    threshold: float = 4.0,
    baseline: bool = False,
    on_fold: Callable[[str, FoldResult], None] | None = None,
    **hyperparameters: Any,
) -> CVResult:
    """Cross-validate ``model`` (``mf-bias`` unless given) on ``ratings`` over ``folds``.

    Args:
        preset: ``"fast"``, ``"best"``, ...: the preset's model, solver and
            hyperparameters, as for :func:`~embrec.training.fit.fit`.
        folds: ``"official"``, a fold count ``K`` or split specs (see :func:`resolve_folds`).
        data_dir: where the official fold files are (else they are derived).
        seed: seeds the k-fold permutation and, unless ``seed`` is among the
            hyperparameters, training.
        solver: how to fit (the model's default when None).
        workers: processes fitting folds at once, each with one torch thread;
            1 fits in this process with all cores; None picks what measured
            faster (:func:`~embrec.evaluation.parallel.default_workers`).
        ranking: ``k`` of a top-k evaluation (model and popularity recommender),
            None to skip it; ``threshold`` is the relevant-rating threshold.
        baseline: also cross-validate the ``baseline`` model on the same folds.
        on_fold: called with ``(model, FoldResult)`` as each fold finishes.
        hyperparameters: as for :func:`~embrec.training.fit.fit`.
    """
    if preset is not None:
        chosen, hyperparameters = apply_preset(preset, hyperparameters, model=model,
                                               solver=solver, keywords=True)
        model, solver = chosen.model, chosen.solver
    model = model or DEFAULT_MODEL
    hyper = {"seed": seed, **hyperparameters}
    check_request(model, hyper, solver)
    names = resolve_folds(ratings, folds)
    tasks = [FoldTask(model, hyper, solver, name, ranking, threshold) for name in names]
    if baseline and model != BASELINE_MODEL:
        tasks += [FoldTask(BASELINE_MODEL, {"seed": hyper["seed"]}, None, name) for name in names]
    folds_text = folds if isinstance(folds, (str, int)) else ",".join(map(str, folds))
    start = time.perf_counter()
    done: dict[int, FoldResult] = {}
    used_workers = resolve_workers(workers, tasks)
    for index, result in run_tasks(
        ratings, tasks, data_dir=data_dir, seed=seed, workers=used_workers
    ):
        done[index] = result
        if on_fold is not None:
            on_fold(tasks[index].model, result)
    wall = time.perf_counter() - start

    def assemble(name: str, asked: dict[str, Any], chosen_solver: str | None) -> CVResult:
        results = [done[i] for i, t in enumerate(tasks) if t.model == name]
        return CVResult(
            model=name, solver=results[0].config.get("solver", chosen_solver) if results
            else chosen_solver, folds=results, splits=names,
            folds_spec=str(folds_text), seed=seed, hyperparameters=asked,
            config=results[0].config if results else {},
            dataset=ratings.describe_source(), workers=used_workers, wall_seconds=wall,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    result = assemble(model, dict(hyperparameters), solver)
    if baseline and model != BASELINE_MODEL:
        result.baseline = assemble(BASELINE_MODEL, {}, None)
    return result
