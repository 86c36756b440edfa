"""Top-N quality beside the peers: precision/recall/NDCG/MAP/coverage@10 and fit seconds.

    PYTHONPATH=src .venv/bin/python benchmarks/ranking.py --data-dir ../shared/data \\
        [--datasets ml-100k,ml-latest-small] [--json benchmarks/results/ranking.json]

Splits: ml-100k's official folds u1..u5 (the table shows their mean) and
ml-latest-small with a random 20 % of its ratings held out (seed 0). Every method
is scored by one protocol, :func:`embrec.ranking_protocol.evaluate_ranking`:
candidates are the items a user did not rate in train, relevant items are the
test ratings >= 4, k = 10; ties go to the lower item index.

* embrec, in this process: the default recommendation scorer (``mf-bias`` with
  its defaults x EASE, :mod:`embrec.recommend.ranking_scorer`), EASE alone
  (lambda chosen on a carve-out of train), Mult-DAE alone and times the predicted
  rating, ``mf-bias``'s predicted rating alone, and the most popular items.
* peers, in their own virtual environment ``benchmarks/peers/.venv`` (made by
  ``benchmarks/peers/setup.sh``; never a dependency of embrec): implicit 0.7's
  ALS (64 factors, regularization 0.05, alpha 1, 15 iterations) and BPR
  (128 factors, learning rate 0.01, regularization 0.01, 100 iterations) on the
  0/1 matrix of who rated what, and LensKit's item-kNN (implicit feedback, 20
  neighbours) and implicit-feedback MF (ALS, 50 factors, its defaults otherwise).
  This file runs itself there with ``--peer``, importing nothing from embrec: it
  reads the training pairs (embrec's contiguous indices) from an ``.npz``, fits,
  and writes the full users x items score matrix back, which is scored here.

Fit seconds are per split, wall clock, training only (not scoring), on the
threads each library takes (embrec's default row counts the rating model and EASE
together).
Prints the table and writes every split's metrics, the settings, seeds, data
fingerprints, library versions and the load average to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PEERS_PYTHON = HERE / "peers" / ".venv" / "bin" / "python"
SPLITS = {"ml-100k": ("u1", "u2", "u3", "u4", "u5"), "ml-latest-small": ("random:0.2",)}
K = 10
RELEVANT_AT = 4.0
SEED = 0
PEER_SETTINGS = {
    "implicit ALS": {"factors": 64, "regularization": 0.05, "alpha": 1.0, "iterations": 15},
    "implicit BPR": {"factors": 128, "learning_rate": 0.01, "regularization": 0.01,
                     "iterations": 100},
    "LensKit item-kNN": {"max_nbrs": 20, "feedback": "implicit"},
    "LensKit implicit MF": {"embedding_size": 50},
}
METRICS = ("precision", "recall", "ndcg", "map", "coverage")


# -- peers (run inside the peers' environment) -----------------------------------------


def implicit_scores(method: str, users: np.ndarray, items: np.ndarray,
                    shape: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Scores of every (user, item) and the fit seconds of an implicit model."""
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    picks = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=shape)
    picks.data[:] = 1.0
    settings = PEER_SETTINGS[method]
    if method == "implicit ALS":
        model = AlternatingLeastSquares(**settings, random_state=SEED)
    else:
        model = BayesianPersonalizedRanking(**settings, random_state=SEED)
    started = time.perf_counter()
    model.fit(picks, show_progress=False)
    seconds = time.perf_counter() - started
    return np.asarray(model.user_factors @ model.item_factors.T, dtype=np.float32), seconds


