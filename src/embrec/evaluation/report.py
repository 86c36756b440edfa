"""Evaluation reports: a Markdown page (``report.md``) and its PNG figures in one folder.

A report on a cross-validation (:class:`~embrec.evaluation.crossval.CVResult`)
or on a sweep (:class:`~embrec.evaluation.sweep.SweepResult`) holds:

* the test RMSE and MAE per fold with mean ± std, and the baseline model on the
  same folds beside it, with the lift ``baseline RMSE - model RMSE`` (positive
  when the model is better) in stars and in percent of the baseline;
* for a sweep, the fold x point table of test RMSE and its plot;
* learning curves per fold and RMSE per user-activity bucket (for a sweep, of
  its best point);
* top-k ranking metrics against the popularity recommender, when computed;
* what produced it: embrec version, dataset and fingerprint, splits, seeds and
  the full config.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embrec.errors import DataError
from embrec.evaluation.crossval import CVResult, FoldResult, mean_std
from embrec.evaluation.plots import (
    activity_frame,
    plot_activity,
    plot_learning_curves,
    plot_sweep,
)
from embrec.evaluation.results import canonical_json
from embrec.evaluation.sweep import SweepResult, fold_results, load_sweep, point_label
from embrec.io import write_text_atomic
from embrec.version import __version__

RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")


def _number(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def comparison_section(folds: Sequence[FoldResult], baseline: Sequence[FoldResult],
                       model: str) -> list[str]:
    """Per-fold RMSE/MAE of the model beside the baseline, with the lift."""
    by_fold = {f.fold: f for f in baseline}
    rows = []
    for fold in folds:
        base = by_fold.get(fold.fold)
        lift = None if base is None else base.rmse - fold.rmse
        rows.append([
            fold.fold, _number(fold.rmse), _number(fold.mae),
            _number(base.rmse if base else None), _number(lift),
            _number(None if base is None else 100 * lift / base.rmse, 2),
            f"{fold.fit_seconds:.2f}", f"{fold.predict_seconds:.3f}",
            len(fold.history.get("epochs", [])),
        ])
    rmse, rmse_std = mean_std([f.rmse for f in folds])
    mae, mae_std = mean_std([f.mae for f in folds])
    lines = [
        "## Test scores per fold, against the baseline", "",
        "RMSE and MAE of the predictions clipped to the rating scale. Lift = baseline RMSE "
        "- model RMSE (stars; positive: the model is better), also as % of the baseline. "
        "The baseline is `baseline` (global mean + regularised user and item biases) "
        "fitted on the same training folds.", "",
    ]
    mean_row = ["**mean ± std**", f"{rmse:.4f} ± {rmse_std:.4f}", f"{mae:.4f} ± {mae_std:.4f}"]
    if baseline:
        base_rmse, base_std = mean_std([f.rmse for f in baseline])
        lift = base_rmse - rmse
        mean_row += [f"{base_rmse:.4f} ± {base_std:.4f}", f"{lift:.4f}",
                     f"{100 * lift / base_rmse:.2f}"]
    else:
        mean_row += ["–", "–", "–"]
    mean_row += [f"{mean_std([f.fit_seconds for f in folds])[0]:.2f}",
                 f"{mean_std([f.predict_seconds for f in folds])[0]:.3f}", ""]
    header = ["fold", f"{model} RMSE", f"{model} MAE", "baseline RMSE", "lift (stars)",
              "lift (%)", "fit s", "predict s", "epochs"]
    lines.append(markdown_table(header, rows + [mean_row]))
    return lines + [""]


def ranking_section(folds: Sequence[FoldResult], model: str) -> list[str]:
    ranked = [f for f in folds if f.ranking]
    if not ranked:
        return []
    first = ranked[0].ranking["model"]
    lines = [
        "## Top-k ranking against the popularity recommender", "",
        f"k = {first['k']}, relevant = test rating >= {first['threshold']:g} on an item the "
        "user did not rate in train; users without a relevant test item are left out.", "",
    ]
    rows = []
    for fold in ranked:
        for who in ("model", "popularity"):
            metrics = fold.ranking[who]
            rows.append([fold.fold, model if who == "model" else "popularity",
                         *(_number(metrics[m]) for m in RANKING_METRICS),
                         metrics["n_users_evaluated"]])
    header = ["fold", "recommender", *(f"{m}@k" for m in RANKING_METRICS), "users"]
    return lines + [markdown_table(header, rows), ""]


def activity_section(models: dict[str, Sequence[FoldResult]], image: Path | None) -> list[str]:
    if image is None:
        return []
    lines = [
        "## RMSE by user activity", "",
        "Test ratings grouped by how many training ratings their user has (cold users on "
        "the left, heavy users on the right), pooled over the folds.", "",
        f"![RMSE by user activity]({image.name})", "",
    ]
    frames = {name: activity_frame(folds) for name, folds in models.items()}
    first = next(iter(frames.values()))
    all_buckets = [row["bucket"] for row in next(iter(models.values()))[0].activity]
    empty = [b for b in all_buckets if b not in first.index]
    if empty:
        lines[-2:-2] = ["Empty buckets, not shown (no test rating comes from a user with that "
                        f"many training ratings): {', '.join(empty)}.", ""]
    rows = []
    for bucket in first.index:
        rows.append([bucket, int(first.loc[bucket, "n_users"]),
                     int(first.loc[bucket, "n_ratings"]),
                     *(_number(frame["rmse"].get(bucket)) for frame in frames.values())])
    header = ["training ratings", "test users (sum over folds)", "test ratings",
              *(f"{name} RMSE" for name in frames)]
    return lines + [markdown_table(header, rows), ""]


def provenance_section(dataset: dict[str, Any], splits: Sequence[str], seed: Any,
                       config: dict[str, Any], extra: dict[str, Any]) -> list[str]:
    facts = {
        "embrec version": extra.pop("embrec_version", __version__),
        "dataset": dataset.get("name", "?"),
        "data fingerprint": dataset.get("fingerprint", "?"),
        "ratings / users / items": (
            f"{dataset.get('n_ratings', '?'):,} / {dataset.get('n_users', '?'):,} / "
            f"{dataset.get('n_items', '?'):,}" if "n_ratings" in dataset else "?"
        ),
        "splits": ", ".join(splits),
        "seed": seed,
        **extra,
    }
    lines = ["## Provenance", ""]
    lines += [f"- **{k}**: {v}" for k, v in facts.items()]
    lines += ["", "Full configuration (model and training, as fitted):", "", "```json",
              json.dumps(config, indent=1, sort_keys=True), "```", ""]
    return lines


def write_cv_report(result: CVResult, out_dir: str | Path) -> Path:
    """Write ``report.md``, its figures and ``cv.json`` into ``out_dir``; returns report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.save(out / "cv.json")
    dataset = result.dataset.get("name", "data")
    where = f"{dataset}, folds {', '.join(result.splits)}"
    curves = plot_learning_curves(
        result.folds, out / "learning_curves.png",
        f"{result.model} learning curves per fold ({where})",
    )
    models = {result.model: result.folds}
    if result.baseline is not None:
        models["baseline"] = result.baseline.folds
    activity = plot_activity(
        models, out / "activity.png", f"Test RMSE by user activity: {result.model} ({where})"
    )
    lines = [
        f"# Cross-validation of `{result.model}` on {dataset}", "",
        f"Test RMSE **{result.rmse_mean:.4f} ± {result.rmse_std:.4f}** (mean ± sample std "
        f"over {len(result.folds)} folds), MAE {result.mae_mean:.4f} ± {result.mae_std:.4f}.",
        "",
    ]
    lines += comparison_section(
        result.folds, result.baseline.folds if result.baseline else [], result.model
    )
    lines += ranking_section(result.folds, result.model)
    if curves is not None:
        lines += ["## Learning curves", "",
                  "Per fold: the training loss (mean squared error over the epoch's batches) "
                  "and the test-fold loss after each epoch. The test fold is only reported, "
                  "it never steers training.", "", f"![learning curves]({curves.name})", ""]
    lines += activity_section(models, activity)
    lines += provenance_section(
        result.dataset, result.splits, result.seed, result.config,
        {"embrec_version": result.embrec_version, "model": result.model,
         "solver": result.solver or "model default",
         "hyperparameters asked": canonical_json(result.hyperparameters),
         "workers": result.workers, "wall time": f"{result.wall_seconds:.1f} s",
         "created": result.created, "full result": "[cv.json](cv.json)"},
    )
    report = out / "report.md"
    write_text_atomic(report, "\n".join(lines))
    return report


