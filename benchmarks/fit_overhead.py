"""Whole-fit seconds against the solver's own epoch seconds: time a fit spends outside the maths.

    PYTHONPATH=src python benchmarks/fit_overhead.py --data-dir ../shared/data --repeats 9

Fits ``--preset fast`` (mf-bias, compiled SGD, 25 epochs) on ml-100k u1 with the
test set reported every epoch, ``--repeats`` times after one warm-up fit, and
prints a table of medians: the whole ``fit`` call, the epochs' own seconds (the
SGD kernel, as recorded in the history) and the rest (per-epoch scoring of the
test set, setup, publishing the tables, the final metrics). Run it from two
checkouts in turn to compare them; it prints the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from embrec.data.datasets import load_dataset
from embrec.data.splits import make_split
from embrec.training.fit import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("EMBREC_DATA_DIR"))
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--label", default="this checkout")
    args = parser.parse_args()
    split = make_split(load_dataset("ml-100k", data_dir=args.data_dir), "u1",
                       data_dir=args.data_dir)
    before = os.getloadavg()
    fit(split.train, preset="fast", test=split.test, verbose=False)
    whole, epochs = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        trained = fit(split.train, preset="fast", test=split.test, verbose=False)
        whole.append(time.perf_counter() - started)
        epochs.append(trained.history.train_seconds)
    rest = [w - e for w, e in zip(whole, epochs)]
    print(f"{args.label}: ml-100k u1, preset fast (seed 0), {args.repeats} fits, "
          f"test RMSE {trained.metrics['valid_rmse']:.4f}")
    print(f"{'':>12} {'median s':>10} {'min s':>10}")
    for name, values in (("whole fit", whole), ("epochs", epochs), ("the rest", rest)):
        print(f"{name:>12} {statistics.median(values):>10.3f} {min(values):>10.3f}")
    print(f"load average before {before[0]:.2f}, after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
