"""Synthetic explicit ratings from a known low-rank model, at any size up to ~100M.

The generative model (``w = high - low`` is the width of the rating scale)::

    r_ui = clip(round_step(mu + b_u + b_i + p_u . q_i + eps_ui), low, high)

    mu      = low + 0.64 w                  (3.56 on a 1..5 scale)
    b_u     ~ N(0, (0.12 w)^2)              user bias
    b_i     ~ N(0, (0.14 w)^2)              item bias
    p_u,q_i ~ N(0, s^2 I_rank), s^4 = (0.15 w)^2 / rank, so Var(p_u . q_i) = (0.15 w)^2
    eps_ui  ~ N(0, noise^2)

``round_step`` rounds to the scale's step (no rounding for a continuous scale).

Which pairs are rated: user ``u`` gets ``n_u`` ratings with
``n_u - 1 ~ Multinomial(n - max(U, I), a)``, ``a_u ∝ rank_u^-activity_exponent``
(ranks a random permutation of the users), capped at
``min(I, max(0.6 I, 2 n / U))`` ratings with the excess dealt again to the other
users. The items of a user are drawn without replacement with weights
``b_i ∝ rank_i^-popularity_exponent`` (Zipf-like popularity). A "backbone" of
``max(U, I)`` distinct pairs gives every user and every item at least one rating.

Sampling without replacement at 100M ratings: users are processed in blocks of a
few million ratings. Light users draw items with replacement from the popularity
CDF, duplicates are dropped and the shortfall is drawn again (with an overshoot
learnt from the last round's acceptance rate, extras trimmed at random) until
none is left. Heavy users (more than a quarter of the items) and any user still
short after a few rounds take Gumbel top-k over all items, which is exact weighted
sampling without replacement (Efraimidis & Spirakis, 2006).

Rows come in a random order with non-decreasing timestamps (Poisson gaps over
five years from 2000-01-01), so the file order is time order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from embrec.data.idmap import IdMap
from embrec.data.ratings import Ratings, RatingScale
from embrec.errors import ConfigError

NETFLIX_SHAPE = (100_480_507, 480_189, 17_770)
"""Netflix Prize training data: ratings, users, items."""

ML1M_SHAPE = (1_000_209, 6_040, 3_706)
"""MovieLens 1M: ratings, users, rated items."""

_USERS_GROWTH = math.log(NETFLIX_SHAPE[1] / ML1M_SHAPE[1]) / math.log(
    NETFLIX_SHAPE[0] / ML1M_SHAPE[0]
)
_ITEMS_GROWTH = math.log(NETFLIX_SHAPE[2] / ML1M_SHAPE[2]) / math.log(
    NETFLIX_SHAPE[0] / ML1M_SHAPE[0]
)

_BLOCK_RATINGS = 4_000_000
_CHUNK = 2_000_000
_MAX_ROUNDS = 8
_DENSE_USER_FRACTION = 0.25
_TIME_START = 946_684_800  # 2000-01-01 00:00:00 UTC
_TIME_SPAN = 5 * 365 * 86_400


@dataclass(frozen=True, eq=False)
class SyntheticTruth:
    """The parameters that generated a synthetic data set (see the module docstring)."""

    global_mean: float
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    noise: float

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Noise-free ``mu + b_u + b_i + p_u . q_i`` (before rounding and clipping), float32."""
        users, items = np.asarray(users), np.asarray(items)
        out = np.empty(len(users), dtype=np.float32)
        for start in range(0, len(users), _CHUNK):
            u, i = users[start : start + _CHUNK], items[start : start + _CHUNK]
            dot = np.einsum("nk,nk->n", self.user_factors[u], self.item_factors[i])
            out[start : start + _CHUNK] = (
                self.global_mean + self.user_bias[u] + self.item_bias[i] + dot
            )
        return out


