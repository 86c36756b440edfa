"""Alternating least squares for (biased) matrix factorisation.

The objective is the one the SGD solver descends (see :mod:`embrec.solvers.sgd`),
with the regulariser of each row weighted by its number of ratings, as SGD's
per-rating steps weight it (ALS-WR: Zhou, Wilkinson, Schreiber & Pan,
"Large-Scale Parallel Collaborative Filtering for the Netflix Prize", AAIM 2008)::

    min  Σ_(u,i) (r_ui - μ - b_u - b_i - p_u · q_i)²
         + λ Σ_u n_u (‖p_u‖² + b_u²) + λ Σ_i n_i (‖q_i‖² + b_i²)

With the items fixed the objective separates into one ridge regression per
user. Write ``x_u = [p_u; b_u]``, ``y_i = [q_i; 1]`` and ``t_ui = r_ui - μ - b_i``;
then the minimiser solves the normal equations::

    (Σ_{i ∈ R(u)} y_i y_iᵀ + λ n_u I) x_u = Σ_{i ∈ R(u)} t_ui y_i

that is ``(Y_uᵀ Y_u + λ n_u I) x_u = Y_uᵀ t_u`` with ``Y_u`` the ``n_u × (k + 1)``
matrix of the rated items' rows. The items are then solved the same way
against the fixed users (``y_u = [p_u; 1]``, ``t_ui = r_ui - μ - b_u``). One epoch
is a user half-step and an item half-step; each lowers the objective, so the
loss never rises. Plain MF (``r̂ = p_u · q_i``) drops the bias column: ``x_u = p_u``,
``y_i = q_i``, ``t_ui = r_ui``.

Each row's system is accumulated (lower triangle of the Gram matrix, one
rank-one update per rating) and solved by Cholesky factorisation in float64,
rows in parallel (``numba.prange``); no BLAS is called from the threads. A row
without ratings gets zeros.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, fastmath=True)
def solve_row(
    columns: np.ndarray,
    ratings: np.ndarray,
    fixed_factors: np.ndarray,
    fixed_bias: np.ndarray,
    global_mean: float,
    reg: float,
    biased: bool,
) -> np.ndarray:
    """``x`` solving ``(YᵀY + λ n I) x = Yᵀ t`` for one row (see the module docstring).

    ``columns`` are the fixed rows this row rated and ``ratings`` the ratings.
    Returns ``[p; b]`` (length ``k + 1``) when ``biased``, else ``p`` (length ``k``).
    """
    n = len(columns)
    k = fixed_factors.shape[1]
    d = k + 1 if biased else k
    gram = np.zeros((d, d), dtype=np.float64)
    x = np.zeros(d, dtype=np.float64)
    y = np.empty(d, dtype=np.float64)
    for j in range(n):
        c = columns[j]
        for f in range(k):
            y[f] = fixed_factors[c, f]
        target = ratings[j]
        if biased:
            y[k] = 1.0
            target -= global_mean + fixed_bias[c]
        for a in range(d):
            ya = y[a]
            x[a] += target * ya
            for b in range(a + 1):
                gram[a, b] += ya * y[b]
    for a in range(d):
        gram[a, a] += reg * n
    cholesky_solve(gram, x)
    return x


@njit(cache=True, nogil=True, fastmath=True)
def cholesky_solve(matrix: np.ndarray, rhs: np.ndarray) -> None:
    """Solve ``A x = b`` for symmetric positive definite ``A`` (lower triangle given), in place.

    ``A = L Lᵀ`` overwrites the lower triangle of ``matrix``; ``rhs`` becomes ``x``.
    """
    d = len(rhs)
    for a in range(d):
        total = matrix[a, a]
        for c in range(a):
            total -= matrix[a, c] * matrix[a, c]
        pivot = np.sqrt(total)
        matrix[a, a] = pivot
        for b in range(a + 1, d):
            total = matrix[b, a]
            for c in range(a):
                total -= matrix[b, c] * matrix[a, c]
            matrix[b, a] = total / pivot
    for a in range(d):
        total = rhs[a]
        for c in range(a):
            total -= matrix[a, c] * rhs[c]
        rhs[a] = total / matrix[a, a]
    for a in range(d - 1, -1, -1):
        total = rhs[a]
        for c in range(a + 1, d):
            total -= matrix[c, a] * rhs[c]
        rhs[a] = total / matrix[a, a]


@njit(parallel=True, cache=True, nogil=True)
def solve_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    fixed_factors: np.ndarray,
    fixed_bias: np.ndarray,
    own_factors: np.ndarray,
    own_bias: np.ndarray,
    global_mean: float,
    reg: float,
    biased: bool,
) -> None:
    """One half-step: every row of ``own_*`` solved against the fixed other side, in place.

    Row ``r``'s ratings are ``values[indptr[r]:indptr[r + 1]]`` of the fixed rows
    ``indices[...]`` (CSR).
    """
    k = own_factors.shape[1]
    for r in prange(len(indptr) - 1):
        start, stop = indptr[r], indptr[r + 1]
        if stop == start:
            own_factors[r, :] = 0.0
            own_bias[r] = 0.0
            continue
        x = solve_row(
            indices[start:stop], values[start:stop], fixed_factors, fixed_bias,
            global_mean, reg, biased,
        )
        for f in range(k):
            own_factors[r, f] = x[f]
        if biased:
            own_bias[r] = x[k]


@njit(parallel=True, fastmath=True, cache=True, nogil=True)
def squared_error(
    users: np.ndarray,
    items: np.ndarray,
    values: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    user_bias: np.ndarray,
    item_bias: np.ndarray,
    global_mean: float,
) -> float:
    """``Σ (r_ui - μ - b_u - b_i - p_u · q_i)²`` over the given ratings."""
    total = 0.0
    k = user_factors.shape[1]
    for j in prange(len(values)):
        u, i = users[j], items[j]
        dot = 0.0
        for f in range(k):
            dot += user_factors[u, f] * item_factors[i, f]
        err = values[j] - (global_mean + user_bias[u] + item_bias[i] + dot)
        total += err * err
    return total


class RatingMatrix:
    """The training ratings as two CSR matrices (by user and by item) for the half-steps."""

    def __init__(
        self, users: np.ndarray, items: np.ndarray, values: np.ndarray, n_users: int, n_items: int
    ) -> None:
        self.users, self.items, self.values = users, items, values
        self.by_user = _csr(users, items, values, n_users)
        self.by_item = _csr(items, users, values, n_items)

    def __len__(self) -> int:
        return len(self.values)


def _csr(
    rows: np.ndarray, columns: np.ndarray, values: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return (
        indptr,
        np.ascontiguousarray(columns[order], dtype=np.int32),
        np.ascontiguousarray(values[order], dtype=np.float64),
    )


def run_als_epoch(
    matrix: RatingMatrix,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    user_bias: np.ndarray,
    item_bias: np.ndarray,
    global_mean: float,
    reg: float,
    biased: bool,
) -> float:
    """A user half-step then an item half-step, in place; returns the training MSE after both."""
    mean = global_mean if biased else 0.0
    solve_rows(*matrix.by_user, item_factors, item_bias, user_factors, user_bias,
               mean, reg, biased)
    solve_rows(*matrix.by_item, user_factors, user_bias, item_factors, item_bias,
               mean, reg, biased)
    total = squared_error(matrix.users, matrix.items, matrix.values, user_factors,
                          item_factors, user_bias, item_bias, mean)
    return float(total) / max(1, len(matrix))
