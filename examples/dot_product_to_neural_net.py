"""From a dot product to a neural network on MovieLens 100k (fastbook chapter 8).

The progression of chapter 8 ("Collaborative Filtering Deep Dive") of Howard &
Gugger, *Deep Learning for Coders with fastai and PyTorch* (2020), on
ml-100k's ``u.data`` with a random 20% validation set:

1. the crosstab: the most active users against the most rated movies;
2. ``DotProduct``, 50 factors, ``fit_one_cycle(5, 5e-3)`` (embrec ``mf``)::

       r̂(u, i) = lo + (hi - lo) · σ(p_u · q_i)

3. ``DotProductBias`` (embrec ``mf-bias``), first without weight decay, which
   overfits (the training loss keeps falling while the validation loss turns
   back up), then with ``wd=0.1``::

       r̂(u, i) = lo + (hi - lo) · σ(p_u · q_i + b_u + b_i)

4. the neural network: ``collab_learner(use_nn=True, layers=[100, 50])`` is
   fastai's ``EmbeddingNN`` (embrec ``embnet`` with ``biases=False,
   dot_factors=0, dropout=0``), and embrec's default ``embnet`` beside it
   (adds user and item biases and a NeuMF dot-product path);
5. interpretation: the lowest and highest movie biases, a PCA map of the movie
   factors (PNG), the movies most like a given movie;
6. bootstrapping a new user: the average user, then a few onboarding questions
   answered by a scripted user, then recommendations from those answers.

fastbook's numbers are validation MSEs (``valid_loss``) after 5 epochs with
batches of 64: DotProduct 0.878 (RMSE 0.937), DotProductBias without weight
decay 0.893 (RMSE 0.945, after a low of 0.861 in epoch 2), with ``wd=0.1``
0.823 (RMSE 0.907), EmbeddingNN [100, 50] 0.865 (RMSE 0.930). The settings
here are fastbook's: ``y_range=(0, 5.5)``, and "without weight decay" is
fastai's default of 0.01 (decoupled, AdamW style), which fastbook's runs
without ``wd`` used. Differences that remain: fastai's Adam uses β2 = 0.99 and
ε = 1e-5 (torch: 0.999, 1e-8), its EmbeddingNN has batch norm in the hidden
layers, and fastbook indexes movies by title (1,664 titles for 1,682 ids)
where embrec keeps the ids.

Run::

    .venv/bin/python examples/dot_product_to_neural_net.py [--quick] [--data-dir DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

import embrec
from embrec.data.splits import Split
from embrec.data.stats import crosstab
from embrec.recommend import (
    item_biases,
    item_pca,
    onboarding_items,
    recommend_for_ratings,
    similar_items,
)

FASTBOOK = {  # validation MSE after 5 epochs, chapter 8
    "mf": 0.878,
    "mf-bias, no weight decay": 0.893,
    "mf-bias, wd 0.1": 0.823,
    "embnet, fastai EmbeddingNN": 0.865,
}
Y_RANGE = (0.0, 5.5)  # fastbook: "a little bit over 5"
FASTAI_DEFAULT_WD = 0.01  # what fastai applies when fit is given no wd
PROBE_MOVIE = "Silence of the Lambs, The (1991)"


class EpochPrinter:
    """Prints one row per epoch as ``fit`` reports it, with a header per fit."""

    def __init__(self, title: str) -> None:
        print(f"\n== {title}")
        print(f"{'epoch':>5}  {'train_loss':>10}  {'valid_loss':>10}  {'valid_rmse':>10}  "
              f"{'seconds':>7}")

    def __call__(self, record: Any) -> None:
        print(f"{record.epoch:>5}  {record.train_loss:>10.6f}  {record.valid_loss:>10.6f}  "
              f"{record.valid_rmse:>10.6f}  {record.seconds:>7.1f}", flush=True)


def train(split: Split, title: str, model: str, **hyper: Any) -> embrec.TrainedModel:
    """Fit ``model`` by gradient descent in PyTorch, printing the epoch table."""
    return embrec.fit(split.train, model, test=split.test, solver="torch",
                      on_epoch=EpochPrinter(title), verbose=False, **hyper)


def scripted_answer(genres: str) -> float:
    """The scripted new user: loves science fiction and thrillers, dislikes romance."""
    if "Sci-Fi" in genres or "Thriller" in genres:
        return 5.0
    if "Romance" in genres or "Musical" in genres:
        return 1.0
    return 3.0


def show_crosstab(ratings: embrec.Ratings) -> None:
    table = crosstab(ratings, n_users=12, n_items=8)
    table.columns = [title.rsplit(" (", 1)[0][:12] for title in table.columns]
    print("\nThe crosstab: most active users (rows) x most rated movies (. = not rated)")
    print(table.to_string(na_rep=".", float_format=lambda v: f"{v:.0f}"))


def interpret(model: embrec.TrainedModel, out: Path) -> None:
    biases = item_biases(model, n=5)
    print(f"\n== Interpretation ({biases.source})")
    print("lowest bias (liked less than their factors predict):")
    for row in biases.lowest:
        print(f"  {row['bias']:+.3f}  {row['title']}  ({row['n_ratings']} ratings)")
    print("highest bias:")
    for row in biases.highest:
        print(f"  {row['bias']:+.3f}  {row['title']}  ({row['n_ratings']} ratings)")
    pca = item_pca(model, n_labels=50, path=out / "item_pca.png")
    print(f"PCA of the {pca.space}: {pca.path} "
          f"(PC1 {100 * pca.explained[0]:.1f}%, PC2 {100 * pca.explained[1]:.1f}% of variance)")
    for number, axis in enumerate(pca.axes, start=1):
        print(f"  PC{number} low end:  {'; '.join(axis['low'][:3])}")
        print(f"  PC{number} high end: {'; '.join(axis['high'][:3])}")
    similar = similar_items(model, PROBE_MOVIE, n=5, min_ratings=5)
    print(f"most like {similar.title} ({similar.space}, cosine):")
    for title, cosine in zip(similar.titles, similar.similarities):
        print(f"  {cosine:.3f}  {title}")


def bootstrap_new_user(model: embrec.TrainedModel) -> None:
    print("\n== Bootstrapping a new user")
    average = recommend_for_ratings(model, {}, n=5)
    print(f"no ratings yet ({average.strategy}):")
    for title, score in zip(average.titles, average.scores):
        print(f"  {score:.2f}  {title}")
    questions = onboarding_items(model, k=8)
    genres = model.train.item_info["genres"]
    answers = {}
    print("onboarding questions and the scripted user's answers (sci-fi/thriller fan):")
    for title, index in zip(questions.titles, questions.item_indices):
        answers[title] = scripted_answer(str(genres.get(index, "")))
        print(f"  {answers[title]:.0f} stars  {title}  [{genres.get(index, '')}]")
    picks = recommend_for_ratings(model, answers, n=8)
    print(f"recommendations ({picks.strategy}):")
    for title, score, because in zip(picks.titles, picks.scores, picks.because or []):
        reason = f"  <- {'; '.join(because)}" if because else ""
        print(f"  {score:.2f}  {title}{reason}")
    liked = np.mean([scripted_answer(str(genres.get(i, ""))) >= 5 for i in picks.item_indices])
    print(f"{100 * liked:.0f}% of the recommendations are science fiction or thrillers")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch per model in batches of 1024 on one thread (a smoke test)")
    parser.add_argument("--data-dir", default=os.environ.get("EMBREC_DATA_DIR"),
                        help="folder holding ml-100k/ (default: $EMBREC_DATA_DIR)")
    parser.add_argument("--out", type=Path, default=Path("runs/examples"),
                        help="where the PCA plot goes (default: runs/examples)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: all cores; 1 with --quick)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    fastbook = {  # fit_one_cycle(5, 5e-3) in batches of 64
        "epochs": 1 if args.quick else 5,
        "lr": 5e-3,
        "schedule": "one-cycle",
        "batch_size": 1024 if args.quick else 64,
        "seed": 42,
        "threads": 1 if args.quick else args.threads,
    }

    ratings = embrec.load_dataset("ml-100k", args.data_dir)
    print(repr(ratings))
    show_crosstab(ratings)
    split = embrec.make_split(ratings, "random:0.2", seed=42)
    print(f"\n{split!r}")

    results: dict[str, float] = {}
    dot = train(split, "mf: DotProduct, 50 factors, sigmoid range", "mf", factors=50,
                y_range=Y_RANGE, weight_decay=FASTAI_DEFAULT_WD, **fastbook)
    results["mf"] = dot.metrics["test_rmse"]

    overfit = train(split, "mf-bias without weight decay (fastai's default 0.01)", "mf-bias",
                    factors=50, y_range=Y_RANGE, weight_decay=FASTAI_DEFAULT_WD, **fastbook)
    results["mf-bias, no weight decay"] = overfit.metrics["test_rmse"]
    epochs = overfit.history.epochs
    low = min(epochs, key=lambda e: e.valid_loss)
    if low.epoch < len(epochs):
        print(f"overfitting: the valid loss bottomed at {low.valid_loss:.4f} in epoch "
              f"{low.epoch} and rose to {epochs[-1].valid_loss:.4f}, while the train loss "
              f"fell from {low.train_loss:.4f} to {epochs[-1].train_loss:.4f}")

    biased = train(split, "mf-bias with weight decay 0.1", "mf-bias", factors=50,
                   y_range=Y_RANGE, weight_decay=0.1, **fastbook)
    results["mf-bias, wd 0.1"] = biased.metrics["test_rmse"]

    plain = train(split, "embnet as fastai's EmbeddingNN: layers [100, 50], no biases, "
                  "no dot path", "embnet", layers=[100, 50], biases=False, dot_factors=0,
                  dropout=0.0, emb_dropout=0.0, y_range=Y_RANGE, weight_decay=0.1, **fastbook)
    results["embnet, fastai EmbeddingNN"] = plain.metrics["test_rmse"]

    default = train(split, "embnet with embrec's defaults (biases + dot path, dropout)",
                    "embnet", layers=[100, 50], seed=42,
                    epochs=fastbook["epochs"], threads=fastbook["threads"])
    results["embnet, embrec default"] = default.metrics["test_rmse"]

    print("\n== Validation RMSE after training (fastbook's MSE as RMSE)")
    for name, rmse in results.items():
        original = f"{FASTBOOK[name] ** 0.5:.3f}" if name in FASTBOOK else "-"
        print(f"  {name:<28} embrec {rmse:.3f}   fastbook {original}")

    interpret(biased, args.out)
    bootstrap_new_user(biased)

    print(f"embrec: RMSE mf {results['mf']:.3f}, mf-bias {results['mf-bias, no weight decay']:.3f}"
          f" -> {results['mf-bias, wd 0.1']:.3f} with wd 0.1, EmbeddingNN "
          f"{results['embnet, fastai EmbeddingNN']:.3f}, embnet default "
          f"{results['embnet, embrec default']:.3f} | original: RMSE 0.937, 0.945 -> 0.907, "
          f"0.930 (fastbook ch. 8, ml-100k, random 20% validation)")


if __name__ == "__main__":
    try:
        main()
    except embrec.EmbrecError as error:
        sys.exit(f"error: {error}")
