"""The ``gibbs`` solver: MCMC for the Bayesian factorisation machine (``bfm``).

Model (Freudenthaler, Schmidt-Thieme & Rendle, "Bayesian Factorization
Machines", NIPS workshop 2011; the MCMC of libFM)::

    y_ui ~ N(ŷ(x_ui), 1/α),        ŷ(x) = w0 + Σ_j w_j x_j + Σ_{j<l} <v_j, v_l> x_j x_l
    w_j ~ N(μ^w_g, 1/λ^w_g),       v_jf ~ N(μ^v_gf, 1/λ^v_gf)      (g = group of j)
    μ_g ~ N(0, 1/(γ0 λ_g)),        λ_g ~ Γ(a0/2, b0/2),            α ~ Γ(a_α/2, b_α/2)

with ``x_ui`` the user row and item row of :mod:`embrec.data.features` (ids,
implicit feedback both ways, side information), ``a0 = b0 = γ0 = 1`` and
``w0`` under a flat prior. Every conditional is Gaussian (``ŷ`` is linear in
each single parameter) or Gamma, so a sweep draws, in turn::

    α | e ~ Γ((a_α + N)/2, rate (b_α + Σ e²)/2)
    (μ_g, λ_g) | θ_g               (:func:`~embrec.solvers.gibbs_kernels.sample_hyper`)
    w0, then each w_j and v_jf of the user block, then of the item block
                                   (:func:`~embrec.solvers.gibbs_kernels.sample_block`)

The block sweep uses the relational form of Rendle, "Scaling Factorization
Machines to Relational Data" (VLDB 2013): per-user (per-item) caches make a
sweep cost ``O((nnz(X^U) + nnz(X^I) + N) k²)`` instead of ``O(nnz(X) k)`` over
the expanded design, whose implicit rows have hundreds of entries per rating.

The first ``burn_in`` of the ``epochs`` sweeps are discarded; the prediction
is the average of ``ŷ_s`` over the rest (see :mod:`embrec.models.bfm` for how
that average is stored). Per sweep the history records the training MSE of
the current sample and the RMSE on ``valid`` (reported only, never used to
fit): of the current sample during burn-in, which may rise while the chain
moves away from its start (phase ``burn-in`` in the epoch table), then of the
running posterior mean (phase ``sampling``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from embrec.data.features import FeatureRows, item_rows, user_rows
from embrec.data.ratings import Ratings
from embrec.models.bfm import MAX_WIDTH
from embrec.models.registry import ModelConfig
from embrec.solvers import gibbs_kernels as kernels
from embrec.solvers.gibbs_posterior import DENSE_LIMIT

PRIOR_A0 = PRIOR_B0 = PRIOR_GAMMA0 = 1.0
NOISE_A0 = NOISE_B0 = 1.0


@dataclass
class Block:
    """The arrays of one side (users or items) of the relational Gibbs sweep."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    f_indptr: np.ndarray
    f_owner: np.ndarray
    f_value: np.ndarray
    f_global: np.ndarray
    active: np.ndarray
    r_indptr: np.ndarray
    r_other: np.ndarray
    r_pos: np.ndarray
    P: np.ndarray
    A: np.ndarray
    n: np.ndarray
    sQ: np.ndarray
    G: np.ndarray
    E: np.ndarray
    EQ: np.ndarray

    @classmethod
    def build(cls, rows: FeatureRows, offset: int, owners: np.ndarray, others: np.ndarray,
              rank: int) -> Block:
        n_rows, n_features = rows.n_rows, rows.n_features
        entity = np.repeat(np.arange(n_rows), np.diff(rows.indptr))
        by_feature = np.argsort(rows.indices, kind="stable")
        f_indptr = np.zeros(n_features + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows.indices, minlength=n_features), out=f_indptr[1:])
        counts = np.bincount(owners, minlength=n_rows)
        weight = np.bincount(rows.indices, weights=rows.values**2 * counts[entity],
                             minlength=n_features)
        by_owner = np.argsort(owners, kind="stable")
        r_indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(counts, out=r_indptr[1:])
        return cls(
            indptr=rows.indptr, indices=(rows.indices + offset).astype(np.int64),
            values=rows.values, f_indptr=f_indptr,
            f_owner=entity[by_feature].astype(np.int64), f_value=rows.values[by_feature],
            f_global=np.arange(n_features, dtype=np.int64) + offset, active=weight > 0,
            r_indptr=r_indptr, r_other=others[by_owner].astype(np.int64),
            r_pos=by_owner.astype(np.int64),
            P=np.zeros((n_rows, rank)), A=np.zeros(n_rows), n=np.zeros(n_rows),
            sQ=np.zeros((n_rows, rank)), G=np.zeros((n_rows, rank, rank)),
            E=np.zeros(n_rows), EQ=np.zeros((n_rows, rank)),
        )

    def refresh(self, w: np.ndarray, V: np.ndarray) -> None:
        kernels.entity_parts(self.indptr, self.indices, self.values, w, V, self.P, self.A)

    def sweep(self, state: GibbsSampler, other: Block) -> None:
        kernels.block_caches(self.r_indptr, self.r_other, self.r_pos, state.e, other.P,
                             self.n, self.sQ, self.G, self.E, self.EQ)
        kernels.sample_block(self.f_indptr, self.f_owner, self.f_value, self.f_global,
                             self.active, state.w, state.V, state.groups, state.mu_w,
                             state.lam_w, state.mu_v, state.lam_v, state.alpha, self.P,
                             self.n, self.sQ, self.G, self.E, self.EQ)
        self.refresh(state.w, state.V)


