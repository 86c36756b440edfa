"""``embrec cv``, ``embrec sweep`` and ``embrec report``.

* ``embrec cv --dataset ml-100k --folds official --model mf-bias``: cross-validate
  a model, print a table per fold with mean ± std (``--ranking`` adds top-k
  metrics against the popularity recommender);
* ``embrec sweep --dataset ml-100k --folds official --model mf --grid lr=0.001,0.01,0.1``:
  cross-validate every point of a grid (or ``--random N --space lr=log:1e-4:1e-1``),
  append each (point, fold) row to ``--results``, print the fold x point table;
* ``embrec report RESULTS --out DIR``: a Markdown report with plots from a saved
  cv result (JSON) or a sweep results file (CSV).

``--json`` ends the output with one JSON object on the last line; ``--report DIR``
on cv and sweep writes the report as well.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from embrec.cli.options import (
    DataDirOpt,
    DatasetOpt,
    HyperparameterFlags,
    JsonOpt,
    ModelOpt,
    ReaderFlags,
    SolverOpt,
    StoppingFlags,
    with_flags,
)
from embrec.cli.reader_options import load_ratings
from embrec.cli.train import PresetOpt, resolve_preset_option

if TYPE_CHECKING:
    from embrec.evaluation.crossval import CVResult, FoldResult
    from embrec.evaluation.sweep import SweepResult

FoldsOpt = Annotated[
    str,
    typer.Option("--folds", help="official (u1..u5 / r1..r5), a fold count K, or specs u1,u2."),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="Parallel fits, one torch thread each (default: faster)."),
]
ReportOpt = Annotated[
    Path | None, typer.Option("--report", help="Also write a Markdown report with plots here.")
]
BaselineOpt = Annotated[
    bool,
    typer.Option("--baseline/--no-baseline", help="Also fit the baseline model on every fold."),
]
def _hyperparameters(model: str, hyper: HyperparameterFlags,
                     stopping: StoppingFlags) -> dict[str, Any]:
    """The keywords of ``fit`` the flags give (the seed apart: cv and sweep pass it on)."""
    values = {**hyper.for_model(model), **stopping.values()}
    values.pop("seed", None)
    return values


def _console() -> Console:
    """Rich output; a log or a pipe gets wide lines rather than wrapped table cells."""
    return Console() if sys.stdout.isatty() else Console(width=140)


def _cell(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _print_cv(console: Console, result: CVResult) -> None:
    baseline = {f.fold: f for f in result.baseline.folds} if result.baseline else {}
    table = Table(title=f"{result.model}: test scores per fold (predictions clipped to the scale)")
    for column in ("fold", "RMSE", "MAE", "baseline RMSE", "fit s", "predict s", "fold s"):
        table.add_column(column, justify="right")
    for fold in result.folds:
        base = baseline.get(fold.fold)
        table.add_row(fold.fold, _cell(fold.rmse), _cell(fold.mae),
                      _cell(base.rmse if base else None), f"{fold.fit_seconds:.2f}",
                      f"{fold.predict_seconds:.3f}", f"{fold.seconds:.2f}")
    if len(result.folds) > 1:
        base_mean = (f"{result.baseline.rmse_mean:.4f} ± {result.baseline.rmse_std:.4f}"
                     if result.baseline else "-")
        table.add_row("mean ± std", f"{result.rmse_mean:.4f} ± {result.rmse_std:.4f}",
                      f"{result.mae_mean:.4f} ± {result.mae_std:.4f}", base_mean,
                      f"{sum(f.fit_seconds for f in result.folds) / len(result.folds):.2f}", "",
                      f"{result.seconds_mean:.2f}", style="bold")
    console.print(table)
    ranked = [f for f in result.folds if f.ranking]
    if ranked:
        first = ranked[0].ranking["model"]
        table = Table(title=f"top-{first['k']} ranking (relevant: rating >= "
                            f"{first['threshold']:g}, unseen in train)")
        metrics = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")
        for column in ("fold", "recommender", *metrics, "users"):
            table.add_column(column, justify="right")
        for fold in ranked:
            for who, values in fold.ranking.items():
                label = f"{result.model} (predicted rating)" if who == "model" else who
                table.add_row(fold.fold, label,
                              *(_cell(values[m]) for m in metrics),
                              str(values["n_users_evaluated"]))
        console.print(table)
    console.print(f"{result.model}: {score_line(result)} ({result.workers} "
                  f"worker{'s' if result.workers != 1 else ''}, {result.wall_seconds:.1f} s)")


def score_line(result: CVResult) -> str:
    """``test RMSE m ± s, MAE m ± s over K folds``; one fold has no spread and is named."""
    if len(result.folds) == 1:
        return (f"test RMSE {result.rmse_mean:.4f}, MAE {result.mae_mean:.4f} "
                f"on 1 fold, {result.folds[0].fold}")
    return (f"test RMSE {result.rmse_mean:.4f} ± {result.rmse_std:.4f}, "
            f"MAE {result.mae_mean:.4f} ± {result.mae_std:.4f} over {len(result.folds)} folds")


@with_flags(hyper=HyperparameterFlags, stopping=StoppingFlags, reader=ReaderFlags)
def cv_command(
    dataset: DatasetOpt,
    model: ModelOpt = "mf-bias",
    preset: PresetOpt = None,
    data_dir: DataDirOpt = None,
    folds: FoldsOpt = "official",
    solver: SolverOpt = None,
    workers: WorkersOpt = None,
    ranking: Annotated[
        bool, typer.Option("--ranking", help="Add top-k metrics: the model by predicted rating, "
                                       "the recommended order (EASE x rating), EASE, popularity.")
    ] = False,
    k: Annotated[int, typer.Option("--k", help="List length of the ranking metrics.")] = 10,
    threshold: Annotated[
        float, typer.Option("--threshold", help="Test rating that counts as relevant.")
    ] = 4.0,
    baseline: BaselineOpt = True,
    save: Annotated[
        Path | None, typer.Option("--save", help="Write the full result (JSON) here.")
    ] = None,
    report: ReportOpt = None,
    json_out: JsonOpt = False,
    *,
    hyper: HyperparameterFlags,
    stopping: StoppingFlags,
    reader: ReaderFlags,
) -> None:
    """Cross-validate a model over folds; print per-fold scores and mean ± std."""
    from embrec.evaluation.crossval import cross_validate, resolve_folds
    from embrec.evaluation.parallel import check_request

    chosen = None
    if preset is not None:
        chosen, model, solver = resolve_preset_option(preset, model, solver)
    seed = hyper.seed
    hyperparameters = _hyperparameters(model, hyper, stopping)
    if chosen is not None:
        hyperparameters = chosen.resolve(hyperparameters)
    check_request(model, hyperparameters, solver)
    ratings = load_ratings(dataset, data_dir, reader.options())
    names = resolve_folds(ratings, folds)
    console = _console()
    print(f"{ratings!r}\ncross-validating {model} on {len(names)} "
          f"fold{'s' if len(names) != 1 else ''}: {', '.join(names)}")

    def progress(name: str, fold: FoldResult) -> None:
        print(f"  {name} {fold.fold}: RMSE {fold.rmse:.4f}, MAE {fold.mae:.4f} "
              f"({fold.seconds:.1f} s)", flush=True)

    result = cross_validate(
        ratings, model, folds, data_dir=data_dir, seed=seed, solver=solver, workers=workers,
        ranking=k if ranking else None, threshold=threshold, baseline=baseline,
        on_fold=progress, **hyperparameters,
    )
    _print_cv(console, result)
    if save is not None:
        result.save(save)
        print(f"result saved to {save}")
    if report is not None:
        from embrec.evaluation.report import write_cv_report

        print(f"report written to {write_cv_report(result, report)}")
    if json_out:
        summary = result.summary()
        if chosen is not None:
            summary["preset"] = chosen.to_json()
        print(json.dumps(summary, default=str))


def _print_sweep(console: Console, result: SweepResult) -> None:
    table_frame = result.table()
    single = len(result.keys) == 1
    console.print(f"{result.model}: test RMSE, rows = folds, columns = "
                  + (result.keys[0] if single else "points (" + ", ".join(result.keys) + ")"))
    table = Table()
    table.add_column("fold", justify="right")
    best, best_rmse = result.best()
    for label, point in zip(table_frame.columns, result.points):
        header = str(point[result.keys[0]]) if single else label
        table.add_column(header, justify="right")
    for fold in table_frame.index:
        style = "bold" if fold in ("mean", "std") else None
        table.add_row(fold, *(_cell(v) for v in table_frame.loc[fold]), style=style)
    console.print(table)
    from embrec.evaluation.sweep import point_label

    baseline = result.baseline_rows()
    base = (f"; baseline {baseline['rmse'].mean():.4f} on the same folds"
            if len(baseline) else "")
    console.print(f"best: {point_label(best)} (mean test RMSE {best_rmse:.4f}{base}); "
                  f"{result.n_run} fits run, {result.n_skipped} already in {result.results_path}")


@with_flags(hyper=HyperparameterFlags, stopping=StoppingFlags, reader=ReaderFlags)
def sweep_command(
    dataset: DatasetOpt,
    model: ModelOpt = "mf-bias",
    data_dir: DataDirOpt = None,
    folds: FoldsOpt = "official",
    grid: Annotated[
        list[str] | None,
        typer.Option("--grid", help="KEY=V1,V2,... (repeatable: several keys make a grid)."),
    ] = None,
    random: Annotated[
        int | None, typer.Option("--random", help="Random search: number of points.")
    ] = None,
    space: Annotated[
        list[str] | None,
        typer.Option("--space", help="KEY=log:LO:HI, uniform:LO:HI, int:LO:HI or choice:A,B."),
    ] = None,
    results: Annotated[
        Path | None, typer.Option("--results", help="Results CSV (default sweep-MODEL.csv).")
    ] = None,
    solver: SolverOpt = None,
    workers: WorkersOpt = None,
    baseline: BaselineOpt = True,
    report: ReportOpt = None,
    json_out: JsonOpt = False,
    *,
    hyper: HyperparameterFlags,
    stopping: StoppingFlags,
    reader: ReaderFlags,
) -> None:
    """Cross-validate every point of a grid or a random search; print the fold x point table."""
    from embrec.errors import ConfigError
    from embrec.evaluation.parallel import check_request
    from embrec.evaluation.sweep import parse_grid, parse_space, sweep

    if bool(grid) == (random is not None):
        raise ConfigError("give --grid KEY=VALUES or --random N with --space KEY=DIST")
    if random is not None and not space:
        raise ConfigError("--random needs at least one --space KEY=DIST, e.g. lr=log:1e-4:1e-1")
    seed = hyper.seed
    fixed = _hyperparameters(model, hyper, stopping)
    results = results or Path(f"sweep-{model}.csv")
    check_request(model, fixed, solver)
    ratings = load_ratings(dataset, data_dir, reader.options())
    print(f"{ratings!r}\nsweeping {model}; results in {results}")

    def progress(row: dict[str, Any]) -> None:
        print(f"  {row['model']} {row['params']} {row['fold']}: RMSE {row['rmse']:.4f} "
              f"({row['seconds']:.1f} s)", flush=True)

    result = sweep(
        ratings, model, parse_grid(grid) if grid else None,
        space=parse_space(space) if random is not None else None, n_random=random,
        folds=folds, results_path=results, data_dir=data_dir, seed=seed, solver=solver,
        workers=workers, baseline=baseline, on_row=progress, **fixed,
    )
    _print_sweep(_console(), result)
    if report is not None:
        from embrec.evaluation.report import write_sweep_report

        print(f"report written to {write_sweep_report(result, report)}")
    if json_out:
        print(json.dumps(result.summary(), default=str))


def report_command(
    results: Annotated[Path, typer.Argument(help="A cv result (JSON) or a sweep results CSV.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for report.md and plots.")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model of a sweep file with several.")
    ] = None,
) -> None:
    """Write a Markdown report with plots from saved evaluation results."""
    from embrec.evaluation.report import write_report

    print(f"report written to {write_report(results, out, model)}")


def register(app: typer.Typer) -> None:
    app.command("cv")(cv_command)
    app.command("sweep")(sweep_command)
    app.command("report")(report_command)
