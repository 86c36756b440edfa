"""Compiled row-sparse optimiser steps: one pass over a batch's lookups, no sort.

A sparse embedding gradient is a list of lookups ``(ids_j, grad_j)`` in which a
row may appear many times. A step needs each touched row's summed gradient
``g_r = Σ_{j : ids_j = r} grad_j`` and then updates that row alone. Done with
tensor operations this is a sort (``unique``), a scatter-add, a gather of the
rows and their optimiser state, the update, and a scatter back: six passes over
the batch, each allocating. Here it is two loops:

1. **gather**: walk the lookups; the first time row ``r`` is seen it gets the
   next free slot ``s`` (``slot_of[r] = s``) and ``g_s = 0``; then ``g_s += grad_j``;
2. **update**: for each slot, the row's optimiser update (below), in the order
   the rows were first seen, then ``slot_of[r] = -1`` again.

``slot_of`` has one entry per table row and lives across steps (it is all -1
between steps), as do the scratch arrays ``rows`` and ``summed`` (one entry per
lookup of the largest batch so far: allocating them afresh each step costs page
faults on every step), so a step costs O(batch × k) whatever the table size.

Row-wise Adagrad (one accumulator per row, as FBGEMM's)::

    G_r ← G_r + mean(g_r²)
    p_r ← p_r (1 − lr·wd) − lr · g_r / (√G_r + ε)

Lazy Adam (TensorFlow Addons' LazyAdam with AdamW's decoupled decay)::

    m_r ← β1 m_r + (1 − β1) g_r
    v_r ← β2 v_r + (1 − β2) g_r²
    p_r ← p_r (1 − lr·wd) − (lr / (1 − β1ᵗ)) · m_r / (√v_r / √(1 − β2ᵗ) + ε)

The gather is sequential and the update touches each row from one thread only,
so both are deterministic: the same batch gives the same bits on any thread count.

Each step has a ``_serial`` twin that never enters numba's thread pool, for a
fit on one thread. Numba's parallel loops run on an OpenMP pool of their own,
beside torch's, and its idle workers spin-wait for the next loop on the cores
torch's operations want: on two cores an embnet step (53,727 x 8,108 tables,
batch 1,024, one torch thread) took 0.17-0.57 s with the parallel kernels and
0.03-0.04 s with the pool never started (``NUMBA_NUM_THREADS=1``), its forward
and backward passes alone 5x slower beside the spinning pool.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, fastmath=True)
def _gather(ids, grads, slot_of, rows, summed):  # pragma: no cover - compiled
    """Fill ``rows[:n]`` and ``summed[:n]`` with the distinct rows and their summed gradients."""
    n, k = grads.shape
    count = 0
    for j in range(n):
        r = ids[j]
        s = slot_of[r]
        if s < 0:
            s = count
            slot_of[r] = s
            rows[s] = r
            for c in range(k):
                summed[s, c] = grads[j, c]
            count += 1
        else:
            for c in range(k):
                summed[s, c] += grads[j, c]
    return count


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _adagrad_row(table, accumulator, r, g, lr, eps, shrink):  # pragma: no cover - compiled
    k = g.shape[0]
    squares = np.float32(0.0)
    for c in range(k):
        squares += g[c] * g[c]
    accumulator[r] += squares / np.float32(k)
    scale = np.float32(lr / (np.sqrt(np.float64(accumulator[r])) + eps))
    for c in range(k):
        table[r, c] = table[r, c] * shrink - scale * g[c]


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def row_adagrad_step(
    table, accumulator, ids, grads, slot_of, rows, summed, lr, eps, decay
):  # pragma: no cover - compiled
    """One row-wise Adagrad step on ``table`` for the lookups ``(ids, grads)``."""
    count = _gather(ids, grads, slot_of, rows, summed)
    shrink = np.float32(1.0 - lr * decay)
    for s in prange(count):
        r = rows[s]
        _adagrad_row(table, accumulator, r, summed[s], lr, eps, shrink)
        slot_of[r] = -1


@njit(cache=True, nogil=True, fastmath=True)
def row_adagrad_step_serial(
    table, accumulator, ids, grads, slot_of, rows, summed, lr, eps, decay
):  # pragma: no cover - compiled
    """:func:`row_adagrad_step` on the calling thread alone (no thread pool)."""
    count = _gather(ids, grads, slot_of, rows, summed)
    shrink = np.float32(1.0 - lr * decay)
    for s in range(count):
        r = rows[s]
        _adagrad_row(table, accumulator, r, summed[s], lr, eps, shrink)
        slot_of[r] = -1


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _adam_row(table, exp_avg, exp_avg_sq, r, g, consts):  # pragma: no cover - compiled
    step_size, inverse_root_bias, shrink, b1, b2, epsilon, c1, c2 = consts
    for c in range(g.shape[0]):
        m = b1 * exp_avg[r, c] + c1 * g[c]
        v = b2 * exp_avg_sq[r, c] + c2 * g[c] * g[c]
        exp_avg[r, c] = m
        exp_avg_sq[r, c] = v
        table[r, c] = table[r, c] * shrink - step_size * m / (
            np.sqrt(v) * inverse_root_bias + epsilon
        )


@njit(cache=True, nogil=True)
def _adam_constants(lr, beta1, beta2, eps, decay, step):  # pragma: no cover - compiled
    # float32 arithmetic throughout (as torch's Adam on float32 weights), so that
    # the inner loop vectorises.
    return (
        np.float32(lr / (1.0 - beta1**step)),
        np.float32(1.0 / np.sqrt(1.0 - beta2**step)),
        np.float32(1.0 - lr * decay),
        np.float32(beta1), np.float32(beta2), np.float32(eps),
        np.float32(1.0 - beta1), np.float32(1.0 - beta2),
    )


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def lazy_adam_step(
    table, exp_avg, exp_avg_sq, ids, grads, slot_of, rows, summed,
    lr, beta1, beta2, eps, decay, step,
):  # pragma: no cover - compiled
    """One lazy Adam step (the ``step``-th) on ``table`` for the lookups ``(ids, grads)``."""
    count = _gather(ids, grads, slot_of, rows, summed)
    consts = _adam_constants(lr, beta1, beta2, eps, decay, step)
    for s in prange(count):
        r = rows[s]
        _adam_row(table, exp_avg, exp_avg_sq, r, summed[s], consts)
        slot_of[r] = -1


@njit(cache=True, nogil=True, fastmath=True)
def lazy_adam_step_serial(
    table, exp_avg, exp_avg_sq, ids, grads, slot_of, rows, summed,
    lr, beta1, beta2, eps, decay, step,
):  # pragma: no cover - compiled
    """:func:`lazy_adam_step` on the calling thread alone (no thread pool)."""
    count = _gather(ids, grads, slot_of, rows, summed)
    consts = _adam_constants(lr, beta1, beta2, eps, decay, step)
    for s in range(count):
        r = rows[s]
        _adam_row(table, exp_avg, exp_avg_sq, r, summed[s], consts)
        slot_of[r] = -1
