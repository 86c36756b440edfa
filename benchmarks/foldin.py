"""Fold-in of new users: rating quality against two references, and latency.

    .venv/bin/python benchmarks/foldin.py                       # everything, ml-100k
    .venv/bin/python benchmarks/foldin.py --models mf-bias --skip-batch

Quality. 100 users (seeded choice among those with at least 30 ratings) are
held out entirely; each model is trained on the other users' ratings with its
default hyperparameters. A seeded permutation of each held-out user's ratings
gives the fold-in ratings (its first k, k = 5, 10, 20, nested) and the evaluated
ratings (everything after position 20, the same set for every k). Reported, the
RMSE on the evaluated ratings (predictions clipped to the scale) of:

* fold-in: the k ratings folded into the frozen model (``recommend_for_ratings``'s path);
* item mean: each item's mean rating in the training data (global mean for an unrated item);
* trained in: the same model retrained with the held-out users' k ratings in its training data.

Latency. A model trained on all of ml-100k is saved as a bundle and loaded; then
the median (and 90th percentile) wall time of ``recommend_for_ratings(model,
ratings, n=10)`` over 100 calls, each with 10 ratings of a different user given by
raw item id. The first call, which builds the caches (item space, population
prior, training noise), is reported apart. Torch and BLAS run ``--threads``
threads (default 1: one request per worker; a multi-threaded BLAS on a busy
machine makes these small products many times slower). Top-10 for every known
user by ``recommend_many`` is timed on ml-100k and on a synthetic set of 100,000
users.

Results go to a JSON file with the config, seed, split and data fingerprint;
``--update`` keeps what an existing file has that a run does not redo (skipped
sections, quality rows of other models).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from embrec.bundle import load
from embrec.data.datasets import load_dataset
from embrec.data.ratings import Ratings
from embrec.data.synthetic import generate_ratings
from embrec.io import write_json_atomic
from embrec.recommend import recommend_for_ratings, recommend_many
from embrec.recommend.engine import Query, recommender_for
from embrec.training.fit import fit

DEFAULT_MODELS = "mf-bias:solver=torch,mf-bias,embnet,autorec,deep-ae,baseline,mf"
MIN_RATINGS = 30


def model_options(spec: str) -> tuple[str, dict[str, Any]]:
    """``autorec-user`` is AutoRec on user rows; ``NAME:key=value,...`` sets hyperparameters
    (``solver=torch`` picks the solver)."""
    name, _, extra = spec.partition(":")
    options: dict[str, Any] = {}
    if name == "autorec-user":
        name, options["orientation"] = "autorec", "user"
    for pair in filter(None, extra.split(",")):
        key, _, value = pair.partition("=")
        options[key] = json.loads(value) if value[:1].isdigit() else value
    return name, options


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted.astype(np.float64) - actual) ** 2)))


class Protocol:
    """The held-out users, their nested fold-in ratings and their evaluated ratings."""

    def __init__(self, ratings: Ratings, n_users: int, ks: list[int], seed: int) -> None:
        rng = np.random.default_rng(seed)
        eligible = np.flatnonzero(ratings.user_counts() >= MIN_RATINGS)
        self.users = np.sort(rng.choice(eligible, n_users, replace=False))
        self.orders = [rng.permutation(np.flatnonzero(ratings.users == u)) for u in self.users]
        self.ks = ks
        held = np.isin(ratings.users, self.users)
        self.ratings = ratings
        self.train = ratings.subset(~held)
        self.evaluated = np.concatenate([order[max(ks):] for order in self.orders])

    def given(self, k: int) -> np.ndarray:
        return np.concatenate([order[:k] for order in self.orders])

    def item_mean_rmse(self) -> float:
        train, r = self.train, self.ratings
        sums = np.bincount(train.items, weights=train.values, minlength=r.n_items)
        counts = np.bincount(train.items, minlength=r.n_items)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), train.values.mean())
        return rmse(means[r.items[self.evaluated]], r.values[self.evaluated])

    def fold_in_rmse(self, model: Any, k: int) -> float:
        recommender, r = recommender_for(model), self.ratings
        errors = []
        for order in self.orders:
            given, rest = order[:k], order[max(self.ks):]
            query = Query(None, r.items[given].astype(np.int64), r.values[given])
            predicted = recommender.score(query)[1]
            clipped = r.scale.clip(np.asarray(predicted)[r.items[rest]])
            errors.append(clipped - r.values[rest])
        return float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))

    def trained_in_rmse(self, name: str, options: dict[str, Any], k: int) -> float:
        keep = ~np.isin(self.ratings.users, self.users)
        keep[self.given(k)] = True
        model = fit(self.ratings.subset(keep), name, verbose=False, **options)
        r, rows = self.ratings, self.evaluated
        predicted, _ = model.predictor.predict(r.users[rows], r.items[rows])
        return rmse(predicted, r.values[rows])


def quality(protocol: Protocol, specs: list[str], console: Console) -> list[dict[str, Any]]:
    rows = []
    item_mean = protocol.item_mean_rmse()
    for spec in specs:
        name, options = model_options(spec)
        started = time.perf_counter()
        model = fit(protocol.train, name, verbose=False, **options)
        for k in protocol.ks:
            row = {
                "model": spec, "k": k, "fold_in_rmse": protocol.fold_in_rmse(model, k),
                "item_mean_rmse": item_mean,
                "trained_in_rmse": protocol.trained_in_rmse(name, options, k),
                "n_evaluated": int(len(protocol.evaluated)),
                "solver": model.solver, "train_config": model.train_config,
                "model_config": model.model_config.model_dump(),
                "strategy": recommender_for(model).fold_in.description,
            }
            row["gap_to_trained_in"] = row["fold_in_rmse"] - row["trained_in_rmse"]
            rows.append(row)
            console.print(
                f"{spec} k={k}: fold-in {row['fold_in_rmse']:.4f}, item mean {item_mean:.4f}, "
                f"trained in {row['trained_in_rmse']:.4f}"
            )
        console.print(f"{spec}: {time.perf_counter() - started:.0f} s", style="dim")
    return rows


def latency(ratings: Ratings, specs: list[str], calls: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    users = rng.choice(np.flatnonzero(ratings.user_counts() >= 10), calls + 1, replace=False)
    queries = []
    for user in users:
        rows = rng.choice(np.flatnonzero(ratings.users == user), 10, replace=False)
        raw = ratings.item_ids.to_raw(ratings.items[rows])
        queries.append({int(i): float(v) for i, v in zip(raw, ratings.values[rows])})
    out = []
    for spec in specs:
        name, options = model_options(spec)
        with tempfile.TemporaryDirectory() as folder:
            fit(ratings, name, verbose=False, **options).save(Path(folder) / "bundle")
            model = load(Path(folder) / "bundle")
            started = time.perf_counter()
            recommend_for_ratings(model, queries[0], n=10)
            first = time.perf_counter() - started
            times = []
            for query in queries[1:]:
                started = time.perf_counter()
                recommend_for_ratings(model, query, n=10)
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            recommend_many(model, model.user_ids.raw_ids, n=10)
            every_user = time.perf_counter() - started
        out.append({
            "model": spec, "calls": calls, "median_ms": 1000 * float(np.median(times)),
            "p90_ms": 1000 * float(np.percentile(times, 90)), "first_call_ms": 1000 * first,
            "top10_all_users_s": every_user, "n_users": ratings.n_users,
        })
    return out


def synthetic_batch(n_users: int, n_items: int, n_ratings: int, seed: int) -> dict[str, Any]:
    data = generate_ratings(n_users, n_items, n_ratings, seed=seed)
    model = fit(data, "mf-bias", epochs=1, verbose=False)
    recommend_many(model, model.user_ids.raw_ids[:100], n=10)
    started = time.perf_counter()
    batch = recommend_many(model, model.user_ids.raw_ids, n=10)
    seconds = time.perf_counter() - started
    return {"model": "mf-bias", "n_users": n_users, "n_items": n_items, "n_ratings": n_ratings,
            "seconds": seconds, "users_per_second": n_users / seconds, "n": batch.scores.shape[1],
            "fingerprint": data.fingerprint(), "seed": seed}


def print_tables(results: dict[str, Any], console: Console) -> None:
    table = Table(title="Fold-in RMSE on held-out users (ml-100k; lower is better)")
    for column in ("model", "k", "fold-in", "item mean", "trained in", "fold-in - trained in"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for row in results.get("quality", []):
        table.add_row(row["model"], str(row["k"]), f"{row['fold_in_rmse']:.4f}",
                      f"{row['item_mean_rmse']:.4f}", f"{row['trained_in_rmse']:.4f}",
                      f"{row['gap_to_trained_in']:+.4f}")
    if results.get("quality"):
        console.print(table)
    threads = results.get("latency_environment", {}).get("torch_threads", "?")
    table = Table(title=f"Fold-in + top-10 latency (ms, {threads} torch and BLAS thread(s))")
    for column in ("model", "median", "p90", "first call", "top-10 for all users (s)"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for row in results.get("latency", []):
        table.add_row(row["model"], f"{row['median_ms']:.2f}", f"{row['p90_ms']:.2f}",
                      f"{row['first_call_ms']:.0f}", f"{row['top10_all_users_s']:.3f}")
    if results.get("latency"):
        console.print(table)
    if results.get("synthetic"):
        s = results["synthetic"]
        console.print(f"top-10 for {s['n_users']:,} synthetic users x {s['n_items']:,} items "
                      f"(mf-bias): {s['seconds']:.2f} s ({s['users_per_second']:,.0f} users/s)")


def environment(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0], "torch": torch.__version__,
        "machine": platform.machine(), "cpus": os.cpu_count(),
        "torch_threads": args.threads, "blas_threads": args.threads,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("EMBREC_DATA_DIR"))
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--latency-models", default=DEFAULT_MODELS + ",autorec-user:epochs=20")
    parser.add_argument("--held-out", type=int, default=100)
    parser.add_argument("--ks", default="5,10,20")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS threads (one request per worker)")
    parser.add_argument("--synthetic-users", type=int, default=100_000)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--update", action="store_true",
                        help="keep what an existing --out file has that this run does not redo")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/foldin.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    console = Console()
    ratings = load_dataset("ml-100k", data_dir=args.data_dir)
    ks = [int(k) for k in args.ks.split(",")]
    protocol = Protocol(ratings, args.held_out, ks, args.seed)
    results: dict[str, Any] = {}
    if args.update and args.out.is_file():
        results = json.loads(args.out.read_text(encoding="utf-8"))
    results["config"] = {
        "dataset": "ml-100k", "fingerprint": ratings.fingerprint(), "seed": args.seed,
        "held_out_users": args.held_out, "min_ratings": MIN_RATINGS, "ks": ks,
        "split": f"hold out {args.held_out} users; fold in the first k of a seeded "
                 f"permutation of their ratings; evaluate on positions >= {max(ks)}",
        "train_fingerprint": protocol.train.fingerprint(), "threads": args.threads,
    }
    with threadpool_limits(args.threads):
        if not args.skip_quality:
            models = args.models.split(",")
            kept = [row for row in results.get("quality", []) if row["model"] not in models]
            rows = quality(protocol, models, console)
            for row in rows:
                row["environment"] = environment(args)
            results["quality"] = kept + rows
        if not args.skip_latency:
            results["latency"] = latency(
                ratings, args.latency_models.split(","), args.calls, args.seed
            )
            results["latency_environment"] = environment(args)
        if not args.skip_batch:
            results["synthetic"] = synthetic_batch(
                args.synthetic_users, 1682, 2_000_000, args.seed
            )
            results["synthetic_environment"] = environment(args)
    print_tables(results, console)
    write_json_atomic(args.out, results)
    console.print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
