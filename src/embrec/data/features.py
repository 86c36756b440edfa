"""Feature rows of users and items for factorisation machines.

A factorisation machine (Rendle, "Factorization Machines", ICDM 2010) sees a
rating ``(u, i)`` as a sparse feature vector ``x``. When every feature belongs
either to the user or to the item, ``x`` is the concatenation of a *user row*
``x^U(u)`` and an *item row* ``x^I(i)`` (the relational blocks of Rendle,
"Scaling Factorization Machines to Relational Data", VLDB 2013). This module
builds those rows from a :class:`~embrec.data.ratings.Ratings`, block by block:

user row ``x^U(u)``:

* ``user``: the one-hot id, ``x = 1``;
* ``rated``: the items the user rated in the training data (implicit feedback,
  SVD++ of Koren, KDD 2008), ``x_j = 1/sqrt(|N(u)|)`` for ``j in N(u)``;
* side information from ``Ratings.user_info`` (ml-100k ``u.user``, ml-1m
  ``users.dat``): ``age`` in 5-year buckets, ``gender``, ``occupation`` and the
  first character of ``zip``, each one-hot.

item row ``x^I(i)``:

* ``item``: the one-hot id;
* ``raters``: the users who rated the item ("flipped" implicit feedback, the
  Bayesian timeSVD++ flipped of Rendle, Zhang & Koren, "On the Difficulty of
  Evaluating Baselines", 2019), ``x_v = 1/sqrt(|N(i)|)``;
* side information from ``Ratings.item_info``: ``genres`` multi-hot with
  ``x = 1/sqrt(number of genres)``, release ``year`` in 5-year buckets.

Every named block is one *group*: the Bayesian FM gives each group its own prior
mean and precision. Only the training ratings feed the implicit blocks, so a
held-out rating never leaks into its own prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from embrec.data.ratings import Ratings

AGE_BUCKET = 5
YEAR_BUCKET = 5
USER_BLOCKS = ("user", "rated", "side")
ITEM_BLOCKS = ("item", "raters", "side")


@dataclass
class FeatureRows:
    """One sparse row of features per entity (CSR), with a group per feature.

    Attributes:
        indptr, indices, values: the CSR rows (``indptr`` int64, ``indices`` int32,
            ``values`` float64); row ``e`` holds the features of entity ``e``.
        groups: the group index of each feature (int32, length ``n_features``).
        group_names: the name of each group (``user``, ``rated``, ``age``...).
    """

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    groups: np.ndarray
    group_names: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_features(self) -> int:
        return len(self.groups)

    def describe(self) -> dict[str, int]:
        """Features per group, e.g. ``{"user": 943, "rated": 1682, "age": 14}``."""
        counts = np.bincount(self.groups, minlength=len(self.group_names))
        return {name: int(n) for name, n in zip(self.group_names, counts)}


class _Builder:
    """Collects (row, feature, value) triples block by block."""

    def __init__(self, n_rows: int) -> None:
        self.n_rows = n_rows
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.groups: list[np.ndarray] = []
        self.names: list[str] = []
        self.width = 0

    def add(self, name: str, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
            n_features: int) -> None:
        if n_features == 0:
            return
        self.rows.append(np.asarray(rows, dtype=np.int64))
        self.cols.append(np.asarray(cols, dtype=np.int64) + self.width)
        self.vals.append(np.asarray(vals, dtype=np.float64))
        self.groups.append(np.full(n_features, len(self.names), dtype=np.int32))
        self.names.append(name)
        self.width += n_features

    def categorical(self, name: str, labels: pd.Series) -> None:
        """One-hot of a per-row label; missing labels get no feature."""
        present = labels.notna().to_numpy()
        codes, uniques = pd.factorize(labels[present], sort=True)
        rows = np.flatnonzero(present)
        self.add(name, rows, codes, np.ones(len(rows)), len(uniques))

    def build(self) -> FeatureRows:
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, np.int64)
        cols = np.concatenate(self.cols) if self.cols else np.zeros(0, np.int64)
        vals = np.concatenate(self.vals) if self.vals else np.zeros(0)
        order = np.lexsort((cols, rows))
        indptr = np.zeros(self.n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self.n_rows), out=indptr[1:])
        groups = np.concatenate(self.groups) if self.groups else np.zeros(0, np.int32)
        return FeatureRows(indptr, cols[order].astype(np.int32), vals[order], groups,
                           list(self.names))


def _implicit(builder: _Builder, name: str, owners: np.ndarray, members: np.ndarray,
              n_members: int) -> None:
    """``x_j = 1/sqrt(|N(owner)|)`` for each member ``j`` the owner co-occurs with."""
    counts = np.bincount(owners, minlength=builder.n_rows).astype(np.float64)
    weights = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    builder.add(name, owners, members, weights[owners], n_members)


def _user_side(builder: _Builder, info: pd.DataFrame | None) -> None:
    if info is None:
        return
    info = info.reindex(np.arange(builder.n_rows))
    if "age" in info:
        age = pd.to_numeric(info["age"], errors="coerce")
        builder.categorical("age", (age // AGE_BUCKET) * AGE_BUCKET)
    for column in ("gender", "occupation"):
        if column in info:
            builder.categorical(column, info[column].astype("string"))
    if "zip" in info:
        builder.categorical("zip", info["zip"].astype("string").str.strip().str[:1]
                            .replace("", pd.NA))


def _item_side(builder: _Builder, info: pd.DataFrame | None) -> None:
    if info is None:
        return
    info = info.reindex(np.arange(builder.n_rows))
    if "genres" in info:
        lists = info["genres"].astype("string").fillna("").str.split("|")
        rows, names = [], []
        for row, genres in enumerate(lists):
            picked = [g for g in genres if g and g != "(no genres listed)"]
            rows += [row] * len(picked)
            names += picked
        if names:
            codes, uniques = pd.factorize(pd.Series(names), sort=True)
            rows_array = np.asarray(rows)
            per_row = np.bincount(rows_array, minlength=builder.n_rows)
            builder.add("genres", rows_array, codes,
                        1.0 / np.sqrt(per_row[rows_array]), len(uniques))
    if "year" in info:
        year = pd.to_numeric(info["year"], errors="coerce")
        builder.categorical("year", (year // YEAR_BUCKET) * YEAR_BUCKET)


def user_rows(train: Ratings, blocks: tuple[str, ...] = USER_BLOCKS) -> FeatureRows:
    """The user rows ``x^U(u)`` of the ``blocks`` asked for (see the module docstring)."""
    builder = _Builder(train.n_users)
    if "user" in blocks:
        ids = np.arange(train.n_users)
        builder.add("user", ids, ids, np.ones(train.n_users), train.n_users)
    if "rated" in blocks:
        _implicit(builder, "rated", train.users, train.items, train.n_items)
    if "side" in blocks:
        _user_side(builder, train.user_info)
    return builder.build()


def item_rows(train: Ratings, blocks: tuple[str, ...] = ITEM_BLOCKS) -> FeatureRows:
    """The item rows ``x^I(i)`` of the ``blocks`` asked for (see the module docstring)."""
    builder = _Builder(train.n_items)
    if "item" in blocks:
        ids = np.arange(train.n_items)
        builder.add("item", ids, ids, np.ones(train.n_items), train.n_items)
    if "raters" in blocks:
        _implicit(builder, "raters", train.items, train.users, train.n_users)
    if "side" in blocks:
        _item_side(builder, train.item_info)
    return builder.build()
