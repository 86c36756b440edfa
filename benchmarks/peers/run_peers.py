"""Cornac MF and Surprise SVD timed on the data ``benchmarks/speed.py`` uses; myFM as its
MovieLens examples set it up.

Runs inside ``benchmarks/peers/.venv`` (see ``setup.sh``), never imports embrec:

    run_peers.py throughput LIBRARY THREADS DATA.npz FACTORS
    run_peers.py folds LIBRARY ML100K_FOLDER
    run_peers.py fit cornac TRAIN.npz TEST.npz REPEATS
    run_peers.py myfm EXAMPLE TRAIN.npz TEST.npz

prints one JSON line. Throughput is the per-epoch cost, taken as the difference
between fits of a few epochs and of one epoch (so set-up is not counted):
``ratings · (E₂ - E₁) / (t(E₂) - t(E₁))``. The folds task fits and predicts the
official ml-100k folds u1..u5 with each library's usual settings; the fit task
times Cornac's MF with those settings on one training file (median of REPEATS
fits) and scores it on the test file. The myfm task fits myFM on the training file
and scores the test file, with the features, rank and sweeps of one of its documented
MovieLens examples (``myfm_peer.py``).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def cornac_fit(triples: list[tuple[str, str, float]], threads: int, **options):
    import cornac

    data = cornac.data.Dataset.from_uir(triples, seed=0)
    model = cornac.models.MF(num_threads=threads, verbose=False, early_stop=False, **options)
    started = time.perf_counter()
    model.fit(data)
    return model, data, time.perf_counter() - started


def surprise_trainset(users: np.ndarray, items: np.ndarray, values: np.ndarray):
    from surprise import Trainset

    raw_users, inner_users = np.unique(users, return_inverse=True)
    raw_items, inner_items = np.unique(items, return_inverse=True)
    ur: dict[int, list] = {}
    ir: dict[int, list] = {}
    for u, i, r in zip(inner_users.tolist(), inner_items.tolist(), values.tolist()):
        ur.setdefault(u, []).append((i, r))
        ir.setdefault(i, []).append((u, r))
    return Trainset(
        ur, ir, len(raw_users), len(raw_items), len(values), (1, 5),
        {str(r): n for n, r in enumerate(raw_users.tolist())},
        {str(r): n for n, r in enumerate(raw_items.tolist())},
    )


def surprise_fit(trainset, **options):
    from surprise import SVD

    model = SVD(random_state=0, **options)
    started = time.perf_counter()
    model.fit(trainset)
    return model, time.perf_counter() - started


def throughput(library: str, threads: int, path: str, factors: int) -> dict:
    arrays = np.load(path, allow_pickle=False)
    users, items, values = arrays["users"], arrays["items"], arrays["values"]
    n = len(values)
    short, long = 1, 4
    if library == "cornac":
        triples = list(zip(users.astype(str).tolist(), items.astype(str).tolist(),
                           values.astype(float).tolist()))
        options = {"k": factors, "learning_rate": 0.01, "lambda_reg": 0.02, "use_bias": True}
        times = [cornac_fit(triples, threads, max_iter=e, **options)[2] for e in (short, long)]
    else:
        trainset = surprise_trainset(users, items, values)
        times = [surprise_fit(trainset, n_factors=factors, n_epochs=e)[1] for e in (short, long)]
    per_epoch = max(times[1] - times[0], 1e-9) / (long - short)
    return {"library": library, "threads": threads, "ratings_per_second": n / per_epoch,
            "seconds_per_epoch": per_epoch}


def read_fold(folder: Path, name: str) -> np.ndarray:
    return np.loadtxt(folder / name, dtype=np.int64, delimiter="\t")


def folds(library: str, folder: Path) -> dict:
    rmses, seconds = [], 0.0
    for k in range(1, 6):
        train, test = read_fold(folder, f"u{k}.base"), read_fold(folder, f"u{k}.test")
        started = time.perf_counter()
        if library == "cornac":
            options = CORNAC_MF
            triples = [(str(u), str(i), float(r)) for u, i, r, _ in train.tolist()]
            model, data, _ = cornac_fit(triples, 0, use_bias=True, **options)
            predicted = cornac_predict(model, data, test)
        else:
            options = {"n_factors": 100, "n_epochs": 20, "lr_all": 0.005, "reg_all": 0.02}
            trainset = surprise_trainset(train[:, 0], train[:, 1], train[:, 2].astype(float))
            model, _ = surprise_fit(trainset, **options)
            predicted = np.array([model.predict(str(u), str(i)).est
                                  for u, i in test[:, :2].tolist()])
        seconds += time.perf_counter() - started
        rmses.append(float(np.sqrt(np.mean((np.clip(predicted, 1, 5) - test[:, 2]) ** 2))))
    return {"library": library, "options": json.dumps(options), "rmse": rmses,
            "seconds": seconds}


CORNAC_MF = {"k": 10, "max_iter": 25, "learning_rate": 0.01, "lambda_reg": 0.02}


def fit_file(train_path: str, test_path: str, repeats: int) -> dict:
    """Median fit seconds of Cornac's MF (the folds task's settings) and its test RMSE."""
    train, test = np.load(train_path), np.load(test_path)
    triples = [(str(u), str(i), float(r)) for u, i, r in
               zip(train["users"].tolist(), train["items"].tolist(), train["values"].tolist())]
    seconds = []
    for _ in range(repeats):
        model, data, took = cornac_fit(triples, 0, use_bias=True, **CORNAC_MF)
        seconds.append(took)
    pairs = np.stack([test["users"], test["items"]], axis=1).astype(np.int64)
    predicted = cornac_predict(model, data, pairs)
    rmse = float(np.sqrt(np.mean((np.clip(predicted, 0.5, 5) - test["values"]) ** 2)))
    return {"library": "cornac", "options": json.dumps(CORNAC_MF),
            "fit_seconds": sorted(seconds)[len(seconds) // 2], "all_seconds": seconds,
            "rmse": rmse}


def cornac_predict(model, data, test: np.ndarray) -> np.ndarray:
    users = np.array([data.uid_map.get(str(u), -1) for u in test[:, 0].tolist()])
    items = np.array([data.iid_map.get(str(i), -1) for i in test[:, 1].tolist()])
    known_u, known_i = users >= 0, items >= 0
    u, i = np.maximum(users, 0), np.maximum(items, 0)
    both = known_u & known_i
    dot = np.einsum("nk,nk->n", model.u_factors[u], model.i_factors[i]) * both
    return (model.global_mean + np.where(known_u, model.u_biases[u], 0.0)
            + np.where(known_i, model.i_biases[i], 0.0) + dot)


def main() -> None:
    task, library = sys.argv[1], sys.argv[2]
    if task == "throughput":
        result = throughput(library, int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    elif task == "fit":
        result = fit_file(sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif task == "myfm":
        from myfm_peer import fit_and_score

        result = fit_and_score(library, sys.argv[3], sys.argv[4])
    else:
        result = folds(library, Path(sys.argv[3]))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({**result, "peak_mib": peak}))


if __name__ == "__main__":
    main()
