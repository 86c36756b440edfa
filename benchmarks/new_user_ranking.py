"""Top-N quality for brand-new users folded in from k ratings, against popularity.

    PYTHONPATH=src .venv/bin/python benchmarks/new_user_ranking.py [--dataset ml-100k]

100 users (seeded choice among those with at least 40 ratings) are held out
entirely; ``mf-bias`` with its ranking model (EASE, ``fit(..., ranker="ease")``)
is trained on the other users' ratings. A seeded permutation of each held-out
user's ratings gives the fold-in ratings (its first k, k = 5, 10, 20, nested) and
the evaluated ratings (everything after position 20, the same for every k).
NDCG@10 (relevant: evaluated ratings >= 4; the k given items are not candidates)
of:

* default: ``recommend_for_ratings`` (EASE pick score x folded-in predicted rating);
* ease: the EASE pick score alone (the user's row times the item-item matrix);
* predicted rating: the folded-in rating model alone;
* popularity: the most-rated training items.

Prints a table and one JSON line with the config, seed and data fingerprint.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from embrec.data.datasets import load_dataset
from embrec.data.ratings import Ratings
from embrec.recommend.engine import recommender_for
from embrec.training.fit import fit

KS = (5, 10, 20)
DISCOUNT = 1 / np.log2(np.arange(2, 12))


def ndcg_at_10(ranked: np.ndarray, relevant: set[int]) -> float:
    gains = sum(DISCOUNT[j] for j, item in enumerate(ranked[:10]) if int(item) in relevant)
    return gains / DISCOUNT[: min(10, len(relevant))].sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    ratings = load_dataset(args.dataset, args.data_dir)
    rng = np.random.default_rng(args.seed)
    eligible = np.flatnonzero(ratings.user_counts() >= 40)
    held = np.sort(rng.choice(eligible, size=min(args.users, len(eligible)), replace=False))
    keep = ~np.isin(ratings.users, held)
    train = Ratings(ratings.users[keep], ratings.items[keep], ratings.values[keep],
                    ratings.user_ids, ratings.item_ids, ratings.scale,
                    item_info=ratings.item_info, name=ratings.name)
    model = fit(train, "mf-bias", ranker="ease", seed=args.seed)
    recommender = recommender_for(model)
    popular = np.argsort(-train.item_counts(), kind="stable").astype(np.int64)

    scores: dict[str, dict[int, list[float]]] = {}
    for user in held:
        rows = rng.permutation(np.flatnonzero(ratings.users == user))
        rest = rows[max(KS):]
        relevant = set(ratings.items[rest][ratings.values[rest] >= 4].tolist())
        if not relevant:
            continue
        for k in KS:
            given = rows[:k]
            items, values = ratings.items[given].astype(np.int64), ratings.values[given]
            query = recommender.ratings_query(
                list(zip(ratings.item_ids.to_raw(items).tolist(), values.tolist()))
            )
            key, predicted, _, _ = recommender.score(query)
            pick = model.ranker.score_items(items)
            lists = {"default": key, "ease": pick, "predicted rating": predicted}
            for name, score in lists.items():
                score = np.array(score, dtype=np.float64)
                score[items] = -np.inf
                ranked = np.argsort(-score, kind="stable")
                scores.setdefault(name, {}).setdefault(k, []).append(ndcg_at_10(ranked, relevant))
            unseen = popular[~np.isin(popular, items)]
            scores.setdefault("popularity", {}).setdefault(k, []).append(
                ndcg_at_10(unseen, relevant)
            )

    print(f"{args.dataset}: {len(held)} held-out users, NDCG@10 on the ratings after the 20th")
    print(f"{'scorer':18s}" + "".join(f"{f'k={k}':>9s}" for k in KS))
    table = {}
    for name, by_k in scores.items():
        table[name] = {k: round(float(np.mean(v)), 4) for k, v in by_k.items()}
        print(f"{name:18s}" + "".join(f"{table[name][k]:9.4f}" for k in KS))
    print(json.dumps({"dataset": args.dataset, "fingerprint": ratings.fingerprint(),
                      "seed": args.seed, "held_out_users": int(len(held)),
                      "users_evaluated": len(next(iter(scores.values()))[KS[0]]),
                      "ranker": model.ranker.describe(), "ndcg_at_10": table}))


if __name__ == "__main__":
    main()
