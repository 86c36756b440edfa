"""Speed of the factorisation solvers: throughput, ml-100k accuracy and time, peers.

    .venv/bin/python benchmarks/speed.py                   # every table, a few minutes
    .venv/bin/python benchmarks/speed.py --tables compiled,folds --skip-10m --repeats 5

Tables:

1. numba compilation: first fit with an empty cache folder (cold) and again (warm);
2. compiled ``sgd`` / ``als`` on ml-1m-shaped synthetic data (6,040 users x
   3,706 items, 1,000,209 ratings) and on 10M ratings (70,000 x 10,000):
   per-epoch median ratings/second, peak memory;
3. the PyTorch loop (``torch`` solver, ``mf-bias``, 64 factors) by batch size and
   optimizer on the 1M set, each optimizer's best batch again on the 10M set,
   and the cost per rating 10M / 1M of each;
4. the ml-100k folds u1..u5: mean RMSE and the wall time of fit + predict of
   all five folds (compilation already cached);
5. Cornac MF and Surprise SVD on the same 1M data and the same folds, when
   ``benchmarks/peers/setup.sh`` has made their virtual environment.

Every configuration runs in its own process (this script with ``--worker``), so
its peak resident memory (``ru_maxrss``) is its own. Synthetic data comes from
:func:`embrec.data.synthetic.generate_ratings` and is written once to ``.npz``
files that the workers (and the peers' process) read.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
PEERS_PYTHON = HERE / "peers" / ".venv" / "bin" / "python"
SHAPES = {"1m": (6_040, 3_706, 1_000_209), "10m": (70_000, 10_000, 10_000_000)}
FACTORS = 64
TABLES = ("jit", "compiled", "folds", "torch", "peers")


# -- data ---------------------------------------------------------------------------


def synthetic_arrays(name: str) -> dict[str, np.ndarray]:
    n_users, n_items, n_ratings = SHAPES[name]
    from embrec.data.synthetic import generate_ratings

    ratings = generate_ratings(n_users, n_items, n_ratings, seed=0)
    return {"users": ratings.users, "items": ratings.items, "values": ratings.values,
            "shape": np.array([ratings.n_users, ratings.n_items])}


def load_synthetic(path: str):
    from embrec.data.idmap import IdMap
    from embrec.data.ratings import Ratings, RatingScale

    arrays = np.load(path, allow_pickle=False)
    n_users, n_items = (int(n) for n in arrays["shape"])
    return Ratings(arrays["users"], arrays["items"], arrays["values"],
                   IdMap(np.arange(1, n_users + 1)), IdMap(np.arange(1, n_items + 1)),
                   RatingScale(1, 5, 1), name=Path(path).stem)


def ml100k_folds(data_dir: str) -> list[tuple[Any, Any]]:
    """The official u1..u5 (train, test) pairs of ml-100k."""
    try:
        from embrec.data.datasets import load_dataset
        from embrec.data.splits import make_split

        ratings = load_dataset("ml-100k", data_dir=data_dir)
        splits = [make_split(ratings, f"u{k}", data_dir=data_dir) for k in range(1, 6)]
        return [(s.train, s.test) for s in splits]
    except ImportError:
        return _read_folds(Path(data_dir) / "ml-100k")


def _read_folds(folder: Path) -> list[tuple[Any, Any]]:
    import pandas as pd

    from embrec.data.ratings import Ratings

    columns = ["user", "item", "rating", "timestamp"]
    full = pd.read_csv(folder / "u.data", sep="\t", names=columns)
    ratings = Ratings.from_raw(full.user.to_numpy(), full.item.to_numpy(),
                               full.rating.to_numpy(), name="ml-100k")
    key = full.user.to_numpy(np.int64) * 100_000 + full.item.to_numpy(np.int64)
    folds = []
    for k in range(1, 6):
        test = pd.read_csv(folder / f"u{k}.test", sep="\t", names=columns)
        in_test = np.isin(key, test.user.to_numpy(np.int64) * 100_000 + test.item.to_numpy())
        folds.append((ratings.subset(~in_test), ratings.subset(in_test)))
    return folds


# -- workers (each in its own process) ------------------------------------------------


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def work_jit(job: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    from embrec.training.fit import fit

    imported = time.perf_counter()
    ratings = load_synthetic(job["data"]).subset(np.arange(5_000))
    times = {}
    for solver in ("sgd", "als"):
        begin = time.perf_counter()
        fit(ratings, "mf-bias", solver=solver, epochs=1, factors=8, verbose=False)
        times[solver] = time.perf_counter() - begin
    return {"import_s": imported - started, "first_sgd_s": times["sgd"],
            "first_als_s": times["als"]}


def work_fit(job: dict[str, Any]) -> dict[str, Any]:
    from embrec.training.fit import fit

    ratings = load_synthetic(job["data"])
    before = peak_mib()
    started = time.perf_counter()
    trained = fit(ratings, job["model"], solver=job["solver"], verbose=False, **job["options"])
    seconds = time.perf_counter() - started
    rates = [e.ratings_per_second for e in trained.history.epochs]
    skip = 1 if len(rates) > 2 else 0  # the first epoch loads the compiled kernels
    return {"ratings_per_second": float(np.median(rates[skip:])), "fit_s": seconds,
            "epochs": len(rates), "data_peak_mib": before}


def work_folds(job: dict[str, Any]) -> dict[str, Any]:
    from embrec.training.fit import fit
    from embrec.training.loop import evaluate

    folds = ml100k_folds(job["data_dir"])
    fit(folds[0][0].subset(np.arange(2_000)), job["model"], solver=job["solver"], epochs=1,
        verbose=False)
    started = time.perf_counter()
    rmses = []
    for train, test in folds:
        trained = fit(train, job["model"], solver=job["solver"], verbose=False,
                      **job["options"])
        rmses.append(evaluate(trained.predictor, test).rmse)
    return {"rmse": rmses, "seconds": time.perf_counter() - started}


WORKERS = {"jit": work_jit, "fit": work_fit, "folds": work_folds}


def run_worker(job: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``job`` in a fresh process; its JSON answer plus that process's peak memory."""
    result = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        capture_output=True, text=True, env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- tables -----------------------------------------------------------------------------


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    cells = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{title} [load average {load} on {os.cpu_count()} cores]")
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) if n else c.ljust(w) for c, w in zip(row, widths)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def median_job(job: dict[str, Any], repeats: int, env: dict[str, str] | None = None):
    runs = [run_worker(job, env) for _ in range(repeats)]
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    return {
        key: float(np.median([r[key] for r in good])) if isinstance(good[0][key], float)
        else good[0][key]
        for key in good[0]
    }


