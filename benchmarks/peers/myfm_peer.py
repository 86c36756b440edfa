"""myFM's Bayesian FM set up as its documentation's MovieLens examples, for ``run_peers.py myfm``.

Two examples, each reproduced feature for feature from ratings alone (user id,
item id, rating, unix time), with the rank, sweeps, kept samples and seed the
example uses:

* ``relational``: ``examples/ml-100k-regression.py`` of myFM with its defaults
  (the ``timesvdpp_flipped`` feature set, rank 10, 512 Gibbs sweeps, every sweep
  kept, seed 42, the "stricter" protocol: implicit feedback from the training
  ratings only). Five groups of features, each with its own prior (myFM's
  ``grouping``, libFM's ``-meta``):

  1. the day of the rating (UTC date), one-hot;
  2. the user id, one-hot;
  3. the user's implicit feedback: every item the user rated in training, each
     weighted ``1 / sqrt(n_u)`` (SVD++'s ``N(u)``);
  4. the item id, one-hot;
  5. the item's implicit feedback: every user who rated it in training, each
     weighted ``1 / sqrt(n_i)``.

  Groups 2-3 and 4-5 are the user and item relation blocks (Rendle, VLDB 2013),
  so a sweep costs O(ratings + users · items rated) rather than O(ratings · n_u).
  Each one-hot group keeps its column 0 for a value not seen in training (myFM's
  ``CategoryValueToSparseEncoder``), where a cold user, item or day lands.
* ``tutorial``: the "pure matrix factorisation" of myFM's MovieLens tutorial
  (``doc/source/movielens.rst``) in its grouped form: user and item one-hot,
  an unseen id all zeros (scikit-learn's ``OneHotEncoder(handle_unknown="ignore")``),
  one group each, rank 10, 200 sweeps, all kept, seed 42.

The prediction is myFM's posterior predictive mean over the kept samples. The
RMSE is reported both as the examples print it (unclipped) and clipped to the
rating scale of the training file, as embrec reports its own.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.sparse as sps

SECONDS_PER_DAY = 86_400
EXAMPLES = {
    "relational": {"source": "myFM examples/ml-100k-regression.py (timesvdpp_flipped)",
                   "features": ["date", "user", "user implicit", "item", "item implicit"],
                   "rank": 10, "n_iter": 512, "n_kept_samples": 512, "random_seed": 42},
    "tutorial": {"source": "myFM doc/source/movielens.rst (grouped pure MF)",
                 "features": ["user", "item"],
                 "rank": 10, "n_iter": 200, "n_kept_samples": 200, "random_seed": 42},
}


def known_index(known: np.ndarray, values: np.ndarray) -> np.ndarray:
    """1 + the position of each value in the sorted ``known``; 0 for a value not in it."""
    position = np.minimum(np.searchsorted(known, values), len(known) - 1)
    return np.where(known[position] == values, position + 1, 0)


def one_hot(columns: np.ndarray, width: int) -> sps.csr_matrix:
    """A row per entry of ``columns`` with a 1 in that column; a negative one leaves it empty."""
    rows = np.flatnonzero(columns >= 0)
    return sps.csr_matrix((np.ones(len(rows)), (rows, columns[rows])),
                          shape=(len(columns), width))


def implicit_feedback(owners: np.ndarray, others: np.ndarray, n_owners: int,
                      n_others: int) -> sps.csr_matrix:
    """Row ``o``: the columns ``o`` co-occurs with in training, each ``1 / sqrt(count of o)``."""
    matrix = sps.csr_matrix((np.ones(len(owners)), (owners, others)), shape=(n_owners, n_others))
    counts = np.diff(matrix.indptr)
    return (sps.diags(1.0 / np.sqrt(np.maximum(counts, 1))) @ matrix).tocsr()


class RelationalFeatures:
    """The five feature groups of the relational example, learned from the training ratings."""

    def __init__(self, users: np.ndarray, items: np.ndarray, timestamps: np.ndarray):
        self.users, self.items = np.unique(users), np.unique(items)
        self.days = np.unique(timestamps // SECONDS_PER_DAY)
        n_users, n_items = len(self.users) + 1, len(self.items) + 1
        user_of, item_of = known_index(self.users, users), known_index(self.items, items)
        self.user_rated = implicit_feedback(user_of, item_of, n_users, n_items)
        self.item_rated_by = implicit_feedback(item_of, user_of, n_items, n_users)
        self.group_shapes = [len(self.days) + 1, n_users, n_items, n_items, n_users]

    def dates(self, timestamps: np.ndarray) -> sps.csr_matrix:
        return one_hot(known_index(self.days, timestamps // SECONDS_PER_DAY), self.group_shapes[0])

    def blocks(self, users: np.ndarray, items: np.ndarray) -> list:
        """The user and the item relation block of these ratings."""
        from myfm import RelationBlock

        distinct_users, user_rows = np.unique(users, return_inverse=True)
        distinct_items, item_rows = np.unique(items, return_inverse=True)
        u = known_index(self.users, distinct_users)
        i = known_index(self.items, distinct_items)
        user_side = sps.hstack([one_hot(u, len(self.users) + 1), self.user_rated[u]], format="csr")
        item_side = sps.hstack([one_hot(i, len(self.items) + 1), self.item_rated_by[i]],
                               format="csr")
        return [RelationBlock(user_rows, user_side), RelationBlock(item_rows, item_side)]


def tutorial_features(train: dict, part: dict) -> tuple[sps.csr_matrix, list[int]]:
    """User and item one-hot over the training ids; an unseen id is a row of zeros."""
    users, items = np.unique(train["users"]), np.unique(train["items"])
    x = sps.hstack([one_hot(known_index(users, part["users"]) - 1, len(users)),
                    one_hot(known_index(items, part["items"]) - 1, len(items))], format="csr")
    return x, [len(users), len(items)]


def fit_and_score(example: str, train_path: str, test_path: str) -> dict:
    """Fit myFM as ``example`` does on the training file; score the test file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # myFM 0.4 imports pkg_resources
        import myfm
    config = EXAMPLES[example]
    train = dict(np.load(train_path, allow_pickle=False))
    test = dict(np.load(test_path, allow_pickle=False))
    started = time.perf_counter()
    if example == "relational":
        features = RelationalFeatures(train["users"], train["items"], train["timestamps"])
        x_train, x_test = features.dates(train["timestamps"]), features.dates(test["timestamps"])
        rel_train = features.blocks(train["users"], train["items"])
        rel_test = features.blocks(test["users"], test["items"])
        group_shapes = features.group_shapes
    else:
        x_train, group_shapes = tutorial_features(train, train)
        x_test, _ = tutorial_features(train, test)
        rel_train, rel_test = [], []
    built = time.perf_counter()
    model = myfm.MyFMRegressor(rank=config["rank"], random_seed=config["random_seed"])
    model.fit(x_train, train["values"], X_rel=rel_train, group_shapes=group_shapes,
              n_iter=config["n_iter"], n_kept_samples=config["n_kept_samples"])
    fitted = time.perf_counter()
    predicted = model.predict(x_test, rel_test)
    done = time.perf_counter()
    low, high = float(train["scale"][0]), float(train["scale"][1])
    truth = test["values"]
    clipped_error = np.clip(predicted, low, high) - truth
    return {
        "library": "myfm", "version": myfm.__version__, "example": example, **config,
        "group_shapes": group_shapes, "n_train": len(train["values"]), "n_test": len(truth),
        "rmse": float(np.sqrt(np.mean(clipped_error**2))),
        "mae": float(np.mean(np.abs(clipped_error))),
        "rmse_unclipped": float(np.sqrt(np.mean((predicted - truth) ** 2))),
        "clipped_to": [low, high],
        "features_seconds": built - started, "fit_seconds": fitted - built,
        "predict_seconds": done - fitted,
    }
