"""A deep user autoencoder (512-256-64) on Netflix Prize data, then a new user's top 10.

The experiment: the user-based deep autoencoder of Kuchaiev & Ginsburg,
"Training Deep AutoEncoders for Collaborative Filtering" (NVIDIA, 2017), in
the smaller 512-256-64 form of the Netflix write-ups that followed it. Each
user is the row of their ratings over all movies (0 where unrated); the
network encodes it to 64 numbers and decodes it back::

    encoder:  x -> ReLU(512) -> ReLU(256) -> ReLU(64),  dropout 0.1 on the code
    decoder:  mirrored, linear output over every movie
    loss:     mean squared error over the observed entries only

Training: Adam, learning rate 1e-4, weight decay 1e-5, 128 users per batch,
30 epochs, 80% of the ratings to train and 20% to validate. For validation a
user's training row goes in and the held-out entries of the output are scored.
The original reported a validation RMSE of 0.835 on the first quarter of the
Netflix Prize data (``combined_data_1.txt``: 24M ratings, 470k users, 4,499
movies). Afterwards, a user left out of training is treated as a new user:
their ratings go through the network once and the ten highest predictions
among the movies they have not rated (and that at least 20 users rated in
training) are recommended.

Data: ``combined_data_1.txt`` in ``DATA_DIR/nf_prize_dataset/`` (or
``netflix/``; ``movie_titles.txt`` beside it gives the titles). Without it,
the script writes a stand-in in the same Netflix format into a temporary
folder and reads it back with embrec's Netflix reader: ml-latest-small (half
stars rounded up to whole stars, as Netflix has only 1..5), or with
``--synthetic N`` about N synthetic ratings at the density of the original
(4,499 movies, ~51 ratings per user). It says which it used.

Run::

    .venv/bin/python examples/deep_autoencoder_netflix.py [--quick] [--data-dir DIR]
        [--synthetic N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import embrec
from embrec.data.datasets import locate_dataset
from embrec.data.readers import read_netflix
from embrec.recommend import recommend_for_ratings

ORIGINAL = ("valid RMSE 0.835 (Netflix combined_data_1.txt: 24M ratings, 470k users, "
            "4,499 movies, 80/20)")
NETFLIX_MOVIES = 4499
RATINGS_PER_USER = 51  # 24M ratings / 470k users in combined_data_1.txt
MIN_RATINGS = 20  # a movie rated less often is mostly initialisation in the decoder


class EpochPrinter:
    """Prints one row per epoch as ``fit`` reports it, the header once."""

    def __init__(self) -> None:
        print(f"{'epoch':>5}  {'train_loss':>10}  {'valid_loss':>10}  {'valid_rmse':>10}  "
              f"{'seconds':>7}")

    def __call__(self, record: Any) -> None:
        print(f"{record.epoch:>5}  {record.train_loss:>10.6f}  {record.valid_loss:>10.6f}  "
              f"{record.valid_rmse:>10.6f}  {record.seconds:>7.1f}", flush=True)


def write_netflix(ratings: embrec.Ratings, folder: Path) -> tuple[Path, Path | None]:
    """Write ``combined_data_1.txt`` (and ``movie_titles.txt`` when there are titles).

    The Netflix format: a ``MovieID:`` line, then ``CustomerID,Rating,Date`` lines
    for that movie; ratings are whole stars 1..5, so half stars are rounded up.
    """
    days = pd.to_datetime(ratings.timestamps, unit="s").strftime("%Y-%m-%d")
    frame = pd.DataFrame({
        "movie": ratings.item_ids.to_raw(ratings.items),
        "line": (pd.Series(ratings.user_ids.to_raw(ratings.users)).astype(str) + ","
                 + pd.Series(np.clip(np.ceil(ratings.values), 1, 5).astype(int)).astype(str)
                 + "," + pd.Series(days)),
    })
    data_path = folder / "combined_data_1.txt"
    with data_path.open("w", encoding="ascii", newline="\n") as out:
        for movie, lines in frame.groupby("movie", sort=True)["line"]:
            out.write(f"{movie}:\n" + "\n".join(lines) + "\n")
    info = ratings.item_info
    if info is None or "title" not in info:
        return data_path, None
    titles_path = folder / "movie_titles.txt"
    rated = np.unique(ratings.items)
    with titles_path.open("w", encoding="latin-1", errors="replace", newline="\n") as out:
        for index, raw in zip(rated, ratings.item_ids.to_raw(rated)):
            year = info["year"].get(index) if "year" in info else None
            year_text = "NULL" if year is None or pd.isna(year) else str(int(year))
            out.write(f"{raw},{year_text},{info['title'].get(index)}\n")
    return data_path, titles_path


def netflix_first_quarter(data_dir: str | None) -> embrec.Ratings | None:
    """``combined_data_1.txt`` (with titles) when a Netflix folder holds it, else None."""
    folder = locate_dataset("netflix", data_dir)
    if folder is None or not (folder / "combined_data_1.txt").is_file():
        return None
    titles = folder / "movie_titles.txt"
    return read_netflix(folder / "combined_data_1.txt", titles if titles.is_file() else None)


def stand_in(data_dir: str | None, synthetic: int | None, folder: Path) -> embrec.Ratings:
    """A Netflix-format stand-in written to ``folder`` and read back with the Netflix reader."""
    if synthetic:
        n_users = max(10, synthetic // RATINGS_PER_USER)
        n_items = min(NETFLIX_MOVIES, max(10, synthetic // 2))
        source = embrec.generate_ratings(n_users, n_items, min(synthetic, n_users * n_items),
                                         seed=0)
        what = f"{len(source):,} synthetic ratings ({n_users:,} users x {n_items:,} movies)"
    else:
        source = embrec.load_dataset("ml-latest-small", data_dir)
        what = "ml-latest-small (610 users, 9,724 movies; half stars rounded up)"
    data_path, titles_path = write_netflix(source, folder)
    print(f"STAND-IN: no combined_data_1.txt found (looked for DATA_DIR/nf_prize_dataset/). "
          f"Wrote {what} in the Netflix format to {data_path} and read it back with "
          "embrec.data.readers.read_netflix.")
    return read_netflix(data_path, titles_path)


def pick_new_user(ratings: embrec.Ratings) -> int:
    """A user of typical activity (the median count among users with at least 20 ratings)."""
    counts = ratings.user_counts()
    active = np.flatnonzero(counts >= 20)
    pool = active if len(active) else np.flatnonzero(counts > 0)
    median = np.median(counts[pool])
    return int(pool[np.argmin(np.abs(counts[pool] - median))])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 epochs on one thread (a smoke test)")
    parser.add_argument("--data-dir", default=os.environ.get("EMBREC_DATA_DIR"),
                        help="folder holding nf_prize_dataset/ or ml-latest-small/ "
                             "(default: $EMBREC_DATA_DIR)")
    parser.add_argument("--synthetic", type=int, metavar="N", default=None,
                        help="without Netflix data: about N synthetic ratings instead of "
                             "ml-latest-small")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: all cores; 1 with --quick)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    training = {
        "layers": [512, 256, 64],
        "dropout": 0.1,
        "optimizer": "adam",
        "lr": 1e-4,
        "weight_decay": 1e-5,
        "batch_size": 128,
        "schedule": "constant",
        "epochs": 3 if args.quick else 30,
        "seed": 0,
        "threads": 1 if args.quick else args.threads,
    }

    with tempfile.TemporaryDirectory(prefix="embrec-netflix-") as folder:
        ratings = netflix_first_quarter(args.data_dir)
        original_data = ratings is not None
        if ratings is None:
            ratings = stand_in(args.data_dir, args.synthetic, Path(folder))
    print(repr(ratings))

    split = embrec.make_split(ratings, "random:0.2", seed=0)
    new_user = pick_new_user(ratings)
    train = split.train.subset(split.train.users != new_user)
    valid = split.test.subset(split.test.users != new_user)
    raw_user = ratings.user_ids.to_raw([new_user])[0]
    print(f"{split!r}; user {raw_user} is left out of both, to play the new user")
    print(f"deep-ae: {training}\n")

    model = embrec.fit(train, "deep-ae", test=valid, on_epoch=EpochPrinter(), verbose=False,
                       **training)
    rmse = model.metrics["test_rmse"]
    print(f"\nvalid RMSE {rmse:.4f}, MAE {model.metrics['test_mae']:.4f} "
          f"({model.metrics['n_test']:,} ratings)")

    mine = ratings.users == new_user
    given = dict(zip(ratings.item_ids.to_raw(ratings.items[mine]).tolist(),
                     ratings.values[mine].tolist()))
    favourites = np.argsort(-ratings.values[mine], kind="stable")[:5]
    print(f"\nNew user {raw_user} rated {len(given)} movies; their favourites:")
    for index in favourites:
        item = ratings.items[mine][index]
        print(f"  {ratings.values[mine][index]:.0f}  {ratings.titles([item])[0]}")
    counts = train.item_counts()
    candidates = train.item_ids.to_raw(np.flatnonzero(counts >= MIN_RATINGS)).tolist()
    picks = recommend_for_ratings(model, given, n=10, candidates=candidates)
    print(f"Ten recommendations ({picks.strategy}), among the {len(candidates):,} movies with "
          f"at least {MIN_RATINGS} training ratings:")
    for title, score in zip(picks.titles, picks.scores):
        print(f"  {score:.2f}  {title}")

    data = "Netflix combined_data_1.txt" if original_data else "stand-in " + (
        f"synthetic, {len(ratings):,} ratings" if args.synthetic
        else "ml-latest-small in Netflix format")
    print(f"embrec: valid RMSE {rmse:.3f} ({data}, {ratings.n_users:,} users, "
          f"{ratings.n_items:,} movies, 80/20, {training['epochs']} epochs) | original: "
          f"{ORIGINAL}")


if __name__ == "__main__":
    try:
        main()
    except embrec.EmbrecError as error:
        sys.exit(f"error: {error}")