def _grown(result: dict[str, Any]) -> str:
    """Peak memory the fit added over the process with its data loaded."""
    return f"{result.get('peak_mib', 0) - result.get('data_peak_mib', 0):.0f}"


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:,.2f}M"


def jit_table(data: str) -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        rows = []
        for label in ("cold (empty cache)", "warm (cached)"):
            r = run_worker({"kind": "jit", "data": data}, env)
            rows.append([label, f"{r.get('import_s', 0):.2f}", f"{r.get('first_sgd_s', 0):.2f}",
                         f"{r.get('first_als_s', 0):.2f}", f"{r.get('peak_mib', 0):.0f}"])
    print_table("numba compilation (first fit on 5,000 ratings, seconds)",
                ["cache", "import embrec", "first sgd fit", "first als fit", "peak MiB"], rows)


def compiled_table(files: dict[str, str], repeats: int) -> dict[str, float]:
    plans = [
        ("1m", "mf-bias", "sgd", 1, 8), ("1m", "mf-bias", "sgd", 2, 8),
        ("1m", "mf", "sgd", 2, 8), ("1m", "mf-bias", "als", 1, 3), ("1m", "mf-bias", "als", 2, 3),
        ("10m", "mf-bias", "sgd", 1, 3), ("10m", "mf-bias", "sgd", 2, 3),
    ]
    rows, rates = [], {}
    for data, model, solver, threads, epochs in plans:
        if data not in files:
            continue
        job = {"kind": "fit", "data": files[data], "model": model, "solver": solver,
               "options": {"factors": FACTORS, "threads": threads, "epochs": epochs}}
        r = median_job(job, repeats)
        rates[f"{data}/{model}/{solver}/{threads}"] = r.get("ratings_per_second", 0.0)
        rows.append([data, model, solver, threads, epochs, rate(r.get("ratings_per_second")),
                     f"{r.get('fit_s', 0):.2f}", f"{r.get('peak_mib', 0):.0f}",
                     f"{r.get('peak_mib', 0) - r.get('data_peak_mib', 0):.0f}",
                     r.get("error", "")])
    print_table(f"compiled solvers, {FACTORS} factors (median over epochs and {repeats} runs)",
                ["data", "model", "solver", "threads", "epochs", "ratings/s", "fit s",
                 "peak MiB", "fit +MiB", "error"], rows)
    for threads in (1, 2):
        small = rates.get(f"1m/mf-bias/sgd/{threads}")
        large = rates.get(f"10m/mf-bias/sgd/{threads}")
        if small and large:
            print(f"sgd {threads} thread(s): cost per rating 10M / 1M = {small / large:.2f}x")
    return rates