def netflix_like_shape(n_ratings: int) -> tuple[int, int]:
    """``(n_users, n_items)`` for ``n_ratings`` on a curve through ML-1M and Netflix.

    ``n_users = 480,189 (n / 100,480,507)^alpha`` and
    ``n_items = 17,770 (n / 100,480,507)^beta`` with ``alpha ~ 0.95`` and
    ``beta ~ 0.34`` chosen so that 1,000,209 ratings give ML-1M's 6,040 x 3,706.
    Small sizes are adjusted so that the shape can hold the ratings at a density
    of at most 1/2 and every user and item can be rated.
    """
    if n_ratings < 2:
        raise ConfigError(f"a Netflix-like shape needs at least 2 ratings, not {n_ratings}")
    ratio = n_ratings / NETFLIX_SHAPE[0]
    n_users = max(1, round(NETFLIX_SHAPE[1] * ratio**_USERS_GROWTH))
    n_items = min(n_ratings, max(1, round(NETFLIX_SHAPE[2] * ratio**_ITEMS_GROWTH)))
    n_users = min(n_ratings, max(n_users, math.ceil(2 * n_ratings / n_items)))
    return n_users, n_items


def ml1m_like(*, seed: int = 0, **options) -> Ratings:
    """Synthetic ratings with ML-1M's shape: 1,000,209 ratings of 3,706 items by 6,040 users."""
    n_ratings, n_users, n_items = ML1M_SHAPE
    return generate_ratings(n_users, n_items, n_ratings, seed=seed, **options)


def _power_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Weights ``rank^-exponent`` over a random ranking of ``n`` entities, summing to 1."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    weights = weights[rng.permutation(n)]
    return weights / weights.sum()


def _ratings_per_user(
    n_ratings: int, backbone: np.ndarray, activity: np.ndarray, cap: int, rng: np.random.Generator
) -> np.ndarray:
    """Total ratings of each user: backbone + multinomial share, capped at ``cap``."""
    counts = backbone + rng.multinomial(n_ratings - int(backbone.sum()), activity)
    while (excess := int(np.maximum(counts - cap, 0).sum())) > 0:
        counts = np.minimum(counts, cap)
        room = np.where(counts < cap, activity, 0.0)
        counts = counts + rng.multinomial(excess, room / room.sum())
    return counts.astype(np.int64)


def _in_sorted(haystacks: list[np.ndarray], needles: np.ndarray) -> np.ndarray:
    found = np.zeros(len(needles), dtype=bool)
    for hay in haystacks:
        if len(hay):
            pos = np.minimum(np.searchsorted(hay, needles), len(hay) - 1)
            found |= hay[pos] == needles
    return found


