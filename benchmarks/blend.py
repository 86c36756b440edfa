"""Does a least-squares blend of rating models beat the best of them? ml-100k official folds.

    python benchmarks/blend.py --data-dir ../shared/data --folds u1 [--alpha 1.0]

The ``blend`` model (``--preset best``) does this as a model; this script
keeps the members' own test RMSEs beside the blend's.

For each fold: the members (the ``bayes`` preset's Bayesian FM, ``autorec`` and
``mf-bias`` with their defaults) are fitted on 90 % of the fold's training part
and predict the other 10 % (the carve-out, seeded by ``--seed``); blend weights
``w`` (with an intercept) solve the ridge problem

    min_w ||y - [1, P] w||² + alpha ||w_1..k||²

over the carve-out's ratings ``y`` and member predictions ``P`` (unclipped);
the members are then refitted on all of the training part and the blend
``[1, P_test] w``, clipped to 1..5, is scored on the fold's test part, which
neither the weights nor the members saw. Prints one row per member and the
blend, per fold, with seconds (fits on the carve-out and on all of train), and
the load average.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from embrec.data.align import align_ratings
from embrec.data.datasets import load_dataset
from embrec.data.splits import holdout_validation, make_split
from embrec.training.fit import fit

MEMBERS = {
    "bfm (--preset bayes)": {"preset": "bayes"},
    "autorec": {"model": "autorec"},
    "mf-bias": {"model": "mf-bias"},
}


def member_predictions(train, target, seed):
    """Each member fitted on ``train``: unclipped predictions for ``target`` and seconds."""
    target = align_ratings(target, train).ratings
    columns, seconds = [], {}
    for name, options in MEMBERS.items():
        started = time.perf_counter()
        trained = fit(train, verbose=False, seed=seed, **options)
        raw, _ = trained.predictor.predict(target.users, target.items, clip=False)
        columns.append(raw.astype(np.float64))
        seconds[name] = time.perf_counter() - started
    return np.column_stack(columns), target.values.astype(np.float64), seconds


def ridge_weights(predictions, ratings, alpha):
    """Intercept and member weights of the ridge blend (the intercept is not penalised)."""
    design = np.column_stack([np.ones(len(ratings)), predictions])
    penalty = alpha * np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    return np.linalg.solve(design.T @ design + penalty, design.T @ ratings)


def rmse(predicted, ratings):
    return float(np.sqrt(np.mean((np.clip(predicted, 1.0, 5.0) - ratings) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--folds", default="u1", help="comma-separated: u1,u2,...")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ratings = load_dataset("ml-100k", args.data_dir)
    print(f"load average at start: {os.getloadavg()}")
    print("| fold | model | test RMSE | weight | seconds (carve-out fit + full fit) |")
    print("| --- | --- | --- | --- | --- |")
    for fold in args.folds.split(","):
        split = make_split(ratings, fold, data_dir=args.data_dir)
        part = holdout_validation(split.train, 0.1, args.seed)
        carve_p, carve_y, carve_s = member_predictions(part.train, part.test, args.seed)
        weights = ridge_weights(carve_p, carve_y, args.alpha)
        test_p, test_y, full_s = member_predictions(split.train, split.test, args.seed)
        for j, name in enumerate(MEMBERS):
            print(f"| {fold} | {name} | {rmse(test_p[:, j], test_y):.4f} | {weights[j + 1]:.3f} "
                  f"| {carve_s[name]:.1f} + {full_s[name]:.1f} |")
        blended = np.column_stack([np.ones(len(test_y)), test_p]) @ weights
        total = sum(carve_s.values()) + sum(full_s.values())
        print(f"| {fold} | blend (intercept {weights[0]:.3f}, alpha {args.alpha:g}) | "
              f"{rmse(blended, test_y):.4f} | | {total:.1f} in all |")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
