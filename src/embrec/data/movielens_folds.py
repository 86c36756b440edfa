"""The official MovieLens folds: which rows of a rating file are train and test.

MovieLens ships fixed evaluation splits with some of its datasets, and results in
the literature are quoted on them:

* ml-100k: ``u1``..``u5`` (five disjoint 20% test blocks of ``u.data``, made by
  ``mku.sh``) and ``ua``/``ub`` (each user's first/next ten ratings, made by
  ``allbut.pl``), as ``uN.base``/``uN.test`` files;
* ml-10m: ``r1``..``r5`` and ``ra``/``rb`` the same way (``split_ratings.sh``),
  as ``rN.train``/``rN.test`` files.

:func:`fold_masks` reads the fold files when they are present (matching each
line to its row of the full ratings) and otherwise derives the fold from the
rating file's order. :mod:`embrec.data.splits` turns the masks into a ``Split``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from embrec.data.ratings import Ratings
from embrec.errors import ConfigError, DataError


def group_by_user(users: np.ndarray, n_users: int) -> np.ndarray:
    """The row order that groups ratings by user and keeps their order within a user.

    Same as ``np.argsort(users, kind="stable")``, done as an LSD radix sort on
    16-bit digits (numpy radix-sorts 16-bit keys), several times faster at 10M rows.
    """
    order = np.argsort((users & 0xFFFF).astype(np.uint16), kind="stable")
    if n_users > 0x10000:
        order = order[np.argsort((users[order] >> 16).astype(np.uint16), kind="stable")]
    return order


def rank_within_user(users: np.ndarray, order: np.ndarray, n_users: int) -> np.ndarray:
    """Position of each rating among its user's ratings, in the sequence given by ``order``.

    ``order`` must list the rows grouped by user (e.g. a stable sort by user).
    """
    counts = np.bincount(users, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - starts[users[order]]
    return rank


@dataclass(frozen=True)
class PredefinedFold:
    """One official MovieLens fold and how to derive it from the file order.

    ``kind="block"``: with ``N`` ratings and ``S = floor(N / n_blocks)``, test
    block ``K`` is lines ``(K-1)*S + 1 .. K*S`` and the last block also takes the
    ``N mod n_blocks`` remaining lines (MovieLens ``mku.sh`` / ``split_ratings.sh``).
    ``kind="per-user"``: the test set holds each user's ratings number
    ``first .. last`` (1-based) in file order (MovieLens ``allbut.pl``).
    """

    name: str
    dataset: str
    kind: str
    block: int = 0
    n_blocks: int = 5
    first: int = 0
    last: int = 0
    train_suffix: str = ".base"
    separator: str = "\t"

    @property
    def test_file(self) -> str:
        return f"{self.name}.test"

    @property
    def train_file(self) -> str:
        return f"{self.name}{self.train_suffix}"

    def test_mask(self, ratings: Ratings) -> np.ndarray:
        """The test rows derived from the order of ``ratings`` (assumed to be file order)."""
        n = len(ratings)
        if self.kind == "block":
            size = n // self.n_blocks
            start = (self.block - 1) * size
            stop = n if self.block == self.n_blocks else self.block * size
            mask = np.zeros(n, dtype=bool)
            mask[start:stop] = True
            return mask
        order = group_by_user(ratings.users, ratings.n_users)
        rank = rank_within_user(ratings.users, order, ratings.n_users)
        return (rank >= self.first - 1) & (rank < self.last)


def _fold_table(dataset: str, prefix: str, train_suffix: str, separator: str) -> dict:
    common = {"dataset": dataset, "train_suffix": train_suffix, "separator": separator}
    table = {
        f"{prefix}{k}": PredefinedFold(f"{prefix}{k}", kind="block", block=k, **common)
        for k in range(1, 6)
    }
    table[f"{prefix}a"] = PredefinedFold(f"{prefix}a", kind="per-user", first=1, last=10, **common)
    table[f"{prefix}b"] = PredefinedFold(f"{prefix}b", kind="per-user", first=11, last=20, **common)
    return table


PREDEFINED_FOLDS: dict[str, PredefinedFold] = {
    **_fold_table("ml-100k", "u", ".base", "\t"),
    **_fold_table("ml-10m", "r", ".train", "::"),
}


KNOWN_DATASETS = frozenset(
    {"ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m", "ml-latest-small", "ml-latest"}
)


def _dataset_of(ratings: Ratings) -> str | None:
    """The MovieLens dataset the ratings were loaded as, when they say so."""
    for candidate in (ratings.source.get("dataset"), ratings.source.get("name"), ratings.name):
        if not isinstance(candidate, str):
            continue
        name = candidate.lower().split("[")[0].replace("ml-10m100k", "ml-10m")
        if name in KNOWN_DATASETS:
            return name
    return None


def _read_fold_file(path: Path, fold: PredefinedFold, ratings: Ratings) -> pd.DataFrame:
    """The ``user, item, rating`` columns of a fold file (raw ids)."""
    if fold.separator == "::":
        sep, columns = ":", [0, 2, 4]
    else:
        sep, columns = fold.separator, [0, 1, 2]
    user_type = np.int64 if ratings.user_ids.is_integer else str
    item_type = np.int64 if ratings.item_ids.is_integer else str
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            header=None,
            usecols=columns,
            engine="c",
            dtype={columns[0]: user_type, columns[1]: item_type, columns[2]: np.float64},
        )
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(
            f"cannot read fold file: {str(error).splitlines()[0]}",
            path=path,
            hint=f"expected {fold.separator!r}-separated user, item, rating, timestamp",
        ) from None
    frame.columns = ["user", "item", "rating"]
    return frame


def _rows_of_file(ratings: Ratings, path: Path, fold: PredefinedFold) -> np.ndarray:
    """Row indices of ``ratings`` matching each line of a fold file, in line order."""
    frame = _read_fold_file(path, fold, ratings)
    users = ratings.user_ids.indices_of(frame["user"].to_numpy())
    items = ratings.item_ids.indices_of(frame["item"].to_numpy())
    n_items = max(1, ratings.n_items)
    keys = ratings.users.astype(np.int64) * n_items + ratings.items
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    wanted = users * n_items + items
    if len(keys) == 0:
        raise DataError(f"the ratings {ratings.name!r} are empty", path=path)
    pos = np.minimum(np.searchsorted(sorted_keys, wanted), len(keys) - 1)
    found = (users >= 0) & (items >= 0) & (sorted_keys[pos] == wanted)
    hint = (
        f"the {fold.name} files belong to {fold.dataset}; load {fold.dataset} itself, "
        "or pick a split that is not predefined"
    )
    if not found.all():
        line = int(np.flatnonzero(~found)[0])
        user, item = frame["user"].iloc[line], frame["item"].iloc[line]
        raise DataError(
            f"user {user} item {item} is not in the ratings {ratings.name!r}",
            path=path,
            line=line + 1,
            hint=hint,
        )
    rows = order[pos]
    differ = ~np.isclose(ratings.values[rows], frame["rating"].to_numpy())
    if differ.any():
        line = int(np.flatnonzero(differ)[0])
        raise DataError(
            f"rating {frame['rating'].iloc[line]:g} differs from the ratings "
            f"{ratings.name!r} ({ratings.values[rows[line]]:g})",
            path=path,
            line=line + 1,
            hint=hint,
        )
    return rows


def _rows_mask(n: int, rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def fold_masks(
    ratings: Ratings,
    name: str,
    *,
    data_dir: str | Path | None = None,
    derive: bool = False,
) -> tuple[PredefinedFold, np.ndarray | None, np.ndarray]:
    """``(fold, train_mask, test_mask)`` of a predefined fold over the rows of ``ratings``.

    When the fold's test file sits in the dataset's folder (found by
    :func:`~embrec.data.datasets.locate_dataset`) and ``derive`` is False, the
    files are read and every line is matched to its row of ``ratings`` (raw ids
    through the ratings' id maps, rating values checked); ``train_mask`` comes
    from the train file, or is None (the complement) when there is none.
    Otherwise the test rows are derived from the row order of ``ratings``, which
    must be the order of the dataset's rating file (see :class:`PredefinedFold`).
    """
    fold = PREDEFINED_FOLDS.get(name.lower())
    if fold is None:
        raise ConfigError(f"unknown predefined fold {name!r}; known: {', '.join(PREDEFINED_FOLDS)}")
    dataset = _dataset_of(ratings)
    if dataset is not None and dataset != fold.dataset:
        raise ConfigError(
            f"split {fold.name} is a fold of {fold.dataset}, not of {dataset}; "
            "use random:F or kfold:K:I for this dataset"
        )
    folder = None
    if not derive:
        from embrec.data.datasets import locate_dataset

        folder = locate_dataset(fold.dataset, data_dir)
    test_path = None if folder is None else Path(folder) / fold.test_file
    if test_path is None or not test_path.is_file():
        return fold, None, fold.test_mask(ratings)
    n = len(ratings)
    test_mask = _rows_mask(n, _rows_of_file(ratings, test_path, fold))
    train_path = Path(folder) / fold.train_file
    if not train_path.is_file():
        return fold, None, test_mask
    train_mask = _rows_mask(n, _rows_of_file(ratings, train_path, fold))
    if (overlap := int(np.count_nonzero(train_mask & test_mask))) > 0:
        raise DataError(
            f"{overlap} ratings are in both {fold.train_file} and {fold.test_file}",
            path=train_path,
            hint="the fold files are damaged; derive the fold instead",
        )
    return fold, train_mask, test_mask
