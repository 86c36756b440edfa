"""Which preset wins for which data: test RMSE and fit seconds by data size and sparsity.

    PYTHONPATH=src .venv/bin/python benchmarks/which_model.py --data-dir ../shared/data \\
        [--cases ml-100k-u1,ml-100k-u1-quarter,ml-latest-small,synthetic-1m] \\
        [--presets fast,bayes,best]

The README's "which model should I use" table comes from this script. Each case
is a training part and a test part:

* ``ml-100k-u1``: the official u1 split (80,000 training ratings, 943 users x
  1,682 items);
* ``ml-100k-u1-quarter``: the same split with a random quarter of each user's
  training ratings kept (seed 0, at least one per user): the same users and
  items, four times sparser;
* ``ml-latest-small``: ``--split random:0.1 --seed 0`` (610 users x 9,724 items,
  most items rated a few times);
* ``synthetic-1m``: 1,000,000 ratings of 10,000 users x 2,000 items from
  :func:`embrec.data.synthetic.generate_ratings` (rank 8, seed 0), 10 % held out
  (seed 0): a larger, denser matrix whose truth is low rank.

Every preset is fitted with seed 0 and no ranking model; the seconds are the
whole ``fit`` call (what ``embrec train`` spends between reading the data and
saving), on this machine's cores with the one-minute load average beside each
row. A preset can be left out of a case (``--skip case:preset``) when its time
there is out of reach; the table then says so instead of guessing. Prints a
markdown table, the winner of each case, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from embrec.data.datasets import load_dataset
from embrec.data.ratings import Ratings
from embrec.data.splits import make_split
from embrec.data.synthetic import generate_ratings
from embrec.training.fit import fit


def thinned(train: Ratings, keep: float, seed: int) -> Ratings:
    """A random ``keep`` share of each user's ratings (at least one)."""
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(train), dtype=bool)
    order = np.argsort(train.users, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(train.users[order])) + 1, len(order)]
    for begin, end in zip(starts[:-1], starts[1:]):
        rows = order[begin:end]
        count = max(1, round(keep * len(rows)))
        chosen[rng.choice(rows, size=count, replace=False)] = True
    return train.subset(chosen)


def make_case(name: str, data_dir: str) -> tuple[str, Ratings, Ratings]:
    """(split description, training part, test part) of a case of the module docstring."""
    if name == "ml-100k-u1":
        split = make_split(load_dataset("ml-100k", data_dir), "u1", data_dir=data_dir)
        return "u1", split.train, split.test
    if name == "ml-100k-u1-quarter":
        _, train, test = make_case("ml-100k-u1", data_dir)
        return "u1, a quarter of each user's training ratings (seed 0)", thinned(
            train, 0.25, seed=0), test
    if name == "ml-latest-small":
        split = make_split(load_dataset("ml-latest-small", data_dir), "random:0.1", seed=0)
        return "random:0.1, seed 0", split.train, split.test
    if name == "synthetic-1m":
        ratings = generate_ratings(10_000, 2_000, 1_000_000, seed=0)
        split = make_split(ratings, "random:0.1", seed=0)
        return "random:0.1, seed 0 (generate_ratings seed 0)", split.train, split.test
    raise SystemExit(f"unknown case {name!r}")


def describe(train: Ratings) -> dict[str, float]:
    """Training ratings, the users and items that have one, and their density."""
    users = int(np.count_nonzero(train.user_counts()))
    items = int(np.count_nonzero(train.item_counts()))
    return {"ratings": len(train), "users": users, "items": items,
            "density": len(train) / (users * items)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cases", default="ml-100k-u1,ml-100k-u1-quarter,ml-latest-small,"
                                              "synthetic-1m")
    parser.add_argument("--presets", default="fast,bayes,best")
    parser.add_argument("--skip", default="", help="case:preset pairs not to run, comma-separated")
    args = parser.parse_args()
    skipped = {tuple(pair.split(":", 1)) for pair in args.skip.split(",") if ":" in pair}
    rows = []
    print("| data | training ratings | users x items | density | preset | test RMSE | fit s "
          "| load |")
    print("| --- | ---: | --- | ---: | --- | ---: | ---: | ---: |")
    for case in args.cases.split(","):
        split_name, train, test = make_case(case, args.data_dir)
        shape = describe(train)
        for preset in args.presets.split(","):
            if (case, preset) in skipped:
                print(f"| {case} | {shape['ratings']:,} | {shape['users']:,} x "
                      f"{shape['items']:,} | {shape['density']:.2%} | {preset} | not run | | |")
                continue
            load = os.getloadavg()[0]
            started = time.perf_counter()
            model = fit(train, preset=preset, test=test, seed=0, ranker=None,
                        verbose=False)
            seconds = time.perf_counter() - started
            rmse = float(model.metrics["test_rmse"])
            rows.append({"case": case, "split": split_name, "preset": preset, "seed": 0,
                         "test_rmse": rmse, "fit_seconds": seconds, "load": load, **shape})
            print(f"| {case} | {shape['ratings']:,} | {shape['users']:,} x {shape['items']:,} "
                  f"| {shape['density']:.2%} | {preset} | {rmse:.4f} | {seconds:.1f} "
                  f"| {load:.1f} |", flush=True)
    print()
    for case in args.cases.split(","):
        ran = [r for r in rows if r["case"] == case]
        if ran:
            best = min(ran, key=lambda r: r["test_rmse"])
            print(f"{case}: {best['preset']} wins ({best['test_rmse']:.4f}, "
                  f"{best['fit_seconds']:.1f} s)")
    print(json.dumps({"benchmark": "which_model", "rows": rows}))


if __name__ == "__main__":
    main()