def write_sweep_report(sweep: SweepResult, out_dir: str | Path) -> Path:
    """Write ``report.md`` and its figures for a sweep into ``out_dir``; returns report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = sweep.table()
    best, best_rmse = sweep.best()
    rows = sweep.model_rows()
    best_rows = rows[rows["params"] == canonical_json(best)]
    best_folds = fold_results(best_rows.set_index("fold").reindex(sweep.folds)
                              .dropna(subset=["rmse"]).reset_index())
    baseline = fold_results(sweep.baseline_rows())
    baseline_rmse = mean_std([f.rmse for f in baseline])[0] if baseline else None
    dataset_name = str(rows["dataset"].iloc[0]) if len(rows) else "data"
    keys = ", ".join(sweep.keys)
    where = f"{dataset_name}, folds {', '.join(sweep.folds)}"
    sweep_png = plot_sweep(
        table, sweep.points, out / "sweep.png",
        f"{sweep.model}: test RMSE vs {keys} ({where})", baseline_rmse,
    )
    curves = plot_learning_curves(
        best_folds, out / "learning_curves.png",
        f"{sweep.model} learning curves, best point {point_label(best)}",
    )
    models = {f"{sweep.model} ({point_label(best)})": best_folds}
    if baseline:
        models["baseline"] = baseline
    activity = plot_activity(models, out / "activity.png",
                             f"Test RMSE by user activity: {sweep.model}, {point_label(best)}")
    header = ["fold", *table.columns]
    body = [[f"**{f}**" if f in ("mean", "std") else f, *(_number(v) for v in table.loc[f])]
            for f in table.index]
    lines = [
        f"# Sweep of `{sweep.model}` over {keys}", "",
        f"Best: **{point_label(best)}**, mean test RMSE **{best_rmse:.4f}** over "
        f"{len(sweep.folds)} folds"
        + (f" (baseline {baseline_rmse:.4f})." if baseline_rmse is not None else "."), "",
        "## Test RMSE per fold and point", "", markdown_table(header, body), "",
        f"![sweep]({sweep_png.name})", "",
    ]
    lines += comparison_section(best_folds, baseline, sweep.model)
    if curves is not None:
        lines += ["## Learning curves of the best point", "",
                  "Training loss and test-fold loss (MSE) per epoch, per fold.", "",
                  f"![learning curves]({curves.name})", ""]
    lines += activity_section(models, activity)
    fingerprint = str(rows["fingerprint"].iloc[0]) if len(rows) else "?"
    seeds = sorted({int(s) for s in rows["seed"]}) if len(rows) else []
    config = json.loads(best_rows["config"].iloc[0]) if len(best_rows) else {}
    versions = sorted(set(rows["embrec_version"])) if len(rows) else [__version__]
    lines += provenance_section(
        {"name": dataset_name, "fingerprint": fingerprint}, sweep.folds,
        ", ".join(str(s) for s in seeds), config,
        {"embrec_version": ", ".join(versions), "model": sweep.model,
         "points": len(sweep.points), "results file": str(sweep.results_path),
         "rows (point x fold)": len(rows)},
    )
    report = out / "report.md"
    write_text_atomic(report, "\n".join(lines))
    return report


def write_report(results: str | Path, out_dir: str | Path, model: str | None = None) -> Path:
    """A report from a saved CV result (``.json``) or a sweep results file (CSV)."""
    path = Path(results)
    if not path.is_file():
        raise DataError("results file not found", path=path,
                        hint="pass a cv JSON (embrec cv --save) or a sweep results CSV")
    if path.suffix.lower() == ".json":
        return write_cv_report(CVResult.load(path), out_dir)
    return write_sweep_report(load_sweep(path, model), out_dir)
