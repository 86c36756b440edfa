"""Do an item's nearest items make sense? Held-out co-rating of the neighbours, per item space.

    PYTHONPATH=src .venv/bin/python benchmarks/similar_items.py --data-dir ../shared/data

For one split (ml-100k u1, and ml-latest-small random 20 %, seed 0) the models
are trained on the training part only, with their defaults: ``mf-bias`` with
the default ranking model (EASE), and ``embnet``. Each item space gives every item its ``n = 10``
nearest items (``similar_items``, items with at least ``--min-ratings`` training
ratings), and the proxy is measured on the test part, which no space saw. With
``T_u`` the items user ``u`` rated in test and ``N(i)`` the neighbours of ``i``::

    co-rated@10 = mean over (u, i in T_u) of |N(i) ∩ T_u| / 10

the share of an item's neighbours that the people who (later) rated the item
also rated. Popular neighbours are co-rated by anyone, so the lift divides it by
what the same neighbours would score by chance, each user ``u`` rating each item
``j`` with probability ``d_u d_j / D`` (``d`` the numbers of test ratings, ``D``
their total, so active users and popular items count as they are)::

    lift = co-rated@10 / (mean over (u, i in T_u) of sum_{j in N(i)} d_u d_j / D / 10)

About 1 for neighbours unrelated to the item; above it, neighbours that the
item's own raters pick more than chance.
The spaces: EASE's item-item weights (what ``similar`` uses when a
bundle has a ranking model), the cosine of ``mf-bias``'s item factors, the
cosine of ``embnet``'s item embeddings (its input layer), and two references:
the ten most-rated items for every item (popularity) and ten random items.
Prints a table, *The Matrix*'s (or *Star Wars*') neighbours in each space, and
one JSON line with the config, seeds and data fingerprints.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import scipy.sparse as sp

from embrec.data.datasets import load_dataset
from embrec.data.splits import make_split
from embrec.recommend.similar import similar_items
from embrec.training.fit import fit

K = 10
SPLITS = {"ml-100k": "u1", "ml-latest-small": "random:0.2"}
EXAMPLES = {"ml-100k": "Star Wars (1977)", "ml-latest-small": "Matrix, The (1999)"}


def neighbour_matrix(model, items: np.ndarray, space: str, min_ratings: int) -> sp.csr_matrix:
    """``n_items x n_items`` 0/1: row ``i`` marks the ``K`` nearest items of ``i`` in ``space``."""
    raw = model.item_ids.to_raw(items)
    index = {value: position for position, value in enumerate(model.item_ids.to_raw(
        np.arange(model.train.n_items)))}
    rows, cols = [], []
    for item, raw_id in zip(items, raw):
        found = similar_items(model, raw_id, n=K, min_ratings=min_ratings, space=space)
        for other in found.item_ids:
            rows.append(item)
            cols.append(index[other])
    n = model.train.n_items
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def fixed_neighbours(chosen: np.ndarray, items: np.ndarray, n: int, rng=None) -> sp.csr_matrix:
    """Every item's neighbours are ``chosen`` (or ``K`` random items when ``rng`` is given)."""
    rows, cols = [], []
    for item in items:
        picks = rng.choice(chosen, K + 1, replace=False) if rng is not None else chosen[: K + 1]
        picks = [p for p in picks if p != item][:K]
        rows.extend([item] * len(picks))
        cols.extend(picks)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def co_rated(test, neighbours: sp.csr_matrix) -> tuple[float, float]:
    """``co-rated@10`` and its lift over chance (module docstring)."""
    known = (test.users >= 0) & (test.items >= 0)
    shape = (test.n_users, neighbours.shape[0])
    seen = sp.csr_matrix((np.ones(int(known.sum())), (test.users[known], test.items[known])),
                         shape=shape)
    seen.data[:] = 1.0
    hits = (seen @ neighbours.T).multiply(seen)
    score = float(hits.sum() / (K * seen.nnz))
    user_degree = np.asarray(seen.sum(axis=1)).ravel()
    item_degree = np.asarray(seen.sum(axis=0)).ravel()
    # Chance: u rated j with probability d_u d_j / nnz, whatever u's other items.
    raters_activity = seen.T @ user_degree
    expected = float(raters_activity @ (neighbours @ item_degree)) / seen.nnz
    return score, score / (expected / (K * seen.nnz))