class GibbsSampler:
    """The state of the Markov chain of one Bayesian FM on one training set."""

    def __init__(self, train: Ratings, rank: int, *, implicit: bool, flipped: bool,
                 side: bool, init_std: float, seed: int) -> None:
        user_blocks = ("user",) + (("rated",) if implicit else ()) + (("side",) if side else ())
        item_blocks = ("item",) + (("raters",) if flipped else ()) + (("side",) if side else ())
        urows, irows = user_rows(train, user_blocks), item_rows(train, item_blocks)
        self.group_names = urows.group_names + irows.group_names
        self.user_groups = urows.describe()
        self.item_groups = irows.describe()
        self.groups = np.concatenate([urows.groups, irows.groups + len(urows.group_names)])
        self.users = train.users.astype(np.int64)
        self.items = train.items.astype(np.int64)
        self.y = train.values.astype(np.float64)
        self.user = Block.build(urows, 0, self.users, self.items, rank)
        self.item = Block.build(irows, urows.n_features, self.items, self.users, rank)
        self.active = np.concatenate([self.user.active, self.item.active])
        n_groups, n_features = len(self.group_names), len(self.groups)
        rng = np.random.default_rng(seed)
        self.V = rng.normal(0.0, init_std, (n_features, rank)) * self.active[:, None]
        self.w = np.zeros(n_features)
        self.w0 = float(self.y.mean()) if len(self.y) else 0.0
        self.mu_w, self.lam_w = np.zeros(n_groups), np.ones(n_groups)
        self.mu_v, self.lam_v = np.zeros((n_groups, rank)), np.ones((n_groups, rank))
        self.alpha = 1.0
        self.e = np.zeros(len(self.y))
        kernels.seed(seed % (2**31))
        self.user.refresh(self.w, self.V)
        self.item.refresh(self.w, self.V)
        self.sse = self._residuals()

    def _residuals(self) -> float:
        return kernels.residuals(self.users, self.items, self.y, self.w0, self.user.A,
                                 self.item.A, self.user.P, self.item.P, self.e)

    def sweep(self) -> float:
        """One full Gibbs sweep; returns the training MSE of the new sample."""
        n = len(self.y)
        self.alpha = kernels.draw_gamma(0.5 * (NOISE_A0 + n), 0.5 * (NOISE_B0 + self.sse))
        kernels.sample_hyper(self.w, self.V, self.groups, self.active, len(self.group_names),
                             self.mu_w, self.lam_w, self.mu_v, self.lam_v,
                             PRIOR_A0, PRIOR_B0, PRIOR_GAMMA0)
        precision = self.alpha * n
        new = kernels.draw_normal((self.alpha * (self.e.sum() + self.w0 * n)) / precision,
                                  precision)
        self.e -= new - self.w0
        self.w0 = new
        self.user.sweep(self, self.item)
        self._residuals()
        self.item.sweep(self, self.user)
        self.sse = self._residuals()
        return self.sse / max(n, 1)

    STATE = ("V", "w", "w0", "mu_w", "lam_w", "mu_v", "lam_v", "alpha")

    def state(self) -> dict[str, Any]:
        """The chain's parameters (the caches are recomputed from them on load)."""
        return {name: _tensor_or_number(getattr(self, name)) for name in self.STATE}

    def load_state(self, state: dict[str, Any]) -> None:
        for name in self.STATE:
            value = state[name]
            setattr(self, name, value.numpy().copy() if isinstance(value, torch.Tensor)
                    else float(value))
        self.user.refresh(self.w, self.V)
        self.item.refresh(self.w, self.V)
        self.sse = self._residuals()

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``ŷ_s`` of the current sample for index pairs."""
        out = np.empty(len(users))
        kernels.predict_pairs(users.astype(np.int64), items.astype(np.int64), self.w0,
                              self.user.A, self.item.A, self.user.P, self.item.P, out)
        return out

    def user_prior(self) -> np.ndarray:
        """``[α, μ_w, λ_w, μ_v, λ_v]`` of the ``user`` id group (for fold-in)."""
        g = self.group_names.index("user")
        return np.concatenate([[self.alpha, self.mu_w[g], self.lam_w[g]],
                               self.mu_v[g], self.lam_v[g]])

    def rated_parameters(self, n_items: int) -> tuple[np.ndarray, np.ndarray]:
        """``(w_j, v_j)`` of the ``rated`` features, one per item (zeros without that block)."""
        if "rated" not in self.group_names:
            return np.zeros(n_items), np.zeros((n_items, self.V.shape[1]))
        first = int(np.flatnonzero(self.groups == self.group_names.index("rated"))[0])
        return self.w[first:first + n_items], self.V[first:first + n_items]


def fitted_width(config: ModelConfig, n_users: int, n_items: int, kept: int) -> int:
    """Columns of the stored posterior mean: the asked width, capped by what the data allow."""
    limit = min(n_users, n_items, MAX_WIDTH)
    if n_users * n_items > DENSE_LIMIT:
        limit = min(limit, kept * config.rank)
    return max(1, min(config.width or limit, limit))




def _tensor_or_number(value: Any) -> Any:
    return torch.from_numpy(np.array(value)) if isinstance(value, np.ndarray) else float(value)
