"""The posterior mean of a Bayesian FM's kept Gibbs samples, as network weights.

Each kept sample ``s`` adds its ``w0``, per-user ``A_s(u)``, per-item ``B_s(i)``
and interaction matrix ``P_s Q_sᵀ`` to running sums; at the end the mean
interaction matrix ``M = (1/S) Σ_s P_s Q_sᵀ`` is factorised exactly (or to
``width`` columns) by :func:`symmetric_factors`, and ``T`` thinned samples are
kept whole for fold-in (see :mod:`embrec.models.bfm`). When ``n_users · n_items``
is too large to hold ``M``, the factors of ``width // rank`` evenly spaced
samples are stacked instead (scaled by ``1/sqrt(count)``), an approximation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

DENSE_LIMIT = 50_000_000
"""Largest ``n_users · n_items`` whose posterior-mean matrix is accumulated densely."""


class PosteriorMean:
    """Running sums of the kept samples, turned into the weights of a ``BayesianFM``."""

    def __init__(self, n_users: int, n_items: int, rank: int, kept: int, width: int,
                 fold_in_samples: int) -> None:
        self.count = 0
        self.w0 = 0.0
        self.user_bias = np.zeros(n_users)
        self.item_bias = np.zeros(n_items)
        self.dense = n_users * n_items <= DENSE_LIMIT
        self.matrix = np.zeros((n_users, n_items)) if self.dense else None
        stacked = 1 if self.dense else max(1, width // rank)
        self.stack_at = set(np.linspace(0, kept - 1, min(stacked, kept)).round().astype(int))
        self.stacked: list[tuple[np.ndarray, np.ndarray]] = []
        self.fold_at = set(np.linspace(0, kept - 1, min(fold_in_samples, kept))
                           .round().astype(int)) if fold_in_samples else set()
        self.fold: list[tuple[np.ndarray, ...]] = []
        self.width = width

    def add(self, state: Any, n_items: int) -> None:
        """Add the current sample of ``state`` (a :class:`~embrec.solvers.gibbs.GibbsSampler`)."""
        P, Q = state.user.P, state.item.P
        self.w0 += state.w0
        self.user_bias += state.user.A
        self.item_bias += state.item.A
        if self.dense:
            self.matrix += P @ Q.T
        elif self.count in self.stack_at:
            self.stacked.append((P.copy(), Q.copy()))
        if self.count in self.fold_at:
            rated_w, rated_v = state.rated_parameters(n_items)
            self.fold.append((state.w0 + state.item.A, Q.copy(), rated_v.copy(),
                              rated_w.copy(), state.user_prior()))
        self.count += 1

    def state(self) -> dict[str, Any]:
        """The running sums, for a checkpoint (tensors and numbers)."""
        def tensors(arrays: tuple[np.ndarray, ...]) -> tuple[torch.Tensor, ...]:
            return tuple(torch.from_numpy(np.array(a, dtype=np.float64)) for a in arrays)

        return {
            "count": self.count, "w0": self.w0,
            "user_bias": torch.from_numpy(self.user_bias.copy()),
            "item_bias": torch.from_numpy(self.item_bias.copy()),
            "matrix": None if self.matrix is None else torch.from_numpy(self.matrix.copy()),
            "stacked": [tensors(pair) for pair in self.stacked],
            "fold": [tensors(sample) for sample in self.fold],
        }

    def load_state(self, state: dict[str, Any]) -> None:
        def arrays(saved: tuple[torch.Tensor, ...]) -> tuple[np.ndarray, ...]:
            return tuple(t.numpy().copy() for t in saved)

        self.count, self.w0 = int(state["count"]), float(state["w0"])
        self.user_bias = state["user_bias"].numpy().copy()
        self.item_bias = state["item_bias"].numpy().copy()
        if state["matrix"] is not None:
            self.matrix = state["matrix"].numpy().copy()
        self.stacked = [arrays(pair) for pair in state["stacked"]]
        self.fold = [arrays(sample) for sample in state["fold"]]

    def factors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(p, q)`` with ``p qᵀ`` the mean interaction matrix (exact or truncated SVD)."""
        if self.dense:
            return symmetric_factors(self.matrix / self.count, self.width)
        scale = 1.0 / math.sqrt(len(self.stacked))
        p = np.hstack([P for P, _ in self.stacked]) * scale
        q = np.hstack([Q for _, Q in self.stacked]) * scale
        return p[:, : self.width], q[:, : self.width]

    @torch.no_grad()
    def publish(self, module: torch.nn.Module) -> None:
        p, q = self.factors()
        module.user_factors.weight.zero_()
        module.item_factors.weight.zero_()
        module.user_factors.weight[:, : p.shape[1]] = torch.from_numpy(p).float()
        module.item_factors.weight[:, : q.shape[1]] = torch.from_numpy(q).float()
        module.user_bias.weight[:, 0] = torch.from_numpy(self.user_bias / self.count).float()
        module.item_bias.weight[:, 0] = torch.from_numpy(self.item_bias / self.count).float()
        module.global_bias.fill_(self.w0 / self.count)
        for index, name in enumerate(("fold_offset", "fold_item", "fold_rated",
                                      "fold_rated_w", "fold_prior")):
            target = getattr(module, name)
            for s, sample in enumerate(self.fold[: target.shape[0]]):
                target[s] = torch.from_numpy(np.asarray(sample[index])).float()


def symmetric_factors(matrix: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(p, q)`` with ``p qᵀ`` the best rank-``width`` approximation of ``matrix`` (its SVD).

    From the eigendecomposition of the smaller Gram matrix: for ``M = U Σ Vᵀ``
    with fewer rows than columns, ``M Mᵀ = U Σ² Uᵀ``, ``p = U Σ^½`` and
    ``q = Mᵀ U Σ^-½`` (several times faster than a full SVD; directions with a
    singular value below 1e-9 of the largest are dropped, they carry nothing).
    """
    flipped = matrix.shape[0] > matrix.shape[1]
    M = matrix.T if flipped else matrix
    eigenvalues, U = np.linalg.eigh(M @ M.T)
    order = np.argsort(eigenvalues)[::-1][:width]
    sigma = np.sqrt(np.maximum(eigenvalues[order], 0.0))
    keep = sigma > 1e-9 * max(float(sigma[0]) if len(sigma) else 0.0, 1e-300)
    p = np.zeros((M.shape[0], len(order)))
    q = np.zeros((M.shape[1], len(order)))
    p[:, keep] = U[:, order[keep]] * np.sqrt(sigma[keep])
    q[:, keep] = (M.T @ U[:, order[keep]]) / np.sqrt(sigma[keep])
    return (q, p) if flipped else (p, q)
