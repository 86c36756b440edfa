"""Every model on ml-100k u1 with ratings on 1..5, times 20 (20..100) and 25 r - 24 (1..101).

    .venv/bin/python benchmarks/rating_scale.py --data-dir ../shared/data

Training maps a scale far from 1..5 onto it (:mod:`embrec.data.transform`) and
maps predictions back, so the test RMSE on the mapped ratings should be the
1..5 RMSE times the factor (20, 25). The epochs are the quick ones of
``tests/test_rating_scale.py`` (bfm: 30 sweeps, 10 burn-in), and ``preset
fast`` in full.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from embrec.data.datasets import load_dataset
from embrec.data.ratings import Ratings
from embrec.data.scale import RatingScale
from embrec.data.splits import make_split
from embrec.models.registry import MODELS
from embrec.training.fit import fit

QUICK = {
    "baseline": {},
    "mf": {"epochs": 3},
    "mf-bias": {"epochs": 3},
    "embnet": {"epochs": 2},
    "autorec": {"epochs": 4},
    "deep-ae": {"epochs": 4},
    "bfm": {"epochs": 30, "burn_in": 10},
    "glocal-k": {"pretrain_epochs": 4, "finetune_epochs": 2},
    "blend": {"members": [{"model": "baseline"},
                          {"model": "mf-bias", "hyperparameters": {"epochs": 3}}]},
}
MAPPINGS = {"x 20": (20.0, 0.0), "25 r - 24": (25.0, -24.0)}


def mapped(ratings: Ratings, factor: float, offset: float) -> Ratings:
    """``ratings`` with every value ``factor · r + offset`` and the scale mapped alike."""
    scale = ratings.scale
    return dataclasses.replace(
        ratings,
        values=ratings.values.astype(np.float64) * factor + offset,
        scale=RatingScale(scale.low * factor + offset, scale.high * factor + offset,
                          None if scale.step is None else scale.step * factor),
    )


def rows() -> list[tuple[str, dict]]:
    """(label, fit keywords) per model and solver, and preset fast."""
    out = []
    for name, spec in MODELS.items():
        for solver in spec.solvers if name in ("mf", "mf-bias") else spec.solvers[:1]:
            out.append((f"{name} ({solver})", {"model": name, "solver": solver, **QUICK[name]}))
    out.append(("preset fast (mf-bias, sgd)", {"preset": "fast"}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    ratings = load_dataset("ml-100k", data_dir=args.data_dir)
    split = make_split(ratings, "u1", data_dir=args.data_dir)
    print("| model | RMSE 1..5 | x 20: RMSE | ratio to 20 x 1..5 | 25 r - 24: RMSE "
          "| ratio to 25 x 1..5 | s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, settings in rows():
        started = time.perf_counter()
        stars = fit(split.train, test=split.test, verbose=False, **settings)
        base = stars.metrics["test_rmse"]
        cells = [label, f"{base:.4f}"]
        for factor, offset in MAPPINGS.values():
            train, test = (mapped(part, factor, offset) for part in (split.train, split.test))
            scaled = fit(train, test=test, verbose=False, **settings)
            rmse = scaled.metrics["test_rmse"]
            cells += [f"{rmse:.4f}", f"{rmse / (factor * base):.4f}"]
        cells.append(f"{time.perf_counter() - started:.0f}")
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
