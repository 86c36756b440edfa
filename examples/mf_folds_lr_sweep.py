"""Matrix factorisation with and without biases, five folds, a learning-rate sweep.

The experiment: the MovieLens 10M write-ups that train a dot-product model
(``mf``: r̂ = p_u · q_i) and one with biases (``mf-bias``: r̂ = lo + (hi - lo) ·
σ(p_u · q_i + b_u + b_i)) on the five official folds ``r1``..``r5`` that
``split_ratings.sh`` makes, for the learning rates 0.001, 0.01 and 0.1, report
the fold x learning-rate table, and list the top-5 unseen movies for some users
of the last fold. The write-up's test losses were 1.7 to 2.6.

Why so high: ``ratings.dat`` is sorted by user and ``split_ratings.sh`` cuts it
into five blocks of lines, so each ``rK.test`` holds whole users who never
appear in ``rK.train``. Every test user is cold: a model knows nothing about
them but what it learned about the movies. This script prints the split report
(cold users per fold) before training, and ``ra``/``rb`` beside it, which hold
out ten ratings of every user and have no cold users. embrec predicts a cold
user's ratings with the baseline (mean + movie bias), not with an untrained
embedding, so its numbers on r1..r5 measure that baseline.

Data: ml-10m's ``ratings.dat`` in ``DATA_DIR/ml-10M100K/`` (the folds are read
from ``rK.train``/``rK.test`` when present, else derived from the file order).
Without it, the script runs on ml-100k's official folds ``u1``..``u5`` as a
stand-in, and says so; ``u.data`` is not sorted by user, so those folds have no
cold users.

Run::

    .venv/bin/python examples/mf_folds_lr_sweep.py [--quick] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

import embrec
from embrec.data.datasets import locate_dataset
from embrec.evaluation import sweep
from embrec.recommend import recommend, recommend_for_ratings

LEARNING_RATES = [0.001, 0.01, 0.1]
ORIGINAL = "test losses 1.7 to 2.6 (ml-10m r1..r5, where every test user is cold)"


def load(data_dir: str | None) -> tuple[embrec.Ratings, str]:
    """ml-10m with its folds r1..r5 when its ratings.dat is there, else ml-100k's u1..u5."""
    if locate_dataset("ml-10m", data_dir) is not None:
        return embrec.load_dataset("ml-10m", data_dir, download=False), "r"
    print("ml-10m: no ratings.dat found (looked in DATA_DIR/ml-10M100K/ and the cache).\n"
          "STAND-IN: running on ml-100k and its official folds u1..u5 instead; the fold x "
          "learning-rate tables below are ml-100k's, not ml-10m's.\n")
    return embrec.load_dataset("ml-100k", data_dir), "u"


def split_report(ratings: embrec.Ratings, prefix: str, data_dir: str | None) -> None:
    """Sizes and cold test users of the block folds and of the two per-user folds."""
    rows = []
    for name in [f"{prefix}{k}" for k in range(1, 6)] + [f"{prefix}a", f"{prefix}b"]:
        report = embrec.make_split(ratings, name, data_dir=data_dir).report()
        rows.append({
            "fold": name,
            "train": report["n_train"],
            "test": report["n_test"],
            "test users": report["test_users"],
            "cold users": report["cold_users"],
            "cold %": round(100 * report["cold_users"] / max(1, report["test_users"]), 1),
            "test ratings, user or item cold": report["cold_test_ratings"],
        })
    table = pd.DataFrame(rows).set_index("fold")
    print("Split report (cold = a test user with no rating in the fold's train part)")
    print(table.to_string())
    blocks = table.iloc[:5]
    share = blocks["cold users"].sum() / max(1, blocks["test users"].sum())
    if share > 0.5:
        print(f"\nWARNING: {100 * share:.0f}% of the test users of {prefix}1..{prefix}5 are cold. "
              "The rating file is sorted by user and each fold's test part is a block of its "
              "lines, so it holds whole users the model never saw. Scores on these folds "
              "measure cold-start prediction (here: the baseline), not matrix factorisation; "
              f"{prefix}a/{prefix}b (ten held-out ratings per user) have "
              f"{int(table.loc[[prefix + 'a', prefix + 'b'], 'cold users'].sum())} cold users.")
    else:
        print(f"\n{prefix}1..{prefix}5: {int(blocks['cold users'].sum())} cold test users in all "
              "(the rating file is not sorted by user, so each block mixes all users).")


