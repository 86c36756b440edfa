"""Whole-operation seconds of the fast preset, quiet, beside a busy neighbour, and against Cornac.

    PYTHONPATH=src .venv/bin/python benchmarks/whole_fit.py --data-dir ../shared/data

What a user waits for, not only the solver's epochs:

1. ``cross_validate(ml-100k, preset="fast", folds="official")`` in this process
   (the five folds' fit seconds summed, and the call's wall seconds), and the
   whole ``embrec cv --dataset ml-100k --folds official --preset fast --json``
   command (a fresh process: imports, data, five fits, the table);
2. the same beside one CPU-bound neighbour process (``while True: pass``) that
   this script starts and stops (it ends by itself after ``--neighbour-limit``
   seconds in any case); the ratio neighbour / quiet is the cost of sharing. A
   reference kernel that embrec does not touch (a 400 x 400 matrix product on one
   BLAS thread, 20 times) is timed in both conditions too: its ratio is what the
   machine itself charges one thread for a busy neighbour (on a VM whose two
   vCPUs share a physical core, about 2x for any numeric kernel);
3. ``fit(preset="fast")`` on ml-latest-small (a random 20 % test part, seed 0)
   against Cornac's MF (k 10, 25 epochs, the settings of ``benchmarks/speed.py``'s
   folds table) in the same run, both on the same training ratings, when
   ``benchmarks/peers/.venv`` exists (``benchmarks/peers/setup.sh``).

Medians of ``--repeats`` runs after one warm-up (compiled kernels cached), the
one-minute load average before each cell. Prints tables and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from embrec.data.datasets import load_dataset
from embrec.data.splits import make_split
from embrec.evaluation.crossval import cross_validate
from embrec.training.fit import fit

HERE = Path(__file__).resolve().parent
PEERS_PYTHON = HERE / "peers" / ".venv" / "bin" / "python"


def start_neighbour(limit_s: int) -> subprocess.Popen:
    """One process that keeps a core busy for at most ``limit_s`` seconds."""
    code = f"import time\nend = time.time() + {limit_s}\nwhile time.time() < end: pass\n"
    return subprocess.Popen([sys.executable, "-c", code])


def cv_in_process(ratings, data_dir: str) -> tuple[float, float, float]:
    """(summed fit seconds, wall seconds, mean RMSE) of the fast preset on the official folds."""
    started = time.perf_counter()
    result = cross_validate(ratings, preset="fast", folds="official", data_dir=data_dir,
                            workers=1)
    wall = time.perf_counter() - started
    return sum(f.fit_seconds for f in result.folds), wall, result.rmse_mean


def cv_command(data_dir: str) -> float:
    """Wall seconds of the whole ``embrec cv ... --preset fast`` command."""
    command = [sys.executable, "-m", "embrec", "cv", "--dataset", "ml-100k", "--data-dir",
               data_dir, "--folds", "official", "--preset", "fast", "--json"]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")})
    return time.perf_counter() - started


def reference_kernel() -> float:
    """Seconds of 20 products of 400 x 400 matrices on one BLAS thread (see the docstring)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = rng.random((400, 400)), rng.random((400, 400))
    with threadpool_limits(1):
        started = time.perf_counter()
        for _ in range(20):
            a @ b
        return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values)