def _gumbel_top_k(
    users: np.ndarray,
    counts: np.ndarray,
    taken: np.ndarray,
    log_weights: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Keys ``u * I + i`` of ``counts[j]`` new items for each ``users[j]``, drawn without
    replacement with weights ``exp(log_weights)``, never an item whose key is in ``taken``."""
    n_items = len(log_weights)
    taken = np.sort(taken)
    rows_per_chunk = max(1, _CHUNK // n_items)
    parts = []
    for start in range(0, len(users), rows_per_chunk):
        block, want = users[start : start + rows_per_chunk], counts[start : start + rows_per_chunk]
        keys = block[:, None] * n_items + np.arange(n_items)[None, :]
        score = log_weights[None, :] + rng.gumbel(size=keys.shape)
        score[_in_sorted([taken], keys.ravel()).reshape(keys.shape)] = -np.inf
        ranked = np.argsort(-score, axis=1)
        chosen = np.arange(n_items)[None, :] < want[:, None]
        parts.append(np.take_along_axis(keys, ranked, axis=1)[chosen])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _sample_light_users(
    users: np.ndarray,
    need: np.ndarray,
    taken: np.ndarray,
    cdf: np.ndarray,
    log_weights: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Keys of ``need[j]`` new items for each ``users[j]`` (sorted), by draw-dedupe-top-up."""
    n_items = len(cdf)
    haystacks = [np.sort(taken)]
    chosen: list[np.ndarray] = []
    deficit = need.copy()
    overshoot = np.full(len(users), 1.05)
    for _ in range(_MAX_ROUNDS):
        active = np.flatnonzero(deficit > 0)
        if len(active) == 0:
            break
        draws = np.ceil(deficit[active] * overshoot[active]).astype(np.int64)
        drawn_users = np.repeat(users[active], draws)
        drawn_items = np.searchsorted(cdf, rng.random(len(drawn_users)) * cdf[-1], side="right")
        keys = drawn_users * n_items + np.minimum(drawn_items, n_items - 1)
        unique, first = np.unique(keys, return_index=True)
        fresh = ~_in_sorted(haystacks, unique)
        candidates = unique[fresh][np.argsort(first[fresh])]  # draw order: random per user
        slot = np.searchsorted(users, candidates // n_items)
        group_start = np.searchsorted(slot, slot, side="left")
        keep = np.arange(len(candidates)) - group_start < deficit[slot]
        accepted = np.bincount(slot, minlength=len(users))[active]
        overshoot[active] = np.clip(draws / np.maximum(accepted, 0.5), 1.05, 50.0)
        deficit -= np.bincount(slot[keep], minlength=len(users))
        kept = candidates[keep]
        chosen.append(kept)
        haystacks.append(np.sort(kept))
    short = np.flatnonzero(deficit > 0)
    if len(short):
        taken_all = np.concatenate(haystacks)
        owners = taken_all // n_items
        taken_short = taken_all[np.isin(owners, users[short])]
        chosen.append(_gumbel_top_k(users[short], deficit[short], taken_short, log_weights, rng))
    return np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)


def _sample_pairs(
    n_users: int,
    n_items: int,
    n_ratings: int,
    popularity_exponent: float,
    activity_exponent: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """``n_ratings`` distinct keys ``user * n_items + item`` (int64), grouped by user."""
    activity = _power_weights(n_users, activity_exponent, rng)
    popularity = _power_weights(n_items, popularity_exponent, rng)
    cdf = np.cumsum(popularity)
    log_weights = np.log(popularity)
    n_backbone = max(n_users, n_items)
    spine = np.arange(n_backbone)
    backbone = (
        rng.permutation(n_users)[spine % n_users] * np.int64(n_items)
        + (rng.permutation(n_items)[spine % n_items])
    )
    backbone.sort()
    per_user_backbone = np.bincount(backbone // n_items, minlength=n_users)
    cap = min(n_items, max(math.ceil(0.6 * n_items), math.ceil(2 * n_ratings / n_users)))
    totals = _ratings_per_user(n_ratings, per_user_backbone, activity, cap, rng)
    need = totals - per_user_backbone
    out = np.empty(n_ratings, dtype=np.int64)
    filled = 0
    cumulative = np.cumsum(totals)
    hi = 0
    while hi < n_users:
        lo = hi
        done = int(cumulative[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cumulative, done + _BLOCK_RATINGS, side="right")))
        hi = min(hi, n_users)
        users = np.arange(lo, hi, dtype=np.int64)
        taken = backbone[
            np.searchsorted(backbone, lo * n_items) : np.searchsorted(backbone, hi * n_items)
        ]
        heavy = need[lo:hi] > _DENSE_USER_FRACTION * n_items
        parts = [taken]
        if heavy.any():
            mine = np.isin(taken // n_items, users[heavy])
            parts.append(
                _gumbel_top_k(users[heavy], need[lo:hi][heavy], taken[mine], log_weights, rng)
            )
        light = ~heavy & (need[lo:hi] > 0)
        if light.any():
            mine = np.isin(taken // n_items, users[light])
            parts.append(
                _sample_light_users(
                    users[light], need[lo:hi][light], taken[mine], cdf, log_weights, rng
                )
            )
        block = np.concatenate(parts)
        out[filled : filled + len(block)] = block
        filled += len(block)
    if filled != n_ratings:  # pragma: no cover - guarded by the counts above
        raise RuntimeError(f"sampled {filled} pairs instead of {n_ratings}")
    return out


def _draw_truth(
    n_users: int,
    n_items: int,
    rank: int,
    noise: float,
    scale: RatingScale,
    rng: np.random.Generator,
) -> SyntheticTruth:
    width = scale.high - scale.low
    factor_std = ((0.15 * width) ** 2 / rank) ** 0.25
    return SyntheticTruth(
        global_mean=float(scale.low + 0.64 * width),
        user_bias=(rng.standard_normal(n_users) * 0.12 * width).astype(np.float32),
        item_bias=(rng.standard_normal(n_items) * 0.14 * width).astype(np.float32),
        user_factors=(rng.standard_normal((n_users, rank)) * factor_std).astype(np.float32),
        item_factors=(rng.standard_normal((n_items, rank)) * factor_std).astype(np.float32),
        noise=float(noise),
    )


def generate_ratings(
    n_users: int,
    n_items: int,
    n_ratings: int,
    *,
    rank: int = 8,
    noise: float = 0.5,
    scale: RatingScale = RatingScale(1, 5, 1),
    popularity_exponent: float = 0.7,
    activity_exponent: float = 0.5,
    seed: int = 0,
    return_truth: bool = False,
) -> Ratings | tuple[Ratings, SyntheticTruth]:
    """Ratings drawn from the low-rank-plus-bias model of the module docstring.

    Every user and item gets at least one rating and no (user, item) pair repeats,
    so ``max(n_users, n_items) <= n_ratings <= n_users * n_items`` is required.
    Raw ids are ``1..n_users`` and ``1..n_items``. The same arguments give the same
    data. With ``return_truth`` the generating parameters come back as well, as a
    :class:`SyntheticTruth` indexed like the ratings' user and item indices.
    """
    if n_users < 1 or n_items < 1:
        raise ConfigError(f"need at least one user and one item, not {n_users} x {n_items}")
    if not max(n_users, n_items) <= n_ratings <= n_users * n_items:
        raise ConfigError(
            f"{n_ratings} ratings cannot fill {n_users} users x {n_items} items: need between "
            f"max(users, items) = {max(n_users, n_items)} and users * items = {n_users * n_items}"
        )
    if n_users >= 2**31 or n_items >= 2**31:
        raise ConfigError("users and items must each fit in int32 indices")
    if rank < 1 or noise < 0 or popularity_exponent < 0 or activity_exponent < 0:
        raise ConfigError("rank must be >= 1; noise and the exponents must be >= 0")
    pair_rng, truth_rng, noise_rng, time_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    truth = _draw_truth(n_users, n_items, rank, noise, scale, truth_rng)
    keys = _sample_pairs(
        n_users, n_items, n_ratings, popularity_exponent, activity_exponent, pair_rng
    )
    pair_rng.shuffle(keys)
    users = np.empty(n_ratings, dtype=np.int32)
    items = np.empty(n_ratings, dtype=np.int32)
    values = np.empty(n_ratings, dtype=np.float32)
    timestamps = np.empty(n_ratings, dtype=np.int64)
    clock = _TIME_START
    mean_gap = _TIME_SPAN / n_ratings
    for start in range(0, n_ratings, _CHUNK):
        stop = min(n_ratings, start + _CHUNK)
        users[start:stop] = keys[start:stop] // n_items
        items[start:stop] = keys[start:stop] % n_items
        raw = truth.predict(users[start:stop], items[start:stop])
        raw += noise_rng.standard_normal(stop - start, dtype=np.float32) * np.float32(noise)
        if scale.step:
            raw = scale.low + np.round((raw - scale.low) / scale.step) * scale.step
        values[start:stop] = scale.clip(raw)
        steps = np.cumsum(time_rng.poisson(mean_gap, stop - start))
        timestamps[start:stop] = clock + steps
        clock += int(steps[-1])
    del keys
    ratings = Ratings(
        users,
        items,
        values,
        IdMap(np.arange(1, n_users + 1)),
        IdMap(np.arange(1, n_items + 1)),
        scale,
        timestamps=timestamps,
        name="synthetic",
        source={
            "dataset": "synthetic",
            "generator": "embrec.data.synthetic.generate_ratings",
            "seed": seed,
            "rank": rank,
            "noise": noise,
            "popularity_exponent": popularity_exponent,
            "activity_exponent": activity_exponent,
            "merged_duplicates": 0,
        },
    )
    return (ratings, truth) if return_truth else ratings
