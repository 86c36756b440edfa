"""Training throughput of the PyTorch path against the way the notebooks write it.

    .venv/bin/python benchmarks/throughput.py [--ratings 1000000] [--epochs 3]

Prints one table: ratings per second (median over epochs) of ``mf-bias`` with 64
factors on ml-1m-shaped synthetic ratings, trained by embrec's loop at several
batch sizes, and by the naive loop (a ``DataLoader`` over a ``TensorDataset``,
batch 64, one optimiser step per batch) for the ratio. The naive loop is timed
on a slice of the data (it is slow); its rate does not depend on the data size.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from embrec.bundle import shape_of
from embrec.data.synthetic import generate_ratings
from embrec.models.mf import DotProductBias
from embrec.predictor import Fallback
from embrec.training.fit import fit


def naive_ratings_per_second(ratings, factors: int, n_ratings: int, batch_size: int = 64) -> float:
    """The notebook loop: DataLoader(TensorDataset) at batch 64, Adam, MSE."""
    subset = ratings.subset(np.arange(min(n_ratings, len(ratings))))
    tensors = subset.to_tensors()
    loader = DataLoader(
        TensorDataset(tensors["users"], tensors["items"], tensors["values"]),
        batch_size=batch_size, shuffle=True,
    )
    model = DotProductBias(shape_of(subset, Fallback.fit(subset).global_mean), factors, (0.5, 5.5))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    started = time.perf_counter()
    for users, items, values in loader:
        loss = torch.nn.functional.mse_loss(model(users, items), values)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return n_ratings / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=1_000_209)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--naive-ratings", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(2)
    ratings = generate_ratings(6_040, 3_706, args.ratings, seed=args.seed)
    rows = []
    for batch_size in (1024, 8192, 32768, 65536):
        trained = fit(
            ratings, "mf-bias", factors=args.factors, epochs=args.epochs,
            batch_size=batch_size, lr=1e-2, seed=args.seed, verbose=False,
        )
        rates = [e.ratings_per_second for e in trained.history.epochs]
        rows.append((f"embrec torch loop, batch {batch_size}", statistics.median(rates)))
    naive = naive_ratings_per_second(ratings, args.factors, args.naive_ratings)
    rows.append(("naive DataLoader(TensorDataset), batch 64", naive))

    best = max(rate for _, rate in rows[:-1])
    print(f"mf-bias, {args.factors} factors, {len(ratings):,} synthetic ratings "
          f"({ratings.n_users:,} users x {ratings.n_items:,} items), seed {args.seed}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}")
    print(f"{'method':<45} {'ratings/s (median)':>20} {'x naive':>10}")
    for name, rate in rows:
        print(f"{name:<45} {rate:>20,.0f} {rate / naive:>10.1f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"best: {best:,.0f} ratings/s = {best / naive:.0f}x naive; peak RSS {peak_mb:,.0f} MB")
    print(json.dumps({"best_ratings_per_second": best, "naive_ratings_per_second": naive,
                      "ratio": best / naive, "n_ratings": len(ratings), "factors": args.factors,
                      "seed": args.seed}))


if __name__ == "__main__":
    main()
