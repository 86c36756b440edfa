"""How to order top-N lists: candidate scorers on a carve-out of train and on the test folds.

    PYTHONPATH=src .venv/bin/python benchmarks/ranking_scorers.py [--folds u1,u2,u3,u4,u5]

For each fold, a seeded 20 % of the training ratings is carved out; every scorer
is fitted on the rest and scored on the carve-out (the choice is made here), then
refitted on the whole training fold and scored on the test fold (reported beside
it). The protocol is :mod:`embrec.ranking_protocol` (k = 10, relevant >= 4).
Scorers: popularity; the predicted rating of ``mf-bias`` (default solver); EASE
(lambda from its own carve-out grid); and EASE pick score x liking^a for
a = 0.5, 1, 2 (:mod:`embrec.recommend.ranking_scorer`);
Mult-DAE (:mod:`embrec.models.multdae`) alone and x liking (``--no-dae`` skips
it); and EASE x liking divided by ``n_i^b``, ``n_i`` the item's training ratings,
for b = 0.1, 0.25, 0.5 (popularity debiasing: Steck, "Item popularity and
recommendation accuracy", RecSys 2011; not adopted, see
:mod:`embrec.recommend.ranking_scorer`). a = 1, undivided, is the default.
Prints mean NDCG@10 / precision@10 / coverage@10 per scorer and one JSON line.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from embrec.data.datasets import load_dataset
from embrec.data.splits import holdout_validation, make_split
from embrec.models.ease import fit_ease
from embrec.models.multdae import fit_mult_dae
from embrec.ranking_protocol import evaluate_ranking, popularity_scorer
from embrec.recommend.ranking_scorer import liking
from embrec.training.fit import fit

EXPONENTS = (0.5, 1.0, 2.0)
DEBIAS = (0.1, 0.25, 0.5)


def scorers(train, with_dae: bool = True) -> dict:
    rating = fit(train, "mf-bias").predictor.score_users
    ease = fit_ease(train).scorer(train)
    counts = np.maximum(train.item_counts(), 1).astype(np.float64)

    def blend(pick, power: float):
        def score(users: np.ndarray) -> np.ndarray:
            return np.maximum(pick(users), 0) * liking(rating(users), train.scale) ** power
        return score

    out = {"popularity": popularity_scorer(train), "predicted rating": rating, "ease": ease}
    out.update({f"ease x liking^{a:g}": blend(ease, a) for a in EXPONENTS})

    def debiased(power: float):
        liked = blend(ease, 1.0)
        return lambda users: liked(users) / counts[None, :] ** power

    out.update({f"ease x liking / n^{b:g}": debiased(b) for b in DEBIAS})
    if with_dae:
        dae = fit_mult_dae(train).scorer(train)
        out.update({"mult-dae": dae, "mult-dae x liking^1": blend(dae, 1.0)})
    return out


def measure(train, test, with_dae: bool = True) -> dict[str, tuple[float, float, float]]:
    results = {}
    for name, scorer in scorers(train, with_dae).items():
        result = evaluate_ranking(scorer, train, test, k=10)
        results[name] = (result.ndcg, result.precision, result.coverage)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--folds", default="u1,u2,u3,u4,u5")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-dae", action="store_true", help="leave Mult-DAE out")
    args = parser.parse_args()
    ratings = load_dataset(args.dataset, args.data_dir)
    table: dict[str, dict[str, list]] = {"carve-out": {}, "test": {}}
    for fold in args.folds.split(","):
        split = make_split(ratings, fold, data_dir=args.data_dir, seed=args.seed)
        carved = holdout_validation(split.train, 0.2, args.seed)
        for where, (train, test) in (("carve-out", (carved.train, carved.test)),
                                     ("test", (split.train, split.test))):
            for name, values in measure(train, test, not args.no_dae).items():
                table[where].setdefault(name, []).append(values)
        print(f"{fold} done", flush=True)
    summary = {}
    for where, rows in table.items():
        print(f"\n{args.dataset} {args.folds}, {where}: mean NDCG@10, precision@10, coverage@10")
        summary[where] = {}
        for name, values in rows.items():
            mean = np.mean(values, axis=0)
            summary[where][name] = [round(float(v), 4) for v in mean]
            print(f"  {name:20s} {mean[0]:.4f}  {mean[1]:.4f}  {mean[2]:.4f}")
    print(json.dumps({"dataset": args.dataset, "fingerprint": ratings.fingerprint(),
                      "folds": args.folds, "seed": args.seed, "means": summary}))


if __name__ == "__main__":
    main()
