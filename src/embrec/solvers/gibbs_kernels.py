"""Compiled kernels of the Gibbs sampler of a Bayesian factorisation machine.

The model and the sampler are described in :mod:`embrec.solvers.gibbs`; these
kernels do the per-rating and per-feature work. Features live in one index
space: user-block features first, then item-block features. ``w`` and ``V``
are the linear weights and factors of every feature; ``groups[j]`` is the
group of feature ``j`` (its prior).

For a rating ``(u, i)`` with user row ``x^U(u)`` and item row ``x^I(i)``::

    P_u = Σ_j x^U_j v_j                     Q_i = Σ_j x^I_j v_j
    A_u = Σ_j x^U_j w_j + ½ Σ_f (P_uf² - Σ_j (x^U_j v_jf)²)     (B_i likewise)
    ŷ_ui = w0 + A_u + B_i + P_u · Q_i

(the FM of Rendle 2010 with every pairwise interaction, split into the part
inside each block and the part across blocks). All randomness comes from
numba's generator, seeded by :func:`seed`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def seed(value: int) -> None:
    np.random.seed(value)


@njit(cache=True)
def entity_parts(indptr, indices, values, w, V, P, A):
    """``P_e = Σ x_j v_j`` and ``A_e = Σ x_j w_j + ½ Σ_f (P_ef² - Σ_j x_j² v_jf²)`` per row."""
    k = V.shape[1]
    for e in range(len(indptr) - 1):
        linear = 0.0
        squares = 0.0
        for f in range(k):
            P[e, f] = 0.0
        for p in range(indptr[e], indptr[e + 1]):
            j = indices[p]
            x = values[p]
            linear += x * w[j]
            for f in range(k):
                xv = x * V[j, f]
                P[e, f] += xv
                squares += xv * xv
        pairs = 0.0
        for f in range(k):
            pairs += P[e, f] * P[e, f]
        A[e] = linear + 0.5 * (pairs - squares)


@njit(cache=True)
def residuals(users, items, y, w0, A, B, P, Q, e):
    """``e_r = y_r - ŷ_r`` for every rating; returns ``Σ e_r²``."""
    k = P.shape[1]
    total = 0.0
    for r in range(len(y)):
        u = users[r]
        i = items[r]
        dot = 0.0
        for f in range(k):
            dot += P[u, f] * Q[i, f]
        e[r] = y[r] - (w0 + A[u] + B[i] + dot)
        total += e[r] * e[r]
    return total


@njit(cache=True)
def predict_pairs(users, items, w0, A, B, P, Q, out):
    """``out[b] = ŷ(users[b], items[b])`` for one sample."""
    k = P.shape[1]
    for b in range(len(users)):
        u = users[b]
        i = items[b]
        dot = 0.0
        for f in range(k):
            dot += P[u, f] * Q[i, f]
        out[b] = w0 + A[u] + B[i] + dot


@njit(cache=True)
def block_caches(r_indptr, r_other, r_pos, e, Q, n, sQ, G, E, EQ):
    """Per owner ``o`` (a user, or an item), over its ratings ``(o, t)``::

        n_o = |R(o)|,  sQ_o = Σ_t Q_t,  G_o = Σ_t Q_t Q_tᵀ,  E_o = Σ_t e_ot,  EQ_o = Σ_t e_ot Q_t

    where ``Q`` is the other side's factor sum (items' ``Q_i`` for users).
    """
    k = Q.shape[1]
    for o in range(len(r_indptr) - 1):
        n[o] = r_indptr[o + 1] - r_indptr[o]
        E[o] = 0.0
        for f in range(k):
            sQ[o, f] = 0.0
            EQ[o, f] = 0.0
            for g in range(k):
                G[o, f, g] = 0.0
        for p in range(r_indptr[o], r_indptr[o + 1]):
            t = r_other[p]
            err = e[r_pos[p]]
            E[o] += err
            for f in range(k):
                q = Q[t, f]
                sQ[o, f] += q
                EQ[o, f] += err * q
                for g in range(f, k):
                    G[o, f, g] += q * Q[t, g]
        for f in range(k):
            for g in range(f + 1, k):
                G[o, g, f] = G[o, f, g]


@njit(cache=True)
def _draw(alpha, s_hh, s_he, theta, lam, mu):
    """θ ~ N(m, 1/p) with ``p = α Σh² + λ`` and ``m = (α Σh(e + θh) + λ μ) / p``."""
    precision = alpha * s_hh + lam
    mean = (alpha * (s_he + theta * s_hh) + lam * mu) / precision
    return mean + np.random.standard_normal() / math.sqrt(precision)


@njit(cache=True)
def sample_block(f_indptr, f_owner, f_value, f_global, active, w, V, groups,
                 mu_w, lam_w, mu_v, lam_v, alpha, P, n, sQ, G, E, EQ):
    """One Gibbs sweep over the features of one block (Rendle 2013, relational form).

    For a feature ``j`` of the user block, ``ŷ_ui`` is linear in ``w_j`` (slope
    ``h = x_uj``) and in ``v_jf`` (slope ``h = x_uj (c_uf + Q_if)`` with
    ``c_uf = P_uf - x_uj v_jf``). The sums the conditional needs collapse onto
    the owner caches of :func:`block_caches`::

        Σ_r h² = Σ_u x² (n_u c² + 2 c sQ_uf + G_u[f, f])
        Σ_r h e = Σ_u x (c E_u + EQ_uf)

    and after a draw moves ``v_jf`` by ``δ`` the caches follow exactly::

        P_uf += δ x,   E_u -= δ x (n_u c + sQ_uf),   EQ_ug -= δ x (c sQ_ug + G_u[f, g])

    Cost per sweep: ``O(nnz(block) k²)``, independent of how many ratings share
    a row.
    """
    k = V.shape[1]
    for jl in range(len(f_indptr) - 1):
        if not active[jl]:
            continue
        j = f_global[jl]
        g = groups[j]
        start = f_indptr[jl]
        end = f_indptr[jl + 1]
        s_hh = 0.0
        s_he = 0.0
        for p in range(start, end):
            o = f_owner[p]
            x = f_value[p]
            s_hh += x * x * n[o]
            s_he += x * E[o]
        new = _draw(alpha, s_hh, s_he, w[j], lam_w[g], mu_w[g])
        delta = new - w[j]
        w[j] = new
        for p in range(start, end):
            o = f_owner[p]
            step = delta * f_value[p]
            E[o] -= step * n[o]
            for f in range(k):
                EQ[o, f] -= step * sQ[o, f]
        for f in range(k):
            theta = V[j, f]
            s_hh = 0.0
            s_he = 0.0
            for p in range(start, end):
                o = f_owner[p]
                x = f_value[p]
                c = P[o, f] - theta * x
                s_hh += x * x * (n[o] * c * c + 2.0 * c * sQ[o, f] + G[o, f, f])
                s_he += x * (c * E[o] + EQ[o, f])
            new = _draw(alpha, s_hh, s_he, theta, lam_v[g, f], mu_v[g, f])
            delta = new - theta
            V[j, f] = new
            for p in range(start, end):
                o = f_owner[p]
                x = f_value[p]
                c = P[o, f] - theta * x
                step = delta * x
                P[o, f] += step
                E[o] -= step * (n[o] * c + sQ[o, f])
                for h in range(k):
                    EQ[o, h] -= step * (c * sQ[o, h] + G[o, f, h])


@njit(cache=True)
def sample_hyper(w, V, groups, active, n_groups, mu_w, lam_w, mu_v, lam_v,
                 a0, b0, gamma0):
    """Normal-Gamma hyperpriors per group (Freudenthaler et al. 2011, libFM's MCMC)::

        λ_g ~ Γ((a0 + n_g + 1)/2, rate (b0 + γ0 μ_g² + Σ_{j∈g} (θ_j - μ_g)²)/2)
        μ_g ~ N(Σ_{j∈g} θ_j / (n_g + γ0), 1/((n_g + γ0) λ_g))

    for the weights (one μ, λ per group) and per factor column ``f`` of ``V``.
    Only active features (those some rating uses) count in ``n_g``.
    """
    k = V.shape[1]
    count = np.zeros(n_groups)
    sum_w = np.zeros(n_groups)
    sq_w = np.zeros(n_groups)
    sum_v = np.zeros((n_groups, k))
    sq_v = np.zeros((n_groups, k))
    for j in range(len(w)):
        if not active[j]:
            continue
        g = groups[j]
        count[g] += 1.0
        d = w[j] - mu_w[g]
        sq_w[g] += d * d
        for f in range(k):
            d = V[j, f] - mu_v[g, f]
            sq_v[g, f] += d * d
    for g in range(n_groups):
        shape = 0.5 * (a0 + count[g] + 1.0)
        rate = 0.5 * (b0 + gamma0 * mu_w[g] ** 2 + sq_w[g])
        lam_w[g] = np.random.gamma(shape, 1.0 / rate)
        for f in range(k):
            rate = 0.5 * (b0 + gamma0 * mu_v[g, f] ** 2 + sq_v[g, f])
            lam_v[g, f] = np.random.gamma(shape, 1.0 / rate)
    for j in range(len(w)):
        if not active[j]:
            continue
        g = groups[j]
        sum_w[g] += w[j]
        for f in range(k):
            sum_v[g, f] += V[j, f]
    for g in range(n_groups):
        weight = count[g] + gamma0
        mu_w[g] = sum_w[g] / weight + np.random.standard_normal() / math.sqrt(weight * lam_w[g])
        for f in range(k):
            mu_v[g, f] = (sum_v[g, f] / weight
                          + np.random.standard_normal() / math.sqrt(weight * lam_v[g, f]))


@njit(cache=True)
def draw_gamma(shape: float, rate: float) -> float:
    return np.random.gamma(shape, 1.0 / rate)


@njit(cache=True)
def draw_normal(mean: float, precision: float) -> float:
    return mean + np.random.standard_normal() / math.sqrt(precision)
