"""Cross-validation on all cores: one process with N threads vs N single-threaded workers.

    .venv/bin/python benchmarks/parallel_cv.py --data-dir /work/shared/data --repeats 3

Cross-validates mf-bias (its default compiled SGD solver, and the PyTorch loop:
``mf-bias:torch``) and embnet with their default hyperparameters on the
official ml-100k folds u1..u5 both ways, the two layouts interleaved run by run,
and prints the median wall time over the repeats (pool start-up included), the
median time per fold and the mean test RMSE (equal up to float rounding: the work
is the same). The load average before and after each run is printed so a run
disturbed by other work on the machine can be spotted and repeated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from embrec.data.datasets import load_source
from embrec.evaluation.crossval import cross_validate
from embrec.evaluation.parallel import FoldTask, cpu_count, default_workers, solver_of


def measure(ratings, entry: str, workers: int, threads: int, data_dir: Path | None) -> dict:
    model, _, solver = entry.partition(":")
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    result = cross_validate(
        ratings, model, "official", data_dir=data_dir, workers=workers, solver=solver or None,
        threads=threads,
    )
    wall = time.perf_counter() - start
    return {
        "wall": wall,
        "fold": result.seconds_mean,
        "rmse": result.rmse_mean,
        "load": (load_before, os.getloadavg()[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="mf-bias,mf-bias:torch,embnet",
                        help="MODEL or MODEL:SOLVER, comma separated")
    args = parser.parse_args()

    cores = cpu_count()
    ratings = load_source("ml-100k", data_dir=args.data_dir)
    layouts = [(1, cores), (cores, 1)]
    table = Table(title=f"cross-validation, ml-100k official folds u1..u5, {cores} cores "
                        f"(median of {args.repeats})")
    for column in ("model", "layout", "wall s (median)", "all runs s", "s per fold",
                   "mean RMSE", "load avg before/after"):
        table.add_column(column, justify="right")
    models = args.models.split(",")
    runs: dict[tuple[str, int, int], list[dict]] = {(m, w, t): [] for m in models
                                                      for w, t in layouts}
    # Interleaved (A, B, A, B, ...) so both layouts see the same background load.
    for repeat in range(args.repeats):
        for model in models:
            for workers, threads in layouts:
                run = measure(ratings, model, workers, threads, args.data_dir)
                runs[model, workers, threads].append(run)
                print(f"[{repeat + 1}/{args.repeats}] {model} workers={workers} x {threads} "
                      f"thread(s): {run['wall']:.2f} s (load {run['load'][0]:.2f} -> "
                      f"{run['load'][1]:.2f})", flush=True)
    for (model, workers, threads), measured in runs.items():
        walls = [r["wall"] for r in measured]
        table.add_row(
            model, f"workers={workers} x {threads} thread(s)",
            f"{statistics.median(walls):.2f}", " ".join(f"{w:.1f}" for w in walls),
            f"{statistics.median(r['fold'] for r in measured):.2f}",
            f"{measured[0]['rmse']:.4f}",
            " ".join(f"{r['load'][0]:.1f}/{r['load'][1]:.1f}" for r in measured),
        )
    Console(width=160).print(table)
    for entry in models:
        model, _, solver = entry.partition(":")
        tasks = [FoldTask(model, {}, solver or None, f"u{k}") for k in range(1, 6)]
        print(f"{entry}: workers=None picks workers={default_workers(tasks)} "
              f"(solver {solver_of(tasks[0])})")


if __name__ == "__main__":
    main()