def torch_optimizers() -> list[str]:
    """adamw and sparse-adam, and the row-sparse optimisers where this embrec has them."""
    from embrec.training.optim import SPARSE_OPTIMIZERS

    return ["adamw", "sparse-adam", *sorted(set(SPARSE_OPTIMIZERS) - {"sparse-adam"})]


TORCH_EPOCHS = 3
"""Epochs per PyTorch-loop run: the first loads the compiled optimiser kernels and
warms the allocator, so the table reports the median of the later ones."""


def torch_rate(files: dict[str, str], name: str, options: dict[str, Any]) -> dict[str, Any]:
    return run_worker({"kind": "fit", "data": files[name], "model": "mf-bias",
                       "solver": "torch", "options": {**options, "epochs": TORCH_EPOCHS}})


def torch_table(files: dict[str, str]) -> None:
    """Each optimiser by batch size on 1M; its best batch again on 10M; cost ratio 10M / 1M."""
    try:
        optimizers = torch_optimizers()
    except ImportError:
        optimizers = ["adamw", "sparse-adam"]
    rows, ratios = [], []
    for optimizer in optimizers:
        best, best_rate = None, 0.0
        for batch in (1024, 8192, 32768):
            options = {"factors": FACTORS, "batch_size": batch, "optimizer": optimizer}
            r = torch_rate(files, "1m", options)
            value = r.get("ratings_per_second", 0.0)
            if value > best_rate:
                best, best_rate = options, value
            rows.append(["1m", optimizer, batch, rate(value), f"{r.get('peak_mib', 0):.0f}",
                         _grown(r), r.get("error", "")])
        if best is None or "10m" not in files:
            continue
        r = torch_rate(files, "10m", best)
        large = r.get("ratings_per_second", 0.0)
        rows.append(["10m", optimizer, best["batch_size"], rate(large),
                     f"{r.get('peak_mib', 0):.0f}", _grown(r), r.get("error", "")])
        if large:
            ratios.append((optimizer, best["batch_size"], best_rate, large))
    print_table(f"PyTorch loop, mf-bias, {FACTORS} factors, median of epochs 2-{TORCH_EPOCHS}",
                ["data", "optimizer", "batch", "ratings/s", "peak MiB", "fit +MiB", "error"],
                rows)
    if ratios:
        print_table("PyTorch loop: cost per rating, 10M (70k users) / 1M, each optimiser's "
                    "best batch on 1M",
                    ["optimizer", "batch", "1m ratings/s", "10m ratings/s", "cost 10m / 1m"],
                    [[o, b, rate(small), rate(large), f"{small / large:.2f}x"]
                     for o, b, small, large in ratios])