def run_sweep(ratings: embrec.Ratings, model: str, folds: list[str], results: Path,
              data_dir: str | None, fixed: dict, workers: int | None) -> tuple[float, float]:
    """Sweep the learning rate over the folds; print the table; return (best lr, its RMSE)."""
    result = sweep(ratings, model, {"lr": LEARNING_RATES}, folds=folds, results_path=results,
                   data_dir=data_dir, seed=0, workers=workers, baseline=True, solver="torch",
                   **fixed)
    table = result.table("rmse")
    print(f"\n{model}: test RMSE per fold and learning rate")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    baseline = result.baseline_rows()["rmse"].mean()
    best, best_rmse = result.best("rmse")
    print(f"best: lr={best['lr']:g}, mean RMSE {best_rmse:.4f} "
          f"(baseline, mean + biases: {baseline:.4f})")
    return float(best["lr"]), best_rmse


def top5_for_last_fold(ratings: embrec.Ratings, fold: str, lr: float, data_dir: str | None,
                       fixed: dict, n_users: int = 3) -> None:
    """Refit mf-bias on the last fold and list five unseen movies for a few of its test users."""
    split = embrec.make_split(ratings, fold, data_dir=data_dir)
    model = embrec.fit(split.train, "mf-bias", test=split.test, solver="torch", lr=lr, seed=0,
                       verbose=False, **fixed)
    print(f"\nTop-5 unseen movies, mf-bias (lr={lr:g}) fitted on {fold}'s train part "
          f"(test RMSE {model.metrics['test_rmse']:.4f})")
    train_counts = split.train.user_counts()
    for user in sorted(set(split.test.users.tolist()))[:n_users]:
        raw_user = split.test.user_ids.to_raw([user])[0]
        mine = split.test.users == user
        held_out = dict(zip(split.test.item_ids.to_raw(split.test.items[mine]).tolist(),
                            split.test.values[mine].tolist()))
        if train_counts[user] > 0:
            picks = recommend(model, raw_user, n=5)
            how = f"known user, {train_counts[user]} training ratings"
        else:
            given = dict(list(held_out.items())[:10])
            picks = recommend_for_ratings(model, given, n=5)
            how = f"cold user, folded in from {len(given)} of their test ratings"
        print(f"user {raw_user} ({how}; {len(held_out)} test ratings):")
        for item, title, score in zip(picks.item_ids, picks.titles, picks.scores):
            actual = held_out.get(item)
            note = f"   (rated {actual:g} in the test part)" if actual is not None else ""
            print(f"  {score:.2f}  {title}{note}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 folds, 1 epoch, one thread (a smoke test)")
    parser.add_argument("--data-dir", default=os.environ.get("EMBREC_DATA_DIR"),
                        help="folder holding ml-10M100K/ or ml-100k/ (default: $EMBREC_DATA_DIR)")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel fits (default: one per core; 1 with --quick)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    ratings, prefix = load(args.data_dir)
    print(repr(ratings))
    split_report(ratings, prefix, args.data_dir)

    folds = [f"{prefix}{k}" for k in range(1, 3 if args.quick else 6)]
    fixed = {"epochs": 1, "threads": 1} if args.quick else {"epochs": 5}
    workers = 1 if args.quick else args.workers
    print(f"\nSweep: {', '.join(folds)} x lr {LEARNING_RATES}; epochs {fixed['epochs']}, "
          "one-cycle, AdamW, weight decay 0.1, batches of 1024, 50 factors")
    with tempfile.TemporaryDirectory(prefix="embrec-sweep-") as folder:
        results = Path(folder) / "sweep.csv"
        best_mf = run_sweep(ratings, "mf", folds, results, args.data_dir, fixed, workers)
        best_bias = run_sweep(ratings, "mf-bias", folds, results, args.data_dir, fixed, workers)
    top5_for_last_fold(ratings, folds[-1], best_bias[0], args.data_dir, fixed)

    where = f"{ratings.name} {folds[0]}..{folds[-1]}"
    if prefix == "u":
        where += ", the stand-in for ml-10m"
    print(f"embrec: best mean RMSE mf {best_mf[1]:.3f} (lr {best_mf[0]:g}), mf-bias "
          f"{best_bias[1]:.3f} (lr {best_bias[0]:g}) on {where} | original: {ORIGINAL}")


if __name__ == "__main__":
    try:
        main()
    except embrec.EmbrecError as error:
        sys.exit(f"error: {error}")
