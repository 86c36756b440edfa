"""EASE: an item-item model fitted in closed form to rank, not to predict ratings.

Embarrassingly Shallow Autoencoder (Steck, "Embarrassingly Shallow Autoencoders
for Sparse Data", WWW 2019). With ``X`` the users x items 0/1 matrix of who rated
what (a rating of any value counts: it says the user picked the item), the item
weights ``B`` solve::

    min_B ||X - X B||_F^2 + lambda ||B||_F^2   subject to diag(B) = 0

in closed form::

    P = (X^T X + lambda I)^-1,    B_ij = -P_ij / P_jj  (i != j),    B_jj = 0

A user's score of item ``j`` is ``s_uj = sum_i x_ui B_ij``: the row of the user's
picks times ``B``. A brand-new user is scored the same way from the items they
rated, without refitting: fold-in is one vector-matrix product.

``lambda`` is chosen from a grid (default 100, 200, 400, 800) by NDCG@10 on a
seeded carve-out of the training ratings (20 % of them, relevant = rating >= 4,
the protocol of :mod:`embrec.ranking_protocol`), then ``B`` is refitted on all
of train. On ml-100k u1..u5 the test NDCG@10 is 0.383 mean (precision@10 0.290,
coverage@10 0.17; popularity 0.198); on u1 the carve-out picks 400.

Size: ``B`` is ``n_items^2``. Up to ``DENSE_ITEMS`` items it is kept dense
(float32; 1,682 items = 11 MB). Above that each item keeps its ``keep`` (256)
weights largest in size, so the stored ``B`` grows linearly (ml-latest-small,
9,724 items: 20 MB instead of 378 MB; random 20 % split, seed 0: NDCG@10 0.300
against 0.311 for the dense ``B`` at lambda 200). Fitting needs the dense ``n^2`` Gram matrix in
float64 and about three copies of it (10,000 items: about 2.4 GB), and each lambda
of the grid is one more fit (ml-latest-small, 2 cores: about 1-2 minutes in all);
catalogues above ``MAX_ITEMS`` (10,000) fit EASE on their 10,000 most-rated items
and the rest score 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from embrec.data.ratings import Ratings
from embrec.data.splits import holdout_validation
from embrec.errors import ConfigError
from embrec.ranking_protocol import evaluate_ranking

DEFAULT_LAMBDAS = (100.0, 200.0, 400.0, 800.0)
CARVE_FRACTION = 0.2
DENSE_ITEMS = 4096
MAX_ITEMS = 10_000
KEEP_PER_ITEM = 256
SELECTION_K = 10
RELEVANT_AT = 4.0


def pick_matrix(users: np.ndarray, items: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """The 0/1 users x items CSR of who rated what."""
    matrix = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=shape)
    matrix.data[:] = 1.0
    return matrix


def ease_weights(picks: sp.csr_matrix, lam: float) -> np.ndarray:
    """Dense ``B`` (float32, zero diagonal) from a 0/1 matrix: see the module docstring.

    The inverse is taken from the Cholesky factor of ``X^T X + lambda I`` (LAPACK
    ``potrf``/``potri``), about a third of the work of a general inverse.
    """
    if lam <= 0:
        raise ConfigError(f"EASE lambda must be positive, not {lam:g}")
    gram = (picks.T @ picks).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += lam
    factor, info = scipy.linalg.lapack.dpotrf(gram, lower=True, overwrite_a=True)
    if info != 0:
        raise ConfigError(f"EASE: X^T X + {lam:g} I is not positive definite; raise lambda")
    inverse, info = scipy.linalg.lapack.dpotri(factor, lower=True, overwrite_c=True)
    inverse = np.tril(inverse) + np.tril(inverse, -1).T
    weights = inverse / -np.diag(inverse)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def sparsify(weights: np.ndarray, keep: int) -> sp.csr_matrix:
    """Keep the ``keep`` weights of each column (item ``j``'s evidence) largest in size, as CSR.

    By absolute value: the negative weights (items that make ``j`` less likely)
    matter too. On ml-100k u1 (lambda 400) NDCG@10 is 0.449 dense, 0.442 with 256
    kept by size, 0.429 with the 256 largest positive ones.
    """
    n = weights.shape[0]
    if keep >= n:
        return sp.csr_matrix(weights)
    rows = np.argpartition(-np.abs(weights), keep - 1, axis=0)[:keep]
    cols = np.broadcast_to(np.arange(n), rows.shape)
    values = weights[rows, cols]
    return sp.csr_matrix((values.ravel(), (rows.ravel(), cols.ravel())), shape=weights.shape)


@dataclass
class EASE:
    """A fitted EASE model: item weights over ``n_items`` and how they were chosen.

    ``weights`` is the dense ``B`` or its per-item top-``keep`` CSR; ``items`` maps
    the rows/columns of ``B`` to item indices when EASE covers only the most-rated
    items (None: all). ``selection`` records the carve-out NDCG@10 of each lambda.
    """

    weights: np.ndarray | sp.csr_matrix
    n_items: int
    lam: float
    items: np.ndarray | None = None
    selection: dict[str, float] | None = None

    name = "ease"
    relation = "ease item-item weights (B_ij + B_ji) / 2"

    # -- scoring -------------------------------------------------------------------------

    def score_picks(self, picks: sp.csr_matrix) -> np.ndarray:
        """Scores ``(n_rows, n_items)`` of rows of a users x items matrix (nonzero = picked)."""
        picks = picks.tocsr(copy=True)
        picks.data[:] = 1.0
        if self.items is not None:
            picks = picks[:, self.items]
        scores = picks @ self.weights
        scores = scores.toarray() if sp.issparse(scores) else np.asarray(scores)
        if self.items is None:
            return scores.astype(np.float32, copy=False)
        out = np.zeros((picks.shape[0], self.n_items), dtype=np.float32)
        out[:, self.items] = scores
        return out

    def score_items(self, items: np.ndarray) -> np.ndarray:
        """Fold-in: scores of every item for a new user who rated ``items``."""
        items = np.unique(np.asarray(items, dtype=np.int64))
        picks = pick_matrix(np.zeros(len(items), np.int64), items, (1, self.n_items))
        return self.score_picks(picks)[0]

    def scorer(self, train: Ratings):
        """``score_users(user_indices)`` over the users of ``train`` (for evaluation)."""
        picks = pick_matrix(train.users, train.items, (train.n_users, train.n_items))
        return lambda users: self.score_picks(picks[np.asarray(users)])

    def related(self, item: int) -> np.ndarray:
        """``(B_ij + B_ji) / 2`` for every ``j``: how strongly ``item`` and ``j`` go together.

        ``B_ij`` is how much having picked ``i`` raises ``j``'s score; the mean of
        both directions makes the relation symmetric. Items outside EASE score 0.
        """
        out = np.zeros(self.n_items, dtype=np.float32)
        position = item
        if self.items is not None:
            found = np.searchsorted(self.items, item)
            if found >= len(self.items) or self.items[found] != item:
                return out
            position = int(found)
        weights = self.weights
        if sp.issparse(weights):
            row = weights.getrow(position).toarray()[0]
            column = weights.getcol(position).toarray()[:, 0]
        else:
            row, column = weights[position], weights[:, position]
        both = (row + column) / 2
        if self.items is None:
            return both.astype(np.float32)
        out[self.items] = both
        return out

    def average_user(self, train: Ratings) -> np.ndarray:
        """Scores for the average user: ``p B`` with ``p_i`` the share of users who picked ``i``."""
        counts = pick_matrix(train.users, train.items, (train.n_users, train.n_items)).sum(axis=0)
        shares = np.asarray(counts, dtype=np.float32).ravel() / max(1, train.n_users)
        if self.items is not None:
            shares = shares[self.items]
        scores = np.asarray(shares[None, :] @ self.weights).ravel()
        if self.items is None:
            return scores.astype(np.float32)
        out = np.zeros(self.n_items, dtype=np.float32)
        out[self.items] = scores
        return out

    # -- persistence ---------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        if sp.issparse(self.weights):
            arrays.update(indptr=self.weights.indptr.astype(np.int64),
                          indices=self.weights.indices.astype(np.int32),
                          data=self.weights.data.astype(np.float32))
        else:
            arrays["weights"] = np.ascontiguousarray(self.weights, dtype=np.float32)
        if self.items is not None:
            arrays["items"] = self.items.astype(np.int64)
        return arrays

    def describe(self) -> dict[str, Any]:
        """JSON-able description (for the bundle manifest)."""
        size = self.weights.shape[0]
        return {"name": self.name, "lambda": self.lam, "n_items": self.n_items,
                "covered_items": int(size), "sparse": bool(sp.issparse(self.weights)),
                "selection": self.selection}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> EASE:
        size = int(meta["covered_items"])
        if "weights" in arrays:
            weights: np.ndarray | sp.csr_matrix = np.asarray(arrays["weights"], np.float32)
        else:
            weights = sp.csr_matrix(
                (arrays["data"], arrays["indices"], arrays["indptr"]), shape=(size, size)
            )
        items = arrays.get("items")
        return cls(weights, int(meta["n_items"]), float(meta["lambda"]),
                   None if items is None else np.asarray(items, np.int64),
                   meta.get("selection"))


def fit_ease(
    train: Ratings,
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    *,
    seed: int = 0,
    carve_fraction: float = CARVE_FRACTION,
    max_items: int = MAX_ITEMS,
    dense_items: int = DENSE_ITEMS,
    keep: int = KEEP_PER_ITEM,
) -> EASE:
    """Fit EASE on ``train``, choosing lambda on a carve-out (module docstring).

    With one lambda no carve-out is made. ``max_items``, ``dense_items`` and
    ``keep`` bound the memory (module docstring).
    """
    lambdas = [float(v) for v in lambdas]
    if not lambdas:
        raise ConfigError("EASE needs at least one lambda")
    items = None
    if train.n_items > max_items:
        counts = train.item_counts()
        items = np.sort(np.argsort(-counts, kind="stable")[:max_items])
    selection = None
    lam = lambdas[0]
    if len(lambdas) > 1:
        selection = _select_lambda(train, lambdas, seed, carve_fraction, items)
        lam = float(max(selection, key=lambda key: selection[key]))  # first of equals
    weights = _fit_weights(train, lam, items)
    stored = sparsify(weights, keep) if len(weights) > dense_items else weights
    return EASE(stored, train.n_items, lam, items, selection)


def _fit_weights(train: Ratings, lam: float, items: np.ndarray | None) -> np.ndarray:
    picks = pick_matrix(train.users, train.items, (train.n_users, train.n_items))
    return ease_weights(picks if items is None else picks[:, items], lam)


def _select_lambda(
    train: Ratings,
    lambdas: list[float],
    seed: int,
    fraction: float,
    items: np.ndarray | None,
) -> dict[str, float]:
    """Carve-out NDCG@10 of each lambda, keyed by the lambda as text (JSON keys)."""
    carved = holdout_validation(train, fraction, seed)
    threshold = min(RELEVANT_AT, train.scale.high)
    scores: dict[str, float] = {}
    for lam in lambdas:
        model = EASE(_fit_weights(carved.train, lam, items), train.n_items, lam, items)
        result = evaluate_ranking(
            model.scorer(carved.train), carved.train, carved.test,
            k=SELECTION_K, threshold=threshold,
        )
        scores[f"{lam:g}"] = round(result.ndcg, 5)
    return scores
