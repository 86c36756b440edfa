"""Train/test splits of a :class:`~embrec.data.ratings.Ratings` table.

Every split returns a :class:`Split`: the train and test parts are subsets of the
same ratings (shared id maps, file order kept), and the split reports how many
test users and items never occur in train ("cold") instead of dropping them or
failing later. A model cannot learn anything about a cold user or item; an
evaluation can then decide to skip those ratings (:meth:`Split.warm_test`) or to
score them with a fallback, and say which it did.

Kinds of split (``n`` ratings, ``n_u`` ratings of user ``u``):

* random holdout: ``round(fraction * n)`` ratings drawn uniformly without
  replacement form the test set;
* k-fold: a seeded permutation deals the ratings into ``k`` folds of sizes
  ``floor(n/k)`` or ``ceil(n/k)``; fold ``i`` is the test set of split ``i``, so
  the ``k`` test sets partition the data;
* predefined: the official MovieLens folds (``u1``..``u5``, ``ua``, ``ub`` of
  ml-100k; ``r1``..``r5``, ``ra``, ``rb`` of ml-10m), read from their files or
  derived from the file order (see :data:`PREDEFINED_FOLDS`);
* temporal: the latest ``round(fraction * n)`` ratings overall, or per user the
  latest ``min(floor(fraction * n_u + 1/2), n_u - 1)``;
* leave-k-out: per user, ``k`` ratings drawn at random, for every user with more
  than ``k`` ratings (users with ``n_u <= k`` stay wholly in train).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embrec.data.movielens_folds import (
    PREDEFINED_FOLDS,
    fold_masks,
    group_by_user,
    rank_within_user,
)
from embrec.data.ratings import Ratings
from embrec.errors import ConfigError, DataError

SPEC_FORMS = (
    "random:F (0<F<1)",
    "u1..u5, ua, ub (ml-100k)",
    "r1..r5, ra, rb (ml-10m)",
    "kfold:K:I (fold I of K, 1-based)",
    "temporal:F",
    "temporal-user:F",
    "leave:K",
)


@dataclass(frozen=True, eq=False)
class Split:
    """A train part, a test part and the cold-start report of the test part.

    Attributes:
        train, test: subsets of one :class:`Ratings` (shared id maps, file order).
        name: the canonical split spec, e.g. ``"random:0.2"`` or ``"u1"``.
        cold_users: distinct test users with no rating in train.
        cold_items: distinct test items with no rating in train.
        cold_test_ratings: test ratings whose user or item is cold.
        seed: the seed that drew the split (None for deterministic splits).
    """

    train: Ratings
    test: Ratings
    name: str
    cold_users: int
    cold_items: int
    cold_test_ratings: int
    seed: int | None = None

    def cold_mask(self) -> np.ndarray:
        """Boolean mask over the test ratings: True where the user or the item is cold."""
        seen_users = np.bincount(self.train.users, minlength=self.train.n_users) > 0
        seen_items = np.bincount(self.train.items, minlength=self.train.n_items) > 0
        return ~seen_users[self.test.users] | ~seen_items[self.test.items]

    def warm_test(self) -> Ratings:
        """The test ratings whose user and item both occur in train."""
        return self.test.subset(~self.cold_mask())

    def report(self) -> dict[str, Any]:
        """Sizes and cold-start counts as a JSON-able dict."""
        return {
            "split": self.name,
            "seed": self.seed,
            "n_train": len(self.train),
            "n_test": len(self.test),
            "test_fraction": len(self.test) / max(1, len(self.train) + len(self.test)),
            "train_users": int(np.count_nonzero(self.train.user_counts())),
            "train_items": int(np.count_nonzero(self.train.item_counts())),
            "test_users": int(np.count_nonzero(self.test.user_counts())),
            "test_items": int(np.count_nonzero(self.test.item_counts())),
            "cold_users": self.cold_users,
            "cold_items": self.cold_items,
            "cold_test_ratings": self.cold_test_ratings,
        }

    def __repr__(self) -> str:
        return (
            f"Split({self.name!r}: train {len(self.train):,}, test {len(self.test):,}, "
            f"cold users {self.cold_users}, cold items {self.cold_items})"
        )


def split_by_mask(
    ratings: Ratings,
    test_mask: np.ndarray,
    name: str,
    *,
    train_mask: np.ndarray | None = None,
    seed: int | None = None,
) -> Split:
    """The split testing on ``ratings[test_mask]`` and training on the rest (or ``train_mask``)."""
    test_mask = np.asarray(test_mask, dtype=bool)
    if train_mask is None:
        train_mask = ~test_mask
    train = ratings.subset(train_mask, name=f"{ratings.name}[{name} train]")
    test = ratings.subset(test_mask, name=f"{ratings.name}[{name} test]")
    seen_users = np.bincount(train.users, minlength=ratings.n_users) > 0
    seen_items = np.bincount(train.items, minlength=ratings.n_items) > 0
    in_test_users = np.bincount(test.users, minlength=ratings.n_users) > 0
    in_test_items = np.bincount(test.items, minlength=ratings.n_items) > 0
    cold = ~seen_users[test.users] | ~seen_items[test.items]
    return Split(
        train=train,
        test=test,
        name=name,
        cold_users=int(np.count_nonzero(in_test_users & ~seen_users)),
        cold_items=int(np.count_nonzero(in_test_items & ~seen_items)),
        cold_test_ratings=int(np.count_nonzero(cold)),
        seed=seed,
    )


def _check_fraction(fraction: float, what: str) -> float:
    fraction = float(fraction)
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"{what} fraction must lie strictly between 0 and 1, not {fraction:g}")
    return fraction


def _rows_mask(n: int, rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def random_split(ratings: Ratings, fraction: float = 0.2, seed: int = 0) -> Split:
    """Random holdout: ``round(fraction * n)`` ratings drawn without replacement form the test."""
    fraction = _check_fraction(fraction, "test")
    n = len(ratings)
    n_test = int(round(fraction * n))
    rows = np.random.default_rng(seed).choice(n, size=n_test, replace=False)
    return split_by_mask(ratings, _rows_mask(n, rows), f"random:{fraction:g}", seed=seed)


def holdout_validation(train: Ratings, fraction: float = 0.1, seed: int = 0) -> Split:
    """Carve a validation set out of a TRAINING part, for early stopping.

    The returned split's ``train`` is what the model fits and its ``test`` is the
    validation set; both are subsets of ``train``, so the test part of the outer
    split is never seen. Drawn like :func:`random_split`.
    """
    fraction = _check_fraction(fraction, "validation")
    n = len(train)
    n_val = int(round(fraction * n))
    rows = np.random.default_rng(seed).choice(n, size=n_val, replace=False)
    return split_by_mask(train, _rows_mask(n, rows), f"validation:{fraction:g}", seed=seed)


def _fold_of(n: int, k: int, seed: int) -> np.ndarray:
    fold = np.empty(n, dtype=np.int32)
    fold[np.random.default_rng(seed).permutation(n)] = np.arange(n) % k
    return fold


def _check_k(k: int, n: int) -> None:
    if k < 2:
        raise ConfigError(f"k-fold needs k >= 2 folds, not {k}")
    if k > n:
        raise ConfigError(f"k-fold with k={k} needs at least {k} ratings, the data has {n}")


def kfold(ratings: Ratings, k: int = 5, seed: int = 0) -> Iterator[Split]:
    """The ``k`` splits of a seeded k-fold cross-validation; their test sets partition the data.

    A permutation ``pi`` of the rows (from ``seed``) puts row ``pi[j]`` in fold
    ``j mod k``, so fold sizes differ by at most one. Split ``i`` (1-based) tests
    on fold ``i`` and trains on the other ``k - 1``.
    """
    _check_k(k, len(ratings))
    fold = _fold_of(len(ratings), k, seed)
    for i in range(1, k + 1):
        yield split_by_mask(ratings, fold == i - 1, f"kfold:{k}:{i}", seed=seed)


def kfold_split(ratings: Ratings, k: int, fold: int, seed: int = 0) -> Split:
    """Fold ``fold`` (1-based) of :func:`kfold` with the same ``k`` and ``seed``."""
    _check_k(k, len(ratings))
    if not 1 <= fold <= k:
        raise ConfigError(f"k-fold fold must be 1..{k}, not {fold}")
    folds = _fold_of(len(ratings), k, seed)
    return split_by_mask(ratings, folds == fold - 1, f"kfold:{k}:{fold}", seed=seed)


def _require_timestamps(ratings: Ratings, what: str) -> np.ndarray:
    if ratings.timestamps is None:
        raise DataError(
            f"a {what} split needs timestamps and the ratings {ratings.name!r} have none",
            hint="use random:F or kfold:K:I instead",
        )
    return ratings.timestamps


def temporal_split(ratings: Ratings, fraction: float = 0.1, *, per_user: bool = False) -> Split:
    """The latest ratings are the test set.

    Globally: the ``round(fraction * n)`` latest ratings. Per user: each user's
    latest ``min(floor(fraction * n_u + 1/2), n_u - 1)`` ratings, so every user
    keeps at least one rating in train. Equal timestamps are ordered by file order.
    """
    fraction = _check_fraction(fraction, "temporal test")
    timestamps = _require_timestamps(ratings, "temporal")
    n = len(ratings)
    if not per_user:
        order = np.argsort(timestamps, kind="stable")
        n_test = int(round(fraction * n))
        test_rows = order[n - n_test :] if n_test else order[:0]
        return split_by_mask(ratings, _rows_mask(n, test_rows), f"temporal:{fraction:g}")
    by_time = np.argsort(timestamps, kind="stable")
    order = by_time[group_by_user(ratings.users[by_time], ratings.n_users)]
    rank = rank_within_user(ratings.users, order, ratings.n_users)
    counts = ratings.user_counts()
    n_test = np.minimum(np.floor(fraction * counts + 0.5), np.maximum(counts - 1, 0))
    test_mask = rank >= (counts - n_test)[ratings.users]
    return split_by_mask(ratings, test_mask, f"temporal-user:{fraction:g}")


def leave_k_out(ratings: Ratings, k: int = 1, seed: int = 0) -> Split:
    """Per user, ``k`` ratings drawn at random are the test set (ranking evaluation).

    Only users with more than ``k`` ratings contribute, so every test user keeps at
    least one rating in train and has exactly ``k`` test ratings.
    """
    if k < 1:
        raise ConfigError(f"leave-k-out needs k >= 1, not {k}")
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(ratings))
    order = shuffled[group_by_user(ratings.users[shuffled], ratings.n_users)]
    rank = rank_within_user(ratings.users, order, ratings.n_users)
    counts = ratings.user_counts()
    test_mask = (rank < k) & (counts[ratings.users] > k)
    return split_by_mask(ratings, test_mask, f"leave:{k}", seed=seed)


def predefined_split(
    ratings: Ratings,
    name: str,
    *,
    data_dir: str | Path | None = None,
    derive: bool = False,
) -> Split:
    """An official MovieLens fold (``u1``..``u5``, ``ua``, ``ub``, ``r1``..``r5``, ``ra``, ``rb``).

    Read from the fold files when they are in the dataset's folder, else derived
    from the file order of ``ratings`` (or always derived when ``derive``); see
    :func:`~embrec.data.movielens_folds.fold_masks`. Train and test are subsets of
    ``ratings`` either way.
    """
    fold, train_mask, test_mask = fold_masks(ratings, name, data_dir=data_dir, derive=derive)
    return split_by_mask(ratings, test_mask, fold.name, train_mask=train_mask)


# -- split specs for the command line ---------------------------------------------------


@dataclass(frozen=True)
class SplitSpec:
    """A parsed split spec: ``kind`` plus the parameter that kind takes."""

    kind: str
    fraction: float | None = None
    k: int | None = None
    fold: int | None = None
    predefined: str | None = None

    def __str__(self) -> str:
        if self.kind == "predefined":
            return str(self.predefined)
        if self.kind == "kfold":
            return f"kfold:{self.k}:{self.fold}"
        if self.kind == "leave":
            return f"leave:{self.k}"
        return f"{self.kind}:{self.fraction:g}"


def _bad_spec(spec: str, why: str = "") -> ConfigError:
    reason = f" ({why})" if why else ""
    return ConfigError(f"bad split spec {spec!r}{reason}; accepted forms: {', '.join(SPEC_FORMS)}")


def parse_split_spec(spec: str) -> SplitSpec:
    """Parse ``random:0.2``, ``u1``, ``ua``, ``kfold:5:1``, ``temporal:0.1``, ``temporal-user:0.1``,
    ``leave:1``...; raises :class:`ConfigError` listing the accepted forms."""
    text = spec.strip().lower()
    if text in PREDEFINED_FOLDS:
        return SplitSpec("predefined", predefined=text)
    kind, _, rest = text.partition(":")
    parts = rest.split(":") if rest else []
    try:
        if kind in {"random", "temporal", "temporal-user"} and len(parts) == 1:
            fraction = float(parts[0])
            if not 0.0 < fraction < 1.0:
                raise _bad_spec(spec, "the fraction must lie strictly between 0 and 1")
            return SplitSpec(kind, fraction=fraction)
        if kind == "kfold" and len(parts) == 2:
            k, fold = int(parts[0]), int(parts[1])
            if k < 2 or not 1 <= fold <= k:
                raise _bad_spec(spec, "need k >= 2 and 1 <= fold <= k")
            return SplitSpec("kfold", k=k, fold=fold)
        if kind == "leave" and len(parts) == 1:
            k = int(parts[0])
            if k < 1:
                raise _bad_spec(spec, "need k >= 1")
            return SplitSpec("leave", k=k)
    except ValueError:
        raise _bad_spec(spec, "a number did not parse") from None
    raise _bad_spec(spec)


def make_split(
    ratings: Ratings,
    spec: str | SplitSpec,
    *,
    data_dir: str | Path | None = None,
    seed: int = 0,
) -> Split:
    """The split a spec string names (see :func:`parse_split_spec`), drawn with ``seed``."""
    parsed = parse_split_spec(spec) if isinstance(spec, str) else spec
    if parsed.kind == "predefined":
        return predefined_split(ratings, str(parsed.predefined), data_dir=data_dir)
    if parsed.kind == "random":
        return random_split(ratings, float(parsed.fraction), seed=seed)
    if parsed.kind == "kfold":
        return kfold_split(ratings, int(parsed.k), int(parsed.fold), seed=seed)
    if parsed.kind in {"temporal", "temporal-user"}:
        per_user = parsed.kind == "temporal-user"
        return temporal_split(ratings, float(parsed.fraction), per_user=per_user)
    if parsed.kind == "leave":
        return leave_k_out(ratings, int(parsed.k), seed=seed)
    raise _bad_spec(str(parsed))