def cv_cells(ratings, data_dir: str, repeats: int, limit_s: int) -> dict:
    cv_in_process(ratings, data_dir)  # warm-up: compiled kernels, data caches
    cells = {}
    for condition in ("quiet", "one busy neighbour"):
        neighbour = start_neighbour(limit_s) if condition != "quiet" else None
        try:
            time.sleep(0.5 if neighbour else 0.0)
            load = os.getloadavg()[0]
            runs = [cv_in_process(ratings, data_dir) for _ in range(repeats)]
            kernel = [reference_kernel() for _ in range(repeats)]
            commands = [cv_command(data_dir) for _ in range(max(1, repeats // 2))]
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
        cells[condition] = {
            "load_average": round(load, 2),
            "fit_seconds_5_folds": round(median([r[0] for r in runs]), 3),
            "cross_validate_wall_seconds": round(median([r[1] for r in runs]), 3),
            "embrec_cv_command_seconds": round(median(commands), 3),
            "rmse_mean": round(runs[0][2], 4),
            "reference_kernel_seconds": round(median(kernel), 4),
            "all_fit_seconds": [round(r[0], 3) for r in runs],
        }
    return cells


def save_split(split, folder: Path) -> tuple[str, str]:
    """The split's parts as raw-id ``.npz`` files for the peers' process."""
    paths = []
    for name, part in (("train", split.train), ("test", split.test)):
        known = (part.users >= 0) & (part.items >= 0)
        users = np.asarray(split.train.user_ids.raw_ids)[part.users[known]]
        items = np.asarray(split.train.item_ids.raw_ids)[part.items[known]]
        path = folder / f"{name}.npz"
        np.savez(path, users=users.astype(np.int64), items=items.astype(np.int64),
                 values=part.values[known].astype(np.float64))
        paths.append(str(path))
    return paths[0], paths[1]


def against_cornac(data_dir: str, repeats: int) -> dict:
    ratings = load_dataset("ml-latest-small", data_dir)
    split = make_split(ratings, "random:0.2", seed=0)
    fit(split.train, preset="fast", verbose=False)  # warm-up
    load = os.getloadavg()[0]
    seconds, rmse = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        trained = fit(split.train, preset="fast", test=split.test, verbose=False)
        seconds.append(time.perf_counter() - started)
        rmse = trained.metrics["test_rmse"]
    row = {"load_average": round(load, 2), "embrec_fit_seconds": round(median(seconds), 3),
           "embrec_rmse": round(rmse, 4), "fingerprint": ratings.fingerprint()}
    if not PEERS_PYTHON.exists():
        return {**row, "cornac": "benchmarks/peers/.venv is missing; run benchmarks/peers/setup.sh"}
    with tempfile.TemporaryDirectory() as folder:
        train_path, test_path = save_split(split, Path(folder))
        result = subprocess.run(
            [str(PEERS_PYTHON), str(HERE / "peers" / "run_peers.py"), "fit", "cornac",
             train_path, test_path, str(repeats)], capture_output=True, text=True)
    if result.returncode != 0:
        return {**row, "cornac": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    cornac = json.loads(result.stdout.strip().splitlines()[-1])
    return {**row, "cornac_fit_seconds": round(cornac["fit_seconds"], 3),
            "cornac_rmse": round(cornac["rmse"], 4), "cornac_options": cornac["options"],
            "cornac_over_embrec": round(cornac["fit_seconds"] / median(seconds), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("EMBREC_DATA_DIR"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--neighbour-limit", type=int, default=600,
                        help="seconds after which the neighbour stops in any case")
    args = parser.parse_args()
    if args.data_dir is None:
        parser.error("--data-dir (or EMBREC_DATA_DIR) is needed: the ml-100k folder")
    ratings = load_dataset("ml-100k", args.data_dir)
    cells = cv_cells(ratings, args.data_dir, args.repeats, args.neighbour_limit)
    print("ml-100k official folds, --preset fast, medians of "
          f"{args.repeats} (cv command: of {max(1, args.repeats // 2)})")
    print("| condition | load | fit s, 5 folds | cross_validate s | embrec cv command s | RMSE "
          "| reference kernel s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for condition, cell in cells.items():
        print(f"| {condition} | {cell['load_average']:.1f} | {cell['fit_seconds_5_folds']:.3f} | "
              f"{cell['cross_validate_wall_seconds']:.3f} | "
              f"{cell['embrec_cv_command_seconds']:.2f} | {cell['rmse_mean']:.4f} | "
              f"{cell['reference_kernel_seconds']:.3f} |")
    quiet, busy = cells["quiet"], cells["one busy neighbour"]
    ratio = busy["fit_seconds_5_folds"] / quiet["fit_seconds_5_folds"]
    machine = busy["reference_kernel_seconds"] / quiet["reference_kernel_seconds"]
    print(f"neighbour / quiet: embrec's fit seconds {ratio:.2f}x, the reference kernel "
          f"{machine:.2f}x (what the machine charges any one thread)")
    versus = against_cornac(args.data_dir, args.repeats)
    print("\nml-latest-small, random 20 % (seed 0), whole fit of --preset fast against Cornac MF")
    print(json.dumps(versus))
    print(json.dumps({"cv": cells, "neighbour_over_quiet": round(ratio, 2),
                      "reference_kernel_neighbour_over_quiet": round(machine, 2),
                      "ml_latest_small": versus, "repeats": args.repeats, "seed": 0}))


if __name__ == "__main__":
    main()