def lenskit_scores(method: str, users: np.ndarray, items: np.ndarray,
                   shape: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Scores of every (user, item) and the fit seconds of a LensKit scorer.

    Each user is scored with their training items as the query's history (what
    item-kNN scores from); users without training items keep -inf.
    """
    import pandas as pd
    from lenskit.als import ImplicitMFScorer
    from lenskit.data import ItemList, RecQuery, from_interactions_df
    from lenskit.knn import ItemKNNScorer
    from lenskit.training import TrainingOptions

    frame = pd.DataFrame({"user_id": users, "item_id": items})
    data = from_interactions_df(frame)
    settings = PEER_SETTINGS[method]
    scorer = ItemKNNScorer(**settings) if method == "LensKit item-kNN" else ImplicitMFScorer(
        **settings)
    started = time.perf_counter()
    scorer.train(data, TrainingOptions(rng=SEED))
    seconds = time.perf_counter() - started
    all_items = ItemList(item_ids=np.arange(shape[1]))
    scores = np.full(shape, -np.inf, dtype=np.float32)
    order = np.argsort(users, kind="stable")
    starts = np.searchsorted(users[order], np.arange(shape[0] + 1))
    for user in np.unique(users):
        history = ItemList(item_ids=items[order[starts[user] : starts[user + 1]]])
        query = RecQuery(user_id=int(user), user_items=history)
        found = scorer(query=query, items=all_items).scores()
        if found is not None:
            scores[user] = np.where(np.isfinite(found), found, -np.inf)
    return scores, seconds


def peer_worker(method: str, pairs: Path, out: Path) -> None:
    """Fit ``method`` on the pairs in ``pairs``; write its score matrix to ``out``."""
    arrays = np.load(pairs, allow_pickle=False)
    users, items = arrays["users"], arrays["items"]
    shape = (int(arrays["n_users"]), int(arrays["n_items"]))
    fitter = implicit_scores if method.startswith("implicit") else lenskit_scores
    scores, seconds = fitter(method, users, items, shape)
    np.save(out, scores)
    print(json.dumps({"method": method, "seconds": seconds, "versions": peer_versions()}))


def peer_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("implicit", "lenskit", "numpy", "torch")}


def run_peer(python: Path, method: str, train) -> tuple[np.ndarray, dict]:
    """Scores and ``{"seconds", "versions"}`` of a peer method fitted on ``train``."""
    with tempfile.TemporaryDirectory() as folder:
        pairs, out = Path(folder) / "pairs.npz", Path(folder) / "scores.npy"
        np.savez(pairs, users=train.users, items=train.items,
                 n_users=train.n_users, n_items=train.n_items)
        command = [str(python), str(Path(__file__).resolve()), "--peer", method,
                   str(pairs), str(out)]
        # implicit asks for a single-threaded BLAS (its solvers run their own threads).
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        finished = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True,
                                  env=env)
        report = json.loads(finished.stdout.strip().splitlines()[-1])
        return np.load(out, allow_pickle=False), {"fit_seconds": report["seconds"],
                                                  "versions": report["versions"]}


# -- embrec ----------------------------------------------------------------------------


def embrec_scorers(train) -> dict[str, tuple]:
    """``name -> (score_users, fit seconds)`` for embrec's rows on one training part."""
    from embrec.models.ease import fit_ease
    from embrec.models.multdae import fit_mult_dae
    from embrec.ranking_protocol import popularity_scorer
    from embrec.recommend.ranking_scorer import pick_times_liking
    from embrec.training.fit import fit

    started = time.perf_counter()
    rating = fit(train, "mf-bias", verbose=False, seed=SEED).predictor.score_users
    rating_seconds = time.perf_counter() - started
    started = time.perf_counter()
    ease = fit_ease(train, seed=SEED).scorer(train)
    ease_seconds = time.perf_counter() - started
    started = time.perf_counter()
    dae = fit_mult_dae(train, seed=SEED).scorer(train)
    dae_seconds = time.perf_counter() - started

    def times_rating(pick):
        return lambda users: pick_times_liking(pick(users), rating(users), train.scale)

    return {
        "embrec default (mf-bias x EASE)": (times_rating(ease), rating_seconds + ease_seconds),
        "embrec EASE": (ease, ease_seconds),
        "embrec Mult-DAE": (dae, dae_seconds),
        "embrec Mult-DAE x mf-bias": (times_rating(dae), rating_seconds + dae_seconds),
        "embrec mf-bias predicted rating": (rating, rating_seconds),
        "most popular": (popularity_scorer(train), 0.0),
    }


def matrix_scorer(scores: np.ndarray):
    return lambda users: scores[np.asarray(users)]


