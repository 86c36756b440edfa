"""Torch intra-op threads: 1 vs 2 on the machine as found and beside one CPU-bound neighbour.

    PYTHONPATH=src .venv/bin/python benchmarks/threads.py --data-dir /work/shared/data

Fits each model with the PyTorch loop on ml-100k u1 (80,000 training ratings),
``--epochs`` epochs, with 1 and with 2 torch threads, the two interleaved run by
run, first on the machine as it is and then while one ``python -c "while True: pass"`` process
(the neighbour) holds a core. Prints the median fit seconds of ``--repeats`` runs,
every run, and the one-minute load average before the runs of each cell. The
machine's other work is not controlled: read the load column.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from embrec.data.datasets import load_source
from embrec.data.splits import make_split
from embrec.training.fit import fit


def fit_seconds(train, model: str, threads: int, epochs: int) -> float:
    start = time.perf_counter()
    fit(train, model, solver="torch", epochs=epochs, threads=threads)
    return time.perf_counter() - start


def start_neighbour(limit_s: int) -> subprocess.Popen:
    """One CPU-bound process, ended by ``timeout`` if this script dies first."""
    return subprocess.Popen(
        ["timeout", str(limit_s), sys.executable, "-c", "while True: pass"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--models", default="mf-bias,embnet")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--neighbour-limit", type=int, default=900,
                        help="seconds after which the neighbour stops in any case")
    args = parser.parse_args()

    ratings = load_source("ml-100k", data_dir=args.data_dir)
    train = make_split(ratings, "u1", data_dir=args.data_dir).train
    counts = [int(t) for t in args.threads.split(",")]
    models = args.models.split(",")
    for model in models:  # warm-up: imports, first allocations
        fit(train, model, solver="torch", epochs=1, threads=1)

    rows = []
    for condition in ("as found", "one neighbour"):
        neighbour = start_neighbour(args.neighbour_limit) if condition != "as found" else None
        try:
            if neighbour is not None:
                time.sleep(2)
            for model in models:
                runs: dict[int, list[float]] = {t: [] for t in counts}
                load = os.getloadavg()[0]
                for _ in range(args.repeats):
                    for threads in counts:
                        runs[threads].append(fit_seconds(train, model, threads, args.epochs))
                        print(f"{condition:14} {model:8} threads {threads}: "
                              f"{runs[threads][-1]:.2f} s (load {os.getloadavg()[0]:.2f})",
                              flush=True)
                for threads in counts:
                    rows.append((condition, model, threads, runs[threads], load))
        finally:
            if neighbour is not None:
                neighbour.terminate()
                neighbour.wait()

    cpus = len(os.sched_getaffinity(0))
    table = Table(title=f"torch fit seconds, ml-100k u1, {args.epochs} epochs, "
                        f"{cpus} usable cores (median of {args.repeats})")
    for column in ("machine", "model", "threads", "median s", "runs s", "load before"):
        table.add_column(column, justify="right")
    for condition, model, threads, seconds, load in rows:
        table.add_row(condition, model, str(threads), f"{statistics.median(seconds):.2f}",
                      " ".join(f"{s:.2f}" for s in seconds), f"{load:.2f}")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
