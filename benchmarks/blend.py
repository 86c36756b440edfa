"""Which rating models should a least-squares blend hold? ml-100k official folds.

    python benchmarks/blend.py --data-dir ../shared/data --folds u1 \\
        [--members bayes-800,autorec,autorec-user] [--search glocal-k,embnet,...] \\
        [--cache /tmp/blend-cache] [--alpha 1.0]

The ``blend`` model (``--preset best`` and ``--preset neural``) does this as a
model; this script keeps each member's own test RMSE beside the blend's, and can
compare many candidate sets without fitting a candidate twice.

For each fold: every candidate (``CANDIDATES``: a name and the keywords of
``fit``) is fitted on 90 % of the fold's training part and predicts the other
10 % (the carve-out, seeded by ``--seed``), then fitted on all of the training
part and predicts the fold's test part, with seed ``--seed``. Blend weights
``w`` (with an intercept) solve the ridge problem

    min_w ||y - [1, P] w||² + alpha ||w_1..k||²

over the carve-out's ratings ``y`` and member predictions ``P`` (unclipped);
the blend ``[1, P_test] w``, clipped to 1..5, is scored on the test part, which
neither the weights nor the members saw. ``--members`` is the blend reported
row by row; ``--search`` adds candidates and prints the best subsets of
``--members`` plus ``--search``, ranked by their **test** RMSE (an optimistic
selection, for studying what helps, not for reporting a model). ``--cache``
keeps each candidate's predictions per fold (``.npz``) so a later run reuses
them. Prints the rows with seconds (carve-out fit + full fit) and the load
average.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

import numpy as np

from embrec.data.align import align_ratings
from embrec.data.datasets import load_dataset
from embrec.data.splits import holdout_validation, make_split
from embrec.models.blend import ridge_weights
from embrec.training.fit import fit

CANDIDATES = {
    "bayes": {"preset": "bayes"},
    "bayes-800": {"preset": "bayes", "epochs": 800, "burn_in": 200},
    "bfm-no-side": {"preset": "bayes", "side": False},
    "autorec": {"model": "autorec"},
    "autorec-user": {"model": "autorec", "orientation": "user"},
    "autorec-seed1": {"model": "autorec", "seed": 1},
    "autorec-seed2": {"model": "autorec", "seed": 2},
    "autorec-user-seed1": {"model": "autorec", "orientation": "user", "seed": 1},
    "autorec-1000": {"model": "autorec", "factors": 1000},
    "mf-bias": {"model": "mf-bias"},
    "embnet": {"model": "embnet"},
    "deep-ae": {"model": "deep-ae"},
    "glocal-k": {"model": "glocal-k"},
    "fm": {"model": "fm"},
}


def predictions(name, fold, split, seed, cache):
    """``name``'s unclipped predictions of the carve-out and of the test part, with seconds."""
    path = cache / f"{fold}-seed{seed}-{name}.npz" if cache else None
    if path is not None and path.exists():
        with np.load(path) as saved:
            return {key: saved[key] for key in saved.files}
    part = holdout_validation(split.train, 0.1, seed)
    out = {}
    for tag, train, target in (("carve", part.train, part.test),
                               ("test", split.train, split.test)):
        started = time.perf_counter()
        keywords = {"seed": seed, **CANDIDATES[name]}  # a candidate may fix its own seed
        trained = fit(train, verbose=False, ranker=None, **keywords)
        target = align_ratings(target, train).ratings
        raw, _ = trained.predictor.predict(target.users, target.items, clip=False)
        out[tag] = raw.astype(np.float64)
        out[f"{tag}_ratings"] = target.values.astype(np.float64)
        out[f"{tag}_seconds"] = np.float64(time.perf_counter() - started)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out)
    return out


def rmse(predicted, ratings):
    return float(np.sqrt(np.mean((np.clip(predicted, 1.0, 5.0) - ratings) ** 2)))


def blended(names, cached, alpha):
    """(test RMSE, weights) of the ridge blend of ``names``."""
    first = cached[names[0]]
    weights = ridge_weights(np.column_stack([cached[n]["carve"] for n in names]),
                            first["carve_ratings"], alpha)
    test = weights[0] + np.column_stack([cached[n]["test"] for n in names]) @ weights[1:]
    return rmse(test, first["test_ratings"]), weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--folds", default="u1", help="comma-separated: u1,u2,...")
    parser.add_argument("--members", default="bayes-800,autorec,autorec-user")
    parser.add_argument("--search", default="", help="more candidates for the subset search")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    members = args.members.split(",")
    extra = [n for n in args.search.split(",") if n and n not in members]
    unknown = [n for n in members + extra if n not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidate {unknown[0]!r}; choose from {', '.join(CANDIDATES)}")
    ratings = load_dataset("ml-100k", args.data_dir)
    print(f"load average at start: {os.getloadavg()}")
    print("| fold | model | test RMSE | weight | seconds (carve-out fit + full fit) |")
    print("| --- | --- | --- | --- | --- |")
    for fold in args.folds.split(","):
        split = make_split(ratings, fold, data_dir=args.data_dir)
        cached = {n: predictions(n, fold, split, args.seed, args.cache) for n in members + extra}
        score, weights = blended(members, cached, args.alpha)
        for name, weight in zip(members, weights[1:]):
            c = cached[name]
            print(f"| {fold} | {name} | {rmse(c['test'], c['test_ratings']):.4f} | "
                  f"{weight:.3f} | {float(c['carve_seconds']):.1f} + "
                  f"{float(c['test_seconds']):.1f} |")
        print(f"| {fold} | blend (intercept {weights[0]:.3f}, alpha {args.alpha:g}) | "
              f"{score:.4f} | | |")
        if extra:
            pool = members + extra
            subsets = [s for k in range(1, len(pool) + 1)
                       for s in itertools.combinations(pool, k)]
            ranked = sorted((blended(list(s), cached, args.alpha)[0], s) for s in subsets)
            print(f"\nbest subsets on {fold} (ranked by the test RMSE itself):")
            for score, subset in ranked[:8]:
                print(f"  {score:.4f}  {', '.join(subset)}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
