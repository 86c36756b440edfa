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

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from embrec.bundle import shape_of
from embrec.data.features import FeatureRows, item_rows, user_rows
from embrec.data.ratings import Ratings
from embrec.errors import ConfigError, TrainingDiverged
from embrec.models.bfm import MAX_WIDTH
from embrec.models.registry import ModelConfig, ModelSpec
from embrec.predictor import Fallback
from embrec.solvers import gibbs_kernels as kernels
from embrec.solvers.gibbs_posterior import DENSE_LIMIT, PosteriorMean
from embrec.training.config import TrainConfig
from embrec.training.history import EpochRecord, EpochTable, History

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


def _running_rmse(total: np.ndarray, count: int, fallback_part: np.ndarray,
                  modelled: np.ndarray, ratings: Ratings) -> tuple[float, float]:
    raw = fallback_part.astype(np.float64).copy()
    raw[modelled] = total / count
    error = raw - ratings.values
    clipped = ratings.scale.clip(raw) - ratings.values
    return float(np.mean(error**2)), float(np.sqrt(np.mean(clipped**2)))


class _Tracker:
    """The running posterior-mean RMSE on a held-out set, as the Predictor would score it."""

    def __init__(self, ratings: Ratings, train: Ratings, fallback: Fallback) -> None:
        counts_u, counts_i = train.user_counts(), train.item_counts()
        self.ratings = ratings
        # -1 marks an id the training data lacks (ratings aligned from another file).
        known = (ratings.users >= 0) & (ratings.items >= 0)
        self.modelled = known & (counts_u[np.maximum(ratings.users, 0)] > 0) & (
            counts_i[np.maximum(ratings.items, 0)] > 0
        )
        self.users = ratings.users[self.modelled]
        self.items = ratings.items[self.modelled]
        self.fallback = fallback.predict(ratings.users, ratings.items)
        self.total = np.zeros(int(self.modelled.sum()))
        self.count = 0

    def update(self, state: GibbsSampler, keep: bool) -> tuple[float, float]:
        current = state.predict(self.users, self.items)
        if keep:
            self.total += current
            self.count += 1
            return _running_rmse(self.total, self.count, self.fallback, self.modelled,
                                 self.ratings)
        return _running_rmse(current, 1, self.fallback, self.modelled, self.ratings)


def fit_gibbs(
    spec: ModelSpec,
    model_config: ModelConfig,
    config: TrainConfig,
    train: Ratings,
    fallback: Fallback,
    *,
    valid: Ratings | None = None,
    monitor: Ratings | None = None,
    verbose: bool = False,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    **_: Any,
) -> tuple[torch.nn.Module, History, ModelConfig]:
    """Fit a ``bfm`` by Gibbs sampling: ``config.epochs`` sweeps, the first ``burn_in`` dropped.

    Of the training options only ``epochs`` (sweeps) and ``seed`` apply; the
    kernels run on one core, and there are no checkpoints (``resume`` is ignored).
    The returned config carries the fitted ``width``
    and ``fold_in_samples``, which the bundle needs to rebuild the network.
    """
    if spec.name != "bfm":
        raise ConfigError(f"the gibbs solver fits 'bfm', not {spec.name!r}")
    if not 0 <= model_config.burn_in < config.epochs:
        raise ConfigError(
            f"bfm: burn_in ({model_config.burn_in}) must be below epochs ({config.epochs}), "
            "the number of Gibbs sweeps"
        )
    if model_config.rank < 1:
        raise ConfigError(f"bfm: rank must be at least 1, not {model_config.rank}")
    kept = config.epochs - model_config.burn_in
    width = fitted_width(model_config, train.n_users, train.n_items, kept)
    fitted = model_config.model_copy(update={
        "width": width, "fold_in_samples": min(model_config.fold_in_samples, kept),
    })
    with threadpool_limits(1):
        module, history, fitted = _sample(spec, fitted, config, train, fallback, valid=valid,
                                          monitor=monitor, verbose=verbose, on_epoch=on_epoch)
    return module, history, fitted


def _sample(spec: ModelSpec, fitted: ModelConfig, config: TrainConfig, train: Ratings,
            fallback: Fallback, *, valid: Ratings | None, monitor: Ratings | None,
            verbose: bool, on_epoch: Callable[[EpochRecord], None] | None,
            ) -> tuple[torch.nn.Module, History, ModelConfig]:
    kept = config.epochs - fitted.burn_in
    width = fitted.width
    state = GibbsSampler(train, fitted.rank, implicit=fitted.implicit, flipped=fitted.flipped,
                         side=fitted.side, init_std=fitted.init_std, seed=config.seed)
    mean = PosteriorMean(train.n_users, train.n_items, fitted.rank, kept, width,
                         fitted.fold_in_samples)
    trackers = {name: _Tracker(r, train, fallback)
                for name, r in (("valid", valid), ("monitor", monitor)) if r is not None}
    history, table = History(), EpochTable(enabled=verbose, epochs=config.epochs)
    print_every = max(1, config.epochs // 40)
    if verbose and fitted.burn_in:
        print(f"sweeps 1..{fitted.burn_in} are burn-in: discarded, their validation RMSE is "
              f"that of one sample and may rise; the model averages the {kept} sweeps after")
    try:
        for sweep in range(config.epochs):
            started = time.perf_counter()
            loss = state.sweep()
            keep = sweep >= fitted.burn_in
            if keep:
                mean.add(state, train.n_items)
            seconds = time.perf_counter() - started
            if not math.isfinite(loss):
                raise TrainingDiverged(
                    f"bfm: the training error became {loss} in sweep {sweep + 1}; "
                    "lower init_std or rank"
                )
            scores = {name: t.update(state, keep) for name, t in trackers.items()}
            record = EpochRecord(
                epoch=sweep + 1, train_loss=loss,
                valid_loss=scores["valid"][0] if "valid" in scores else None,
                valid_rmse=scores["valid"][1] if "valid" in scores else None,
                monitor_rmse=scores["monitor"][1] if "monitor" in scores else None,
                seconds=seconds, ratings_per_second=len(train) / max(seconds, 1e-9), lr=0.0,
                phase="sampling" if keep else "burn-in",
            )
            history.epochs.append(record)
            if (sweep + 1) % print_every == 0 or sweep + 1 == config.epochs:
                table.row(record)
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        history.stopped = "interrupted"
    if mean.count == 0:
        mean = PosteriorMean(train.n_users, train.n_items, fitted.rank, 1, width,
                             fitted.fold_in_samples)
        mean.add(state, train.n_items)
    fitted = fitted.model_copy(update={"fold_in_samples": len(mean.fold)})
    module = spec.build(fitted, shape_of(train, fallback.global_mean), False)
    mean.publish(module)
    module.eval()
    return module, history, fitted
