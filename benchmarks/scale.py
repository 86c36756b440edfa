"""Data beyond MovieLens size on one machine: loading, sparse training, autoencoders.

    .venv/bin/python benchmarks/scale.py load [--ratings 25000095] [--profile]
    .venv/bin/python benchmarks/scale.py train [--sizes 1000000,10000000,50000000]
        [--optimizers adamw,lazy-adam] [--batch-size 16384] [--budget 90]
    .venv/bin/python benchmarks/scale.py autoencoder [--ratings 100480507] [--batches 12]
    .venv/bin/python benchmarks/scale.py --threads 1 embnet [--batches 200] [--repeats 3]

Every measurement runs in a fresh subprocess and reports its peak resident memory
(``ru_maxrss``), so one measurement's memory never hides another's. Synthetic
data and files are written under ``--workdir`` (default ``/tmp/embrec-scale``).

``load``: 25M synthetic ratings written as ml-25m's ``ratings.csv``
(``userId,movieId,rating,timestamp``, half stars, 162,541 x 59,047) and as a
Netflix ``combined_data_1.txt`` (``MovieID:`` lines, then
``CustomerID,Rating,Date``; Netflix-like shape), each loaded by
``load_dataset(name, data_dir, cache_dir)`` twice: parsing (empty cache) and
from the parsed cache.

``train``: ``mf-bias`` with 64 factors on Netflix-shaped synthetic data
(``netflix_like_shape``) through embrec's training step, one epoch or the
batches that fit in ``--budget`` seconds (the epoch time is then extrapolated:
time to the first batch, which includes the epoch's permutation, plus the
median batch time for the remaining batches).

``embnet``: the embedding network's training step with its old default (dense
AdamW on every table), its default now (the model's spec decides from the table
sizes) and candidates (batch size, row-wise Adagrad, a narrower user table), on
1M synthetic ratings of 53,727 users x 8,108 items (the shape of 10M ratings,
docs/scale.md) and on ml-100k u1 (``--data-dir``): seconds per epoch and
ratings/s, the variants interleaved ``--repeats`` times, each in its own process,
with the one-minute load average before and after each run. The large epoch is
extrapolated from ``--batches`` batches; ml-100k's is timed whole.

``autoencoder``: ``deep-ae`` (user rows of 17,770 inputs) on a Netflix-sized
480,189 x 17,770 rating matrix, batches of sparse rows densified one at a time;
``--batches`` timed and the epoch extrapolated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

SCRIPT = Path(__file__).resolve()
OPTIMIZER_SETTINGS = {"row-adagrad": {"lr": 0.05, "weight_decay": 0.0}}
"""Adagrad wants a larger rate than Adam (best of 0.05/0.1/0.2 on ml-100k u1)."""
ML25M_SHAPE = (25_000_095, 162_541, 59_047)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def in_subprocess(task: str, **options: Any) -> dict[str, Any]:
    """Run ``task`` of this script in a fresh interpreter; its last stdout line is JSON."""
    command = [sys.executable, str(SCRIPT), "_worker", task, json.dumps(options)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{task} failed:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line)
    return json.loads(lines[-1])


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    cells = [[f"{v:,.0f}" if isinstance(v, float) and v >= 100 else
              f"{v:.2f}" if isinstance(v, float) else
              f"{v:,}" if isinstance(v, int) else str(v) for v in row] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.rjust(w) for v, w in zip(row, widths)) + " |")


def machine() -> str:
    import torch

    return (f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"load average {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M')}")


# -- synthetic data, kept as npz between runs ---------------------------------------------------


def synthetic_path(workdir: Path, n_ratings: int, shape: tuple[int, int], stars: str) -> Path:
    return workdir / f"synthetic-{n_ratings}-{shape[0]}x{shape[1]}-{stars}.npz"


def task_generate(path: str, n_ratings: int, n_users: int, n_items: int, half_stars: bool):
    from embrec.data.ratings import RatingScale
    from embrec.data.synthetic import generate_ratings

    scale = RatingScale(0.5, 5.0, 0.5) if half_stars else RatingScale(1.0, 5.0, 1.0)
    started = time.perf_counter()
    ratings = generate_ratings(n_users, n_items, n_ratings, scale=scale, seed=0)
    np.savez(path, users=ratings.users, items=ratings.items, values=ratings.values,
             timestamps=ratings.timestamps, n_users=n_users, n_items=n_items,
             low=scale.low, step=scale.step)
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


def ensure_synthetic(workdir: Path, n_ratings: int, shape: tuple[int, int], half: bool) -> Path:
    path = synthetic_path(workdir, n_ratings, shape, "half" if half else "whole")
    if not path.exists():
        workdir.mkdir(parents=True, exist_ok=True)
        done = in_subprocess("generate", path=str(path), n_ratings=n_ratings,
                             n_users=shape[0], n_items=shape[1], half_stars=half)
        print(f"generated {n_ratings:,} ratings {shape[0]:,} x {shape[1]:,} in "
              f"{done['seconds']:.0f} s (peak {done['peak_rss_mb']:,.0f} MB) -> {path}")
    return path


def load_synthetic(path: str):
    from embrec.data.idmap import IdMap
    from embrec.data.ratings import Ratings, RatingScale

    data = np.load(path)
    n_users, n_items = int(data["n_users"]), int(data["n_items"])
    scale = RatingScale(float(data["low"]), 5.0, float(data["step"]))
    return Ratings(data["users"], data["items"], data["values"],
                   IdMap(np.arange(1, n_users + 1)), IdMap(np.arange(1, n_items + 1)), scale,
                   name="synthetic")


# -- loading ------------------------------------------------------------------------------------


def task_write_files(npz: str, folder: str, fmt: str) -> dict[str, Any]:
    """Write the synthetic ratings as ml-25m ``ratings.csv`` or Netflix ``combined_data_1.txt``."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    data = np.load(npz)
    users, items = data["users"].astype(np.int64) + 1, data["items"].astype(np.int64) + 1
    values, timestamps = data["values"], data["timestamps"]
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if fmt == "ml-25m":
        stars = pa.array([f"{v / 2:.1f}" for v in range(1, 11)])
        codes = pa.array(np.round(values * 2).astype(np.int8) - 1)
        frame = pa.table({"userId": users, "movieId": items,
                          "rating": pa.DictionaryArray.from_arrays(codes, stars),
                          "timestamp": timestamps})
        path = target / "ratings.csv"
        with open(path, "wb") as sink:
            sink.write(b"userId,movieId,rating,timestamp\n")
            pacsv.write_csv(frame, sink, pacsv.WriteOptions(include_header=False,
                                                            quoting_style="none"))
    else:
        order = np.argsort(items, kind="stable")
        days = (timestamps[order] // 86_400).astype(np.int32)
        frame = pa.table({"customer": users[order], "rating": values[order].astype(np.int8),
                          "date": pa.array(days, pa.date32())})
        movies, starts = np.unique(items[order], return_index=True)
        bounds = [*starts.tolist(), len(order)]
        path = target / "combined_data_1.txt"
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        with open(path, "wb") as sink:
            for movie, start, stop in zip(movies, bounds[:-1], bounds[1:]):
                sink.write(b"%d:\n" % movie)
                pacsv.write_csv(frame.slice(start, stop - start), sink, options)
    return {"seconds": time.perf_counter() - started, "bytes": path.stat().st_size,
            "path": str(path)}


def task_load(name: str, data_dir: str, cache_dir: str, profile: bool) -> dict[str, Any]:
    from embrec.data.datasets import load_dataset

    baseline = current_rss_mb()
    started = time.perf_counter()
    if profile:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        ratings = profiler.runcall(load_dataset, name, data_dir, cache_dir=cache_dir,
                                   download=False)
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(14)
        print(text.getvalue())
    else:
        ratings = load_dataset(name, data_dir, cache_dir=cache_dir, download=False)
    return {"seconds": time.perf_counter() - started, "n": len(ratings),
            "users": ratings.n_users, "items": ratings.n_items,
            "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline}


def run_load(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    data_dir = workdir / "data"
    rows = []
    from embrec.data.synthetic import netflix_like_shape

    cases = [("ml-25m", "ml-25m", (ML25M_SHAPE[1], ML25M_SHAPE[2]), True),
             ("netflix", "nf_prize_dataset", netflix_like_shape(args.ratings), False)]
    for name, folder, shape, half in cases:
        npz = ensure_synthetic(workdir, args.ratings, shape, half)
        target = data_dir / folder
        if not any(target.glob("*.csv")) and not any(target.glob("combined_data_*.txt")):
            written = in_subprocess("write_files", npz=str(npz), folder=str(target), fmt=name)
            print(f"wrote {written['path']} ({written['bytes'] / 2**20:,.0f} MB) "
                  f"in {written['seconds']:.0f} s")
        size = sum(p.stat().st_size for p in target.iterdir()) / 2**20
        cache = workdir / f"cache-{name}"
        subprocess.run(["rm", "-rf", str(cache)], check=True)
        for attempt in ("first (parse + cache)", "second (cached)"):
            done = in_subprocess("load", name=name, data_dir=str(data_dir), cache_dir=str(cache),
                                 profile=args.profile and attempt.startswith("first"))
            rows.append([name, f"{done['n']:,}", f"{done['users']:,} x {done['items']:,}",
                         size, attempt, done["seconds"], done["peak_rss_mb"],
                         done["peak_rss_mb"] - done["baseline_rss_mb"]])
    table(f"Loading {args.ratings:,} ratings with load_dataset ({machine()})",
          ["dataset", "ratings", "users x items", "file MB", "load", "seconds", "peak RSS MB",
           "peak - start MB"], rows)


# -- training -----------------------------------------------------------------------------------


def timed_batches(trainer: Any, budget: float, max_batches: int | None) -> dict[str, Any]:
    """Run epoch 0 through the trainer's own step until it ends or the budget is spent."""
    total = len(trainer.batches)
    started = time.perf_counter()
    times: list[float] = []
    first = None
    losses = []
    last = started
    for batch in trainer.batches.epoch(0):
        loss, _ = trainer._step(batch, 0)
        now = time.perf_counter()
        if first is None:
            first = now - started
        else:
            times.append(now - last)
        last = now
        losses.append(loss)
        done = len(times) + 1
        if done == total or now - started > budget or (max_batches and done >= max_batches):
            break
    done = len(times) + 1
    per_batch = statistics.median(times) if times else first
    epoch = now - started if done == total else first + per_batch * (total - 1)
    return {"batches": done, "of": total, "epoch_seconds": epoch, "batch_seconds": per_batch,
            "first_batch_seconds": first, "extrapolated": done < total,
            "loss_first": float(np.mean(losses[:5])), "loss_last": float(np.mean(losses[-5:]))}


def make_trainer(ratings: Any, model: str, values: dict[str, Any]) -> Any:
    import torch

    from embrec.bundle import shape_of
    from embrec.models.registry import get_spec
    from embrec.predictor import Fallback
    from embrec.training.fit import split_hyperparameters
    from embrec.training.loop import Trainer
    from embrec.training.optim import SPARSE_OPTIMIZERS

    spec = get_spec(model)
    model_config, config = split_hyperparameters(spec, values,
                                                 size=(ratings.n_users, ratings.n_items))
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    torch.manual_seed(config.seed)
    mean = float(ratings.values.mean())
    fallback = Fallback(mean, np.zeros(ratings.n_users), np.zeros(ratings.n_items))
    sparse = config.optimizer in SPARSE_OPTIMIZERS
    module = spec.build(model_config, shape_of(ratings, mean), sparse)
    return Trainer(module, config, ratings, fallback)


def task_train(npz: str, optimizer: str, batch_size: int, budget: float, threads: int):
    ratings = load_synthetic(npz)
    data_mb = current_rss_mb()
    trainer = make_trainer(ratings, "mf-bias", {
        "factors": 64, "optimizer": optimizer, "batch_size": batch_size, "epochs": 1,
        "threads": threads, **OPTIMIZER_SETTINGS.get(optimizer, {})})
    result = timed_batches(trainer, budget, None)
    return {**result, "n": len(ratings), "users": ratings.n_users, "items": ratings.n_items,
            "ratings_per_second": batch_size / result["batch_seconds"],
            "data_rss_mb": data_mb, "peak_rss_mb": peak_rss_mb()}


def run_train(args: argparse.Namespace) -> None:
    from embrec.data.synthetic import netflix_like_shape

    rows = []
    for n in (int(float(s)) for s in args.sizes.split(",")):
        npz = ensure_synthetic(Path(args.workdir), n, netflix_like_shape(n), False)
        for optimizer in args.optimizers.split(","):
            done = in_subprocess("train", npz=str(npz), optimizer=optimizer,
                                 batch_size=args.batch_size, budget=args.budget,
                                 threads=args.threads)
            rows.append([f"{done['n']:,}", f"{done['users']:,}", f"{done['items']:,}", optimizer,
                         done["ratings_per_second"], 1e9 / done["ratings_per_second"],
                         done["epoch_seconds"], f"{done['batches']}/{done['of']}",
                         done["data_rss_mb"], done["peak_rss_mb"],
                         f"{done['loss_first']:.2f} -> {done['loss_last']:.2f}"])
            print(" | ".join(str(v) for v in rows[-1]), flush=True)
    table(f"mf-bias, 64 factors, batch {args.batch_size}, {args.threads} threads ({machine()})",
          ["ratings", "users", "items", "optimizer", "ratings/s", "ns/rating", "s/epoch",
           "batches timed", "RSS with data MB", "peak RSS MB", "batch loss"], rows)


# -- autoencoders -------------------------------------------------------------------------------


def task_autoencoder(npz: str, batches: int, threads: int, batch_size: int) -> dict[str, Any]:
    ratings = load_synthetic(npz)
    data_mb = current_rss_mb()
    trainer = make_trainer(ratings, "deep-ae", {"batch_size": batch_size, "threads": threads,
                                                "epochs": 1})
    setup_mb = current_rss_mb()
    result = timed_batches(trainer, float("inf"), batches)
    rows_per_second = batch_size / result["batch_seconds"]
    return {**result, "n": len(ratings), "users": ratings.n_users, "items": ratings.n_items,
            "rows_per_second": rows_per_second, "data_rss_mb": data_mb,
            "after_setup_rss_mb": setup_mb, "peak_rss_mb": peak_rss_mb()}


def run_autoencoder(args: argparse.Namespace) -> None:
    shape = (480_189, 17_770)
    npz = ensure_synthetic(Path(args.workdir), args.ratings, shape, False)
    done = in_subprocess("autoencoder", npz=str(npz), batches=args.batches,
                         threads=args.threads, batch_size=args.batch_size)
    table(f"deep-ae 512-256-64, user rows, batch {args.batch_size} ({machine()})",
          ["ratings", "users x items", "batches timed", "s/batch", "users/s",
           "s/epoch (extrapolated)", "RSS data MB", "RSS + CSR + model MB", "peak RSS MB"],
          [[f"{done['n']:,}", f"{done['users']:,} x {done['items']:,}",
            f"{done['batches']}/{done['of']}", done["batch_seconds"], done["rows_per_second"],
            done["epoch_seconds"], done["data_rss_mb"], done["after_setup_rss_mb"],
            done["peak_rss_mb"]]])


# -- embnet -------------------------------------------------------------------------------------

EMBNET_SHAPE = (1_000_000, 53_727, 8_108)
EMBNET_VARIANTS = {
    "old default (adamw)": {"optimizer": "adamw"},
    "default": {},
    "default, 2 threads": {"threads": 2},
    "lazy-adam, batch 4096": {"optimizer": "lazy-adam", "batch_size": 4096},
    "row-adagrad (lr 0.05, wd 0)": {"optimizer": "row-adagrad", "lr": 0.05, "weight_decay": 0.0},
    "lazy-adam, user width 256": {"optimizer": "lazy-adam", "user_factors": 256},
}
SMALL_VARIANTS = ("old default (adamw)", "default", "lazy-adam, batch 4096")


def task_embnet(data: str, values: dict[str, Any], batches: int, threads: int) -> dict[str, Any]:
    if data.startswith("ml-100k:"):
        from embrec.data.datasets import load_dataset
        from embrec.data.splits import make_split

        folder = data.split(":", 1)[1]
        ratings = make_split(load_dataset("ml-100k", data_dir=folder), "u1",
                             data_dir=folder).train
    else:
        ratings = load_synthetic(data)
    load_before = os.getloadavg()[0]
    trainer = make_trainer(ratings, "embnet", {"threads": threads, **values, "epochs": 1})
    result = timed_batches(trainer, float("inf"), batches)
    module, config = trainer.module, trainer.config
    return {**result, "n": len(ratings), "users": ratings.n_users, "items": ratings.n_items,
            "optimizer": config.optimizer, "batch_size": config.batch_size,
            "threads": config.threads,
            "widths": f"{module.user_factors.embedding_dim}/{module.item_factors.embedding_dim}",
            "ratings_per_second": config.batch_size / result["batch_seconds"],
            "load": f"{load_before:.1f}-{os.getloadavg()[0]:.1f}"}


def run_embnet(args: argparse.Namespace) -> None:
    n, n_users, n_items = EMBNET_SHAPE
    cases = [(str(ensure_synthetic(Path(args.workdir), n, (n_users, n_items), False)),
              args.batches)]
    if args.data_dir:
        cases.append((f"ml-100k:{args.data_dir}", 0))
    rows = []
    for data, batches in cases:
        variants = EMBNET_VARIANTS if batches else {k: EMBNET_VARIANTS[k] for k in SMALL_VARIANTS}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, values in variants.items():
                done = in_subprocess("embnet", data=data, values=values, batches=batches,
                                     threads=args.threads)
                runs[name].append(done)
                print(f"{name}: {done['epoch_seconds']:.1f} s/epoch, "
                      f"{done['ratings_per_second']:,.0f} ratings/s, load {done['load']}",
                      flush=True)
        for name, done in runs.items():
            first = done[0]
            rows.append([f"{first['n']:,}", f"{first['users']:,} x {first['items']:,}", name,
                         first["optimizer"], first["batch_size"], first["widths"],
                         statistics.median(d["ratings_per_second"] for d in done),
                         statistics.median(d["epoch_seconds"] for d in done),
                         f"{first['batches']}/{first['of']}", first["threads"],
                         ", ".join(d["load"] for d in done)])
    table(f"embnet, one epoch, median of {args.repeats} "
          f"({machine()})",
          ["ratings", "users x items", "variant", "optimizer", "batch", "widths", "ratings/s",
           "s/epoch", "batches timed", "threads", "load average (each run)"], rows)


TASKS = {"generate": task_generate, "write_files": task_write_files, "load": task_load,
         "train": task_train, "autoencoder": task_autoencoder, "embnet": task_embnet}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        print(json.dumps(TASKS[sys.argv[2]](**json.loads(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/embrec-scale")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load")
    load.add_argument("--ratings", type=int, default=ML25M_SHAPE[0])
    load.add_argument("--profile", action="store_true")
    train = sub.add_parser("train")
    train.add_argument("--sizes", default="1000000,10000000,50000000")
    train.add_argument("--optimizers", default="adamw,lazy-adam")
    train.add_argument("--batch-size", type=int, default=16384)
    train.add_argument("--budget", type=float, default=90.0)
    auto = sub.add_parser("autoencoder")
    auto.add_argument("--ratings", type=int, default=100_480_507)
    auto.add_argument("--batches", type=int, default=12)
    auto.add_argument("--batch-size", type=int, default=128)
    embnet = sub.add_parser("embnet")
    embnet.add_argument("--batches", type=int, default=200)
    embnet.add_argument("--repeats", type=int, default=3)
    embnet.add_argument("--data-dir", default=os.environ.get("EMBREC_DATA_DIR", ""))
    args = parser.parse_args()
    {"load": run_load, "train": run_train, "autoencoder": run_autoencoder,
     "embnet": run_embnet}[args.command](args)


if __name__ == "__main__":
    main()