def measure_split(dataset: str, spec: str, ratings, data_dir, peers: list[str],
                  python: Path) -> list[dict]:
    from embrec.data.splits import make_split
    from embrec.ranking_protocol import evaluate_ranking

    split = make_split(ratings, spec, data_dir=data_dir, seed=SEED)
    records = []

    def record(method: str, scorer, fit_seconds: float, **extra) -> None:
        result = evaluate_ranking(scorer, split.train, split.test, k=K, threshold=RELEVANT_AT)
        records.append({"dataset": dataset, "split": spec, "method": method,
                        "fit_seconds": round(fit_seconds, 3), **result.to_dict(), **extra})
        print(f"  {dataset} {spec} {method}: NDCG@10 {result.ndcg:.4f} "
              f"(fit {fit_seconds:.1f} s)", flush=True)

    for method, (scorer, seconds) in embrec_scorers(split.train).items():
        record(method, scorer, seconds)
    for method in peers:
        scores, report = run_peer(python, method, split.train)
        record(method, matrix_scorer(scores), report.pop("fit_seconds"),
               settings=PEER_SETTINGS[method], **report)
    return records


# -- the table -------------------------------------------------------------------------


def summarise(records: list[dict]) -> list[dict]:
    """Mean of each metric and of the fit seconds over a method's splits, per dataset."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for entry in records:
        groups.setdefault((entry["dataset"], entry["method"]), []).append(entry)
    rows = []
    for (dataset, method), entries in groups.items():
        row = {"dataset": dataset, "method": method, "splits": [e["split"] for e in entries]}
        for name in (*METRICS, "fit_seconds"):
            row[name] = round(float(np.mean([e[name] for e in entries])), 4)
        rows.append(row)
    return sorted(rows, key=lambda r: (r["dataset"], -r["ndcg"]))


def markdown(rows: list[dict]) -> str:
    lines = ["| data | method | precision@10 | recall@10 | NDCG@10 | MAP@10 | coverage@10 "
             "| fit s |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        split = "u1..u5" if len(r["splits"]) > 1 else r["splits"][0]
        lines.append(f"| {r['dataset']} {split} | {r['method']} | {r['precision']:.3f} | "
                     f"{r['recall']:.3f} | {r['ndcg']:.3f} | {r['map']:.3f} | "
                     f"{r['coverage']:.3f} | {r['fit_seconds']:.1f} |")
    return "\n".join(lines)


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", nargs=3, metavar=("METHOD", "PAIRS", "OUT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--datasets", default=",".join(SPLITS))
    parser.add_argument("--folds", default=None,
                        help="ml-100k folds, comma separated (default u1..u5)")
    parser.add_argument("--peers", default=",".join(PEER_SETTINGS),
                        help="peer methods, comma separated ('' for none)")
    parser.add_argument("--peers-python", type=Path, default=PEERS_PYTHON)
    parser.add_argument("--json", type=Path, help="also write every split's metrics here")
    args = parser.parse_args()
    if args.peer:
        peer_worker(args.peer[0], Path(args.peer[1]), Path(args.peer[2]))
        return

    from embrec.data.datasets import load_dataset

    peers = [m for m in args.peers.split(",") if m]
    if peers and not args.peers_python.exists():
        print(f"peers skipped: {args.peers_python} not found; run benchmarks/peers/setup.sh",
              file=sys.stderr)
        peers = []
    started = time.perf_counter()
    records, data = [], {}
    for dataset in args.datasets.split(","):
        ratings = load_dataset(dataset, data_dir=args.data_dir)
        splits = SPLITS[dataset]
        if dataset == "ml-100k" and args.folds:
            splits = tuple(args.folds.split(","))
        data[dataset] = {"fingerprint": ratings.fingerprint(), "n_ratings": len(ratings),
                         "n_users": ratings.n_users, "n_items": ratings.n_items,
                         "splits": list(splits)}
        for spec in splits:
            records += measure_split(dataset, spec, ratings, args.data_dir, peers,
                                     args.peers_python)
    rows = summarise(records)
    load = os.getloadavg()
    header = (f"k = {K}, relevant = test rating >= {RELEVANT_AT:g}, seed {SEED}; measured "
              f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()} with "
              f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
              f"at the end ({time.perf_counter() - started:.0f} s in all)")
    print(f"\n{header}\n\n{markdown(rows)}")
    if args.json:
        write_json(args.json, {
            "header": header, "k": K, "relevant_at": RELEVANT_AT, "seed": SEED,
            "data": data, "peer_settings": PEER_SETTINGS,
            "embrec_settings": {"rating model": "mf-bias with its defaults",
                                "ease": "lambda grid 100, 200, 400, 800 on a 20 % carve-out",
                                "mult-dae": "its defaults (600 tanh units, 35 epochs)"},
            "load_average": list(load), "rows": rows, "splits": records,
        })


if __name__ == "__main__":
    main()