def folds_table(data_dir: str, skip_torch: bool, repeats: int) -> None:
    plans = [
        ("mf-bias", "sgd", {}), ("mf", "sgd", {}),
        ("mf-bias", "sgd", {"factors": 100}),
        ("mf-bias", "als", {}), ("mf-bias", "als", {"epochs": 5}),
    ]
    if not skip_torch:
        plans.append(("mf-bias", "torch", {}))
    rows = []
    for model, solver, options in plans:
        r = median_job({"kind": "folds", "data_dir": data_dir, "model": model,
                        "solver": solver, "options": options}, repeats)
        if "error" in r:
            rows.append([model, solver, json.dumps(options), "-", "-", r["error"]])
            continue
        rows.append([model, solver, json.dumps(options) if options else "defaults",
                     f"{np.mean(r['rmse']):.4f}", f"{r['seconds']:.2f}",
                     " ".join(f"{x:.4f}" for x in r["rmse"])])
    print_table(f"ml-100k u1..u5: fit + predict of all five folds (median of {repeats} runs)",
                ["model", "solver", "options", "mean RMSE", "seconds", "u1..u5"], rows)


def run_peer(*args: str) -> dict[str, Any]:
    result = subprocess.run([str(PEERS_PYTHON), str(HERE / "peers" / "run_peers.py"), *args],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def peers_table(files: dict[str, str], data_dir: str, ours: dict[str, float]) -> None:
    if not PEERS_PYTHON.exists():
        print("\npeers: benchmarks/peers/.venv is missing; run benchmarks/peers/setup.sh")
        return
    rows = []
    for library, threads in (("cornac", 1), ("cornac", 2), ("surprise", 1)):
        r = run_peer("throughput", library, str(threads), files["1m"], str(FACTORS))
        theirs = r.get("ratings_per_second", 0.0)
        mine = ours.get(f"1m/mf-bias/sgd/{threads}", 0.0)
        rows.append([library, threads, rate(theirs), rate(mine),
                     f"{mine / theirs:.2f}" if theirs else "-", f"{r.get('peak_mib', 0):.0f}",
                     r.get("error", "")])
    print_table(f"peers on the 1M set, {FACTORS} factors, per epoch (embrec: sgd, mf-bias)",
                ["library", "threads", "ratings/s", "embrec ratings/s", "embrec / peer",
                 "peer peak MiB", "error"], rows)
    rows = []
    for library in ("cornac", "surprise"):
        r = run_peer("folds", library, str(Path(data_dir) / "ml-100k"))
        if "error" in r:
            rows.append([library, "-", "-", "-", r["error"]])
            continue
        rows.append([library, r["options"], f"{np.mean(r['rmse']):.4f}", f"{r['seconds']:.2f}",
                     ""])
    print_table("peers on ml-100k u1..u5 (fit + predict of all five folds)",
                ["library", "options", "mean RMSE", "seconds", "error"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tables", default=",".join(TABLES),
                        help=f"comma-separated subset of {','.join(TABLES)}")
    parser.add_argument("--skip-10m", action="store_true")
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        job = json.loads(args.worker)
        answer = WORKERS[job["kind"]](job)
        print(json.dumps({**answer, "peak_mib": peak_mib()}))
        return
    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for name in ("1m",) if args.skip_10m else ("1m", "10m"):
            started = time.perf_counter()
            files[name] = str(Path(folder) / f"synthetic-{name}.npz")
            np.savez(files[name], **synthetic_arrays(name))
            print(f"synthetic {name}: {SHAPES[name]} made in {time.perf_counter() - started:.1f}s")
        tables = set(args.tables.split(","))
        if "jit" in tables:
            jit_table(files["1m"])
        ours = compiled_table(files, args.repeats) if "compiled" in tables else {}
        if "folds" in tables:
            folds_table(args.data_dir, "torch" not in tables, args.repeats)
        if "torch" in tables:
            torch_table(files)
        if "peers" in tables:
            peers_table(files, args.data_dir, ours)


if __name__ == "__main__":
    main()
