"""An embedding network on MovieLens latest-small, trained 5 + 10 epochs.

The experiment: the "embedding network" of fast.ai's 2018 course (lesson 5,
``EmbeddingNet``) and the plain-PyTorch write-ups built on it. Users and movies
get contiguous ids; each id looks up a 50-wide embedding; the two embeddings are
concatenated and go through one hidden layer of 10 ReLU units with dropout 0.5;
a sigmoid scales the output into the rating range::

    x = dropout_0.05([p_u ; q_i])                      (100 numbers)
    h = dropout_0.5(ReLU(W x + c))                     (10 units)
    r̂(u, i) = lo + (hi - lo) · σ(w · h + b),  (lo, hi) = (0, 5.5)

Training: Adam, learning rate 1e-3, L2 weight decay 2e-5, batches of 64, five
epochs, then ten more epochs on the same weights and optimiser state, on a
random 80/20 split. The original reported a validation MSE of 0.784
(RMSE 0.885) on the 2016 release of ml-latest-small (671 users, 100,004
ratings); the copy read here is the 2018 release (610 users, 100,836 ratings).

Continuing training: ``embrec.fit`` always builds a fresh network, so the
second fit resumes the first one's checkpoint (``checkpoint_dir`` and
``resume=True``) with ``epochs=15``: weights, Adam moments and the random
state carry over, and epochs 6..15 run exactly as they would have in one
15-epoch fit. That is why the learning rate is constant here: a one-cycle
schedule is laid out for a fixed number of epochs and cannot be extended.

Run::

    .venv/bin/python examples/embedding_net_ml_latest_small.py [--quick] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from typing import Any

import embrec

ORIGINAL = "valid MSE 0.784, RMSE 0.885 (older 671-user ml-latest-small, random 20% validation)"

NETWORK = {
    "user_factors": 50,
    "item_factors": 50,
    "layers": [10],
    "dropout": 0.5,
    "emb_dropout": 0.05,
    "y_range": "auto",  # half a star beyond the scale each side: (0, 5.5)
    "biases": False,  # the plain network: no wide part,
    "dot_factors": 0,  # and no dot-product path
}


class EpochPrinter:
    """Prints one row per epoch as ``fit`` reports it, the header once."""

    def __init__(self) -> None:
        self.header_done = False

    def __call__(self, record: Any) -> None:
        if not self.header_done:
            print(f"{'epoch':>5}  {'train_loss':>10}  {'valid_loss':>10}  {'valid_rmse':>10}  "
                  f"{'seconds':>7}")
            self.header_done = True
        print(f"{record.epoch:>5}  {record.train_loss:>10.6f}  {record.valid_loss:>10.6f}  "
              f"{record.valid_rmse:>10.6f}  {record.seconds:>7.1f}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1 + 1 epochs in batches of 1024 on one thread (a smoke test)")
    parser.add_argument("--data-dir", default=os.environ.get("EMBREC_DATA_DIR"),
                        help="folder holding ml-latest-small/ (default: $EMBREC_DATA_DIR)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: all cores; 1 with --quick)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    first_epochs, more_epochs = (1, 1) if args.quick else (5, 10)
    training = {
        "optimizer": "adam",  # torch's Adam: weight decay as an L2 term in the gradient
        "lr": 1e-3,
        "weight_decay": 2e-5,
        "batch_size": 1024 if args.quick else 64,
        "schedule": "constant",
        "seed": 0,
        "threads": 1 if args.quick else args.threads,
    }

    ratings = embrec.load_dataset("ml-latest-small", args.data_dir)
    split = embrec.make_split(ratings, "random:0.2", seed=0)
    print(repr(ratings))
    print(f"{split!r}: the {split.cold_test_ratings:,} validation ratings of movies that are"
          " not in the training part get the baseline prediction (mean + biases)")
    print(f"network: {NETWORK}\ntraining: {training}\n")

    printer = EpochPrinter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="embrec-embnet-") as checkpoint:
        common = {"valid": split.test, "checkpoint_dir": checkpoint, "on_epoch": printer,
                  "verbose": False}
        first = embrec.fit(split.train, "embnet", epochs=first_epochs, **common,
                           **NETWORK, **training)
        print(f"-- fit 1 done (epochs 1..{first_epochs}), valid RMSE "
              f"{first.metrics['test_rmse']:.4f}; fit 2 continues on the same weights --")
        model = embrec.fit(split.train, "embnet", epochs=first_epochs + more_epochs,
                           resume=True, **common, **NETWORK, **training)
    seconds = time.perf_counter() - started

    mse, rmse = model.metrics["test_loss"], model.metrics["test_rmse"]
    best = min(model.history.epochs, key=lambda e: e.valid_loss)
    print(f"\n{len(model.history.epochs)} epochs in {seconds:.0f} s; lowest valid MSE "
          f"{best.valid_loss:.4f} at epoch {best.epoch}")
    print(f"final: valid MSE {mse:.4f} (unclipped predictions), RMSE {rmse:.4f} "
          f"(clipped to 0.5..5; sqrt of the MSE: {math.sqrt(mse):.4f}), "
          f"MAE {model.metrics['test_mae']:.4f}")
    print(f"embrec: valid MSE {mse:.3f}, RMSE {rmse:.3f} (2018 ml-latest-small, 610 users, "
          f"random 20% validation, seed 0) | original: {ORIGINAL}")


if __name__ == "__main__":
    try:
        main()
    except embrec.EmbrecError as error:
        sys.exit(f"error: {error}")
