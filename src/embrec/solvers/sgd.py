"""Compiled stochastic gradient descent for (biased) matrix factorisation.

The model is ``r̂(u, i) = μ + b_u + b_i + p_u · q_i`` (plain MF: μ = 0 and no
biases), fitted to the objective of Funk's Netflix Prize SGD and of Koren, Bell
& Volinsky, "Matrix Factorization Techniques for Recommender Systems" (IEEE
Computer 2009), the objective of Surprise's ``SVD``::

    min  Σ_(u,i) [ (r_ui - r̂(u, i))² + λ (‖p_u‖² + ‖q_i‖²) + λ_b (b_u² + b_i²) ]

One pass visits every training rating once, in a shuffled order, and takes a
step on that rating's term (γ is the learning rate, μ stays fixed)::

    e_ui  = r_ui - (μ + b_u + b_i + p_u · q_i)
    b_u  ← b_u + γ (e_ui - λ_b b_u)
    b_i  ← b_i + γ (e_ui - λ_b b_i)
    p_u  ← p_u + γ (e_ui q_i - λ p_u)
    q_i  ← q_i + γ (e_ui p_u - λ q_i)

(``p_u`` and ``q_i`` are both updated from their values before the step.)

Parallel SGD follows FPSGD (Chin, Zhuang, Juan & Lin, "A Fast Parallel
Stochastic Gradient Method for Matrix Factorization in Shared Memory Systems",
ACM TIST 2015) rather than plain Hogwild! (Niu et al., NIPS 2011): lock-free
updates of shared tables in one shuffled order ran slower on two threads than
on one, as the rows' cache lines bounced between the cores. Here the users and
the items are each dealt into ``S`` groups of about equal rating counts (``S``
a multiple of the thread count, large enough that a block's rows fit in a
core's cache: :func:`choose_strata`), which cuts the ratings into ``S × S``
blocks. Rows are renumbered so that each group is contiguous in the tables. An
epoch is ``S`` sub-epochs in a random order; in the sub-epoch of shift ``s``
block ``(a, (a + s) mod S)`` is trained for every ``a``, the threads sharing
these ``S`` blocks, which share no row of either table. Each block is a
seeded shuffle of its ratings cut into chunks, visited in a new order every
epoch. No two threads ever write the same row at once, so the result depends
on the seed and ``S`` only: the same seed gives the same tables bit for bit,
on one thread or several. With ``S = 1`` this is plain SGD over a shuffled order.

Kernels are compiled on first use and cached on disk (``cache=True``), so the
compilation is paid once per machine.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

CHUNK_SIZE = 256
"""Ratings per chunk: the unit of the per-epoch reshuffle."""

BLOCK_BYTES = 1 << 20
"""Target size of the user and item rows one block touches (about half a core's L2)."""

MIN_RATINGS_PER_THREAD = 200_000
"""With ``threads=None``, one more thread per this many training ratings."""


@njit(fastmath=True, cache=True, nogil=True, inline="always")
def _sgd_step(
    u: int,
    i: int,
    rating: np.float32,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    user_bias: np.ndarray,
    item_bias: np.ndarray,
    mean: np.float32,
    lr: np.float32,
    reg: np.float32,
    bias_lr: np.float32,
    bias_reg: np.float32,
) -> np.float32:
    """The update equations of the module docstring for one rating; returns e_ui²."""
    n_factors = user_factors.shape[1]
    dot = np.float32(0.0)
    for f in range(n_factors):
        dot += user_factors[u, f] * item_factors[i, f]
    bu = user_bias[u]
    bi = item_bias[i]
    err = rating - (mean + bu + bi + dot)
    user_bias[u] = bu + bias_lr * (err - bias_reg * bu)
    item_bias[i] = bi + bias_lr * (err - bias_reg * bi)
    for f in range(n_factors):
        pf = user_factors[u, f]
        qf = item_factors[i, f]
        user_factors[u, f] = pf + lr * (err * qf - reg * pf)
        item_factors[i, f] = qf + lr * (err * pf - reg * qf)
    return err * err


@njit(parallel=True, fastmath=True, cache=True, nogil=True)
def sgd_epoch(
    users: np.ndarray,
    items: np.ndarray,
    values: np.ndarray,
    chunk_bounds: np.ndarray,
    chunk_order: np.ndarray,
    block_chunks: np.ndarray,
    shifts: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    user_bias: np.ndarray,
    item_bias: np.ndarray,
    global_mean: float,
    lr: float,
    reg: float,
    bias_lr: float,
    bias_reg: float,
) -> float:
    """One stratified pass over all ratings; returns Σ e_ui² (each before its step).

    Chunk ``c`` is rows ``chunk_bounds[c] .. chunk_bounds[c + 1]``; block ``b``
    (``= a · T + a'``) owns positions ``block_chunks[b] .. block_chunks[b + 1]``
    of ``chunk_order``. The four tables are updated in place. ``bias_lr = 0``
    (with zero biases and ``global_mean = 0``) trains plain MF.
    """
    strata = len(shifts)
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    bias_lr32 = np.float32(bias_lr)
    bias_reg32 = np.float32(bias_reg)
    mean32 = np.float32(global_mean)
    block_loss = np.zeros(strata * strata, dtype=np.float64)
    for s in range(strata):
        for a in prange(strata):
            block = a * strata + (a + shifts[s]) % strata
            loss = 0.0
            for position in range(block_chunks[block], block_chunks[block + 1]):
                chunk = chunk_order[position]
                for j in range(chunk_bounds[chunk], chunk_bounds[chunk + 1]):
                    loss += _sgd_step(
                        users[j], items[j], values[j], user_factors, item_factors,
                        user_bias, item_bias, mean32, lr32, reg32, bias_lr32, bias_reg32,
                    )
            block_loss[block] = loss
    return block_loss.sum()


def balanced_groups(counts: np.ndarray, groups: int, rng: np.random.Generator) -> np.ndarray:
    """Deal entities at random into ``groups`` groups of about equal total ``counts``."""
    order = rng.permutation(len(counts))
    cumulative = np.cumsum(counts[order], dtype=np.float64)
    total = max(cumulative[-1], 1.0) if len(cumulative) else 1.0
    group = np.empty(len(counts), dtype=np.int64)
    group[order] = np.minimum((cumulative - 0.5 * counts[order]) * groups // total, groups - 1)
    return group


class StratifiedRatings:
    """Training ratings in the order :func:`sgd_epoch` reads them: blocks, shuffled, in chunks.

    ``strata`` is ``S`` of the module docstring. Users and items are renumbered
    group by group: ``users``/``items`` hold the new numbers, and row ``r`` of the
    kernel's tables belongs to user ``user_order[r]`` (item ``item_order[r]``).
    The row order and the per-epoch orders come from ``seed``.
    """

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        values: np.ndarray,
        n_users: int,
        n_items: int,
        strata: int,
        seed: int,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.strata = strata
        user_group = balanced_groups(np.bincount(users, minlength=n_users), strata, self.rng)
        item_group = balanced_groups(np.bincount(items, minlength=n_items), strata, self.rng)
        self.user_order = np.argsort(user_group, kind="stable")
        self.item_order = np.argsort(item_group, kind="stable")
        user_rank = np.empty(n_users, dtype=np.int32)
        user_rank[self.user_order] = np.arange(n_users, dtype=np.int32)
        item_rank = np.empty(n_items, dtype=np.int32)
        item_rank[self.item_order] = np.arange(n_items, dtype=np.int32)
        shuffled = self.rng.permutation(len(values))
        block = user_group[users[shuffled]] * strata + item_group[items[shuffled]]
        order = shuffled[np.argsort(block, kind="stable")]
        self.users = user_rank[users[order]]
        self.items = item_rank[items[order]]
        self.values = np.ascontiguousarray(values[order], dtype=np.float32)
        block_sizes = np.bincount(block, minlength=strata * strata)
        block_starts = np.concatenate([[0], np.cumsum(block_sizes)])
        chunks_per_block = -(-block_sizes // chunk_size)
        self.block_chunks = np.concatenate([[0], np.cumsum(chunks_per_block)]).astype(np.int64)
        bounds = [
            np.minimum(np.arange(start, stop + chunk_size, chunk_size), stop)[: n + 1]
            for start, stop, n in zip(block_starts[:-1], block_starts[1:], chunks_per_block)
        ]
        starts = np.concatenate([b[:-1] for b in bounds])
        self.chunk_bounds = np.append(starts, len(values)).astype(np.int64)
        self.chunk_block = np.repeat(np.arange(strata * strata), chunks_per_block)

    def __len__(self) -> int:
        return len(self.values)

    def epoch_order(self) -> tuple[np.ndarray, np.ndarray]:
        """The next epoch's chunk order (shuffled within each block) and sub-epoch shifts."""
        permuted = self.rng.permutation(len(self.chunk_block))
        chunk_order = permuted[np.argsort(self.chunk_block[permuted], kind="stable")]
        return chunk_order.astype(np.int64), self.rng.permutation(self.strata).astype(np.int64)


def run_sgd_epoch(
    data: StratifiedRatings,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    user_bias: np.ndarray,
    item_bias: np.ndarray,
    global_mean: float,
    lr: float,
    reg: float,
    bias_reg: float,
    biased: bool,
) -> float:
    """One epoch over ``data``; returns the mean squared training error seen during the pass."""
    chunk_order, shifts = data.epoch_order()
    total = sgd_epoch(
        data.users, data.items, data.values, data.chunk_bounds, chunk_order,
        data.block_chunks, shifts, user_factors, item_factors, user_bias, item_bias,
        global_mean if biased else 0.0, lr, reg, lr if biased else 0.0, bias_reg,
    )
    return float(total) / max(1, len(data))


def choose_threads(threads: int | None, n_ratings: int) -> int:
    """Threads for an SGD run: ``threads`` if given, else every core that gets enough work.

    ``None`` gives one thread per ``MIN_RATINGS_PER_THREAD`` ratings, at least one
    and at most the pool's size: an epoch of a small set takes a few milliseconds,
    and the threads would spend it waiting at the sub-epoch barriers.
    """
    limit = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return max(1, min(limit, n_ratings // MIN_RATINGS_PER_THREAD))
    return max(1, min(threads, limit))


def choose_strata(n_users: int, n_items: int, n_factors: int, threads: int) -> int:
    """Strata per side: a multiple of the thread count, enough that one block's rows fit in cache.

    ``T · ceil(S₀ / T)`` with ``S₀ = ceil(table bytes / BLOCK_BYTES)``. The
    result of training depends on the seed and the number of strata, not on
    the timing of the threads: blocks trained at once share no rows.
    """
    table_bytes = (n_users + n_items) * (n_factors + 1) * 4
    wanted = max(1, -(-table_bytes // BLOCK_BYTES))
    return threads * -(-wanted // threads)