def example(model, title: str, space: str, min_ratings: int) -> str:
    found = similar_items(model, title, n=3, min_ratings=min_ratings, space=space)
    return "; ".join(f"{t} ({s:.2f})" for t, s in zip(found.titles, found.similarities))


def run(dataset: str, data_dir: str | None, seed: int, min_ratings: int) -> dict:
    ratings = load_dataset(dataset, data_dir)
    split = make_split(ratings, SPLITS[dataset], seed=seed, data_dir=data_dir)
    started = time.perf_counter()
    models = {
        "mf-bias": fit(split.train, "mf-bias", seed=seed, ranker="ease", verbose=False),
        "embnet": fit(split.train, "embnet", seed=seed, verbose=False),
    }
    fit_seconds = time.perf_counter() - started
    test = split.test
    known = (test.users >= 0) & (test.items >= 0)
    items = np.unique(test.items[known])
    counts = split.train.item_counts()
    items = items[counts[items] >= min_ratings]
    n = split.train.n_items
    eligible = np.flatnonzero(counts >= min_ratings)
    popular = eligible[np.argsort(-counts[eligible], kind="stable")]
    spaces = {
        "EASE item-item weights (similar's default)": (models["mf-bias"], "ranking"),
        "mf-bias item factors, cosine": (models["mf-bias"], "rating"),
        "embnet item embeddings, cosine": (models["embnet"], "rating"),
    }
    rows = {}
    for label, (model, space) in spaces.items():
        started = time.perf_counter()
        score, lift = co_rated(test, neighbour_matrix(model, items, space, min_ratings))
        rows[label] = {"co_rated_at_10": round(score, 4), "lift": round(lift, 2),
                       "seconds": round(time.perf_counter() - started, 1),
                       "example": example(model, EXAMPLES[dataset], space, min_ratings)}
    rng = np.random.default_rng(seed)
    references = {"most-rated items (reference)": fixed_neighbours(popular, items, n),
                  "random items (reference)": fixed_neighbours(eligible, items, n, rng)}
    for label, neighbours in references.items():
        score, lift = co_rated(test, neighbours)
        rows[label] = {"co_rated_at_10": round(score, 4), "lift": round(lift, 2)}
    return {"dataset": dataset, "split": SPLITS[dataset], "seed": seed,
            "fingerprint": ratings.fingerprint(), "min_ratings": min_ratings, "k": K,
            "items_scored": int(len(items)), "fit_seconds": round(fit_seconds, 1),
            "models": "mf-bias (ranker ease) and embnet, defaults", "spaces": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--datasets", default="ml-100k,ml-latest-small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-ratings", type=int, default=5,
                        help="items with fewer training ratings are neither scored nor neighbours")
    args = parser.parse_args()
    for dataset in args.datasets.split(","):
        result = run(dataset, args.data_dir, args.seed, args.min_ratings)
        print(f"\n{dataset} {result['split']} (seed {args.seed}; {result['items_scored']} items "
              f"with >= {args.min_ratings} training ratings; load average "
              f"{os.getloadavg()[0]:.1f})")
        print(f"| item space | co-rated@{K} | lift |\n| --- | ---: | ---: |")
        for label, row in result["spaces"].items():
            print(f"| {label} | {row['co_rated_at_10']:.3f} | {row['lift']:.2f} |")
        print(f"\nnearest to {EXAMPLES[dataset]}:")
        for label, row in result["spaces"].items():
            if "example" in row:
                print(f"  {label}: {row['example']}")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
