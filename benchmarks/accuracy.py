"""Accuracy side by side: embrec and the classic peers on the official ml-100k folds.

    python benchmarks/accuracy.py --data-dir ../shared/data [--markdown docs/table.md]

One command, one run, the same five folds ``u1.base/u1.test .. u5.base/u5.test``
read from the data directory for everyone:

* peers, in their own virtual environment ``benchmarks/peers/.venv`` (made by
  ``benchmarks/peers/setup.sh``; never a dependency of embrec): Surprise
  ``BaselineOnly``, ``SVD``, ``SVDpp`` and ``KNNBaseline`` (item-based,
  ``pearson_baseline``), LensKit's biased ALS and Cornac's ``MF``, each with its
  library's defaults (seeded). This file runs itself there with ``--peer``,
  importing nothing from embrec, and reports one JSON line per method and fold.
* embrec: ``baseline``, ``mf-bias`` (its defaults), the ``fast`` preset,
  ``autorec`` (its defaults), the ``bayes`` preset (the Bayesian FM) and the
  ``best`` preset (the blend of the Bayesian FM, autorec and mf-bias), through
  :func:`embrec.evaluation.crossval.cross_validate`.

Every prediction is clipped to 1..5; a pair a method cannot score (a user or
item without training ratings) gets that method's own fallback (Surprise's
default estimate, the global mean for LensKit and Cornac, the baseline for
embrec). The table: method | mean RMSE u1..u5 | RMSE u1 | mean MAE | fit
seconds per fold | predict seconds per fold. embrec fits two folds at once on
two cores (one core each, the ``embrec cv`` default); the peers fit one fold
after another and may use both cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PEERS_PYTHON = HERE / "peers" / ".venv" / "bin" / "python"
FOLDS = ("u1", "u2", "u3", "u4", "u5")
PEER_METHODS = ("Surprise BaselineOnly", "Surprise SVD", "Surprise SVD++",
                "Surprise KNNBaseline", "LensKit biased ALS", "Cornac MF")
EMBREC_ROWS = ("baseline", "mf-bias", "preset fast", "autorec", "preset bayes", "preset best")


def read_fold(folder: Path, name: str) -> np.ndarray:
    """``user, item, rating, timestamp`` rows of an official fold file."""
    return np.loadtxt(folder / name, dtype=np.int64, delimiter="\t", ndmin=2)


# -- peers (run inside the peers' environment) -----------------------------------------


def surprise_method(name: str, train: np.ndarray, test: np.ndarray) -> tuple:
    import pandas as pd
    from surprise import SVD, BaselineOnly, Dataset, KNNBaseline, Reader, SVDpp

    frame = pd.DataFrame(train[:, :3], columns=["user", "item", "rating"])
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()
    algorithm = {
        "Surprise BaselineOnly": lambda: BaselineOnly(verbose=False),
        "Surprise SVD": lambda: SVD(random_state=0),
        "Surprise SVD++": lambda: SVDpp(random_state=0),
        "Surprise KNNBaseline": lambda: KNNBaseline(
            sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False),
    }[name]()
    started = time.perf_counter()
    algorithm.fit(trainset)
    fitted = time.perf_counter()
    predicted = np.array([algorithm.predict(u, i).est for u, i in test[:, :2].tolist()])
    return predicted, fitted - started, time.perf_counter() - fitted


def lenskit_method(train: np.ndarray, test: np.ndarray) -> tuple:
    import pandas as pd
    from lenskit.als import BiasedMFScorer
    from lenskit.data import ItemList, from_interactions_df
    from lenskit.training import TrainingOptions

    frame = pd.DataFrame(train[:, :3], columns=["user_id", "item_id", "rating"])
    started = time.perf_counter()
    model = BiasedMFScorer()
    model.train(from_interactions_df(frame), TrainingOptions(rng=0))
    fitted = time.perf_counter()
    mean = float(train[:, 2].mean())
    predicted = np.full(len(test), mean)
    for user in np.unique(test[:, 0]):
        rows = np.flatnonzero(test[:, 0] == user)
        scores = model(query=int(user), items=ItemList(item_ids=test[rows, 1])).scores()
        if scores is not None:
            predicted[rows] = np.where(np.isfinite(scores), scores, mean)
    return predicted, fitted - started, time.perf_counter() - fitted


def cornac_method(train: np.ndarray, test: np.ndarray) -> tuple:
    import cornac

    triples = [(str(u), str(i), float(r)) for u, i, r in train[:, :3].tolist()]
    started = time.perf_counter()
    data = cornac.data.Dataset.from_uir(triples, seed=0)
    model = cornac.models.MF(k=10, max_iter=25, learning_rate=0.01, lambda_reg=0.02,
                             use_bias=True, early_stop=False, seed=0, verbose=False)
    model.fit(data)
    fitted = time.perf_counter()
    users = np.array([data.uid_map.get(str(u), -1) for u in test[:, 0].tolist()])
    items = np.array([data.iid_map.get(str(i), -1) for i in test[:, 1].tolist()])
    u, i = np.maximum(users, 0), np.maximum(items, 0)
    both = (users >= 0) & (items >= 0)
    dot = np.einsum("nk,nk->n", model.u_factors[u], model.i_factors[i])
    predicted = np.where(
        both, model.global_mean + model.u_biases[u] + model.i_biases[i] + dot,
        model.global_mean + np.where(users >= 0, model.u_biases[u], 0.0)
        + np.where(items >= 0, model.i_biases[i], 0.0))
    return predicted, fitted - started, time.perf_counter() - fitted


def peer_worker(folder: Path, methods: list[str]) -> None:
    """Fit and score each method on each official fold; one JSON line per (method, fold)."""
    for method in methods:
        for fold in FOLDS:
            train, test = read_fold(folder, f"{fold}.base"), read_fold(folder, f"{fold}.test")
            if method.startswith("Surprise"):
                predicted, fit_s, predict_s = surprise_method(method, train, test)
            elif method.startswith("LensKit"):
                predicted, fit_s, predict_s = lenskit_method(train, test)
            else:
                predicted, fit_s, predict_s = cornac_method(train, test)
            error = np.clip(predicted, 1, 5) - test[:, 2]
            print(json.dumps({"method": method, "fold": fold,
                              "rmse": float(np.sqrt(np.mean(error**2))),
                              "mae": float(np.mean(np.abs(error))),
                              "fit_seconds": fit_s, "predict_seconds": predict_s}), flush=True)


def run_peers(python: Path, folder: Path, methods: list[str]) -> list[dict]:
    if not python.exists():
        print(f"peers skipped: {python} not found; run benchmarks/peers/setup.sh", file=sys.stderr)
        return []
    command = [str(python), str(Path(__file__).resolve()), "--peer", "--data-dir",
               str(folder.parent), "--methods", ",".join(methods)]
    records = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        for line in process.stdout:
            record = json.loads(line)
            print(f"  {record['method']} {record['fold']}: RMSE {record['rmse']:.4f} "
                  f"(fit {record['fit_seconds']:.1f} s)", flush=True)
            records.append(record)
    return records


# -- embrec ----------------------------------------------------------------------------


def embrec_setups() -> dict[str, tuple[str, str | None, dict]]:
    from embrec.presets import get_preset

    fast, bayes, best = get_preset("fast"), get_preset("bayes"), get_preset("best")
    return {
        "baseline": ("baseline", None, {}),
        "mf-bias": ("mf-bias", None, {}),
        "preset fast": (fast.model, fast.solver, dict(fast.hyperparameters)),
        "autorec": ("autorec", None, {}),
        "preset bayes": (bayes.model, bayes.solver, dict(bayes.hyperparameters)),
        "preset best": (best.model, best.solver, dict(best.hyperparameters)),
        "bfm, no side information": (bayes.model, bayes.solver,
                                     {**bayes.hyperparameters, "side": False}),
    }


def run_embrec(data_dir: Path, rows: list[str], workers: int | None) -> list[dict]:
    from embrec.data.datasets import load_dataset
    from embrec.evaluation.crossval import cross_validate

    ratings = load_dataset("ml-100k", data_dir=data_dir)
    setups = embrec_setups()
    records = []
    for row in rows:
        model, solver, hyper = setups[row]
        name = f"embrec {row}" + (f" ({model})" if row.startswith("preset") else "")
        result = cross_validate(ratings, model, "official", data_dir=data_dir, solver=solver,
                                workers=workers, **hyper)
        for fold in result.folds:
            records.append({"method": name, "fold": fold.fold, "rmse": fold.rmse,
                            "mae": fold.mae, "fit_seconds": fold.fit_seconds,
                            "predict_seconds": fold.predict_seconds})
        print(f"  {name}: mean RMSE {result.rmse_mean:.4f}", flush=True)
    return records


# -- the table -------------------------------------------------------------------------


def summarise(records: list[dict]) -> list[dict]:
    rows: dict[str, list[dict]] = {}
    for record in records:
        rows.setdefault(record["method"], []).append(record)
    out = []
    for method, folds in rows.items():
        by_fold = {f["fold"]: f for f in folds}
        out.append({
            "method": method,
            "rmse_mean": float(np.mean([f["rmse"] for f in folds])),
            "rmse_u1": by_fold["u1"]["rmse"] if "u1" in by_fold else float("nan"),
            "mae_mean": float(np.mean([f["mae"] for f in folds])),
            "fit_seconds": float(np.mean([f["fit_seconds"] for f in folds])),
            "predict_seconds": float(np.mean([f["predict_seconds"] for f in folds])),
            "folds": {f["fold"]: round(f["rmse"], 4) for f in folds},
        })
    return sorted(out, key=lambda r: -r["rmse_mean"])


def markdown(rows: list[dict]) -> str:
    lines = ["| method | mean RMSE u1..u5 | RMSE u1 | MAE | fit s / fold | predict s / fold |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['rmse_mean']:.4f} | {r['rmse_u1']:.4f} | "
                     f"{r['mae_mean']:.4f} | {r['fit_seconds']:.2f} | {r['predict_seconds']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="folder holding ml-100k/ with u1.base .. u5.test")
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--methods", default=",".join(PEER_METHODS),
                        help="peer methods, comma separated ('' for none)")
    parser.add_argument("--rows", default=",".join(EMBREC_ROWS),
                        help="embrec rows, comma separated ('' for none); also: "
                             "'bfm, no side information'")
    parser.add_argument("--peers-python", type=Path, default=PEERS_PYTHON)
    parser.add_argument("--workers", type=int, default=None, help="embrec cv workers")
    parser.add_argument("--json", type=Path, help="also write every fold's scores here")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    folder = args.data_dir / "ml-100k"
    methods = [m for m in args.methods.split(",") if m]
    if args.peer:
        peer_worker(folder, methods)
        return
    started = time.perf_counter()
    records = run_peers(args.peers_python, folder, methods) if methods else []
    rows = [r.strip() for r in args.rows.split(";" if ";" in args.rows else ",") if r.strip()]
    records += run_embrec(args.data_dir, rows, args.workers) if rows else []
    table = markdown(summarise(records))
    header = (f"ml-100k official folds u1..u5, measured {date.today().isoformat()} on "
              f"{platform.machine()} with 2 cores ({time.perf_counter() - started:.0f} s in all)")
    print(f"\n{header}\n\n{table}")
    if args.markdown:
        args.markdown.write_text(f"{header}\n\n{table}\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"header": header, "folds": records,
                                         "rows": summarise(records)}, indent=1))


if __name__ == "__main__":
    main()
