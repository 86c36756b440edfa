"""Top-N ranking metrics on explicit ratings.

Any model plugs in as a *scorer*: ``score_users(user_indices) -> scores`` of
shape ``(len(user_indices), n_items)``, higher meaning better. For each user
``u`` the protocol is:

* candidates ``C_u``: the items ``u`` did not rate in ``train``;
* relevant items ``R_u``: the candidates ``u`` rated ``>= threshold`` in ``test``;
* the list ``L_u``: the ``min(k, |C_u|)`` best-scored candidates, ties broken by
  the lower item index; ``rel_j = 1`` when the item at rank ``j`` is in ``R_u``.

Users with ``R_u`` empty are left out of every average. With ``m = min(k, |R_u|)``::

    precision@k = (1/k)     sum_{j<=k} rel_j
    recall@k    = (1/|R_u|) sum_{j<=k} rel_j
    hit_rate@k  = 1 if sum_{j<=k} rel_j > 0 else 0
    NDCG@k      = DCG / IDCG,  DCG = sum_{j<=k} rel_j / log2(j + 1),
                               IDCG = sum_{j<=m} 1 / log2(j + 1)
    AP@k        = (1/m) sum_{j<=k} rel_j * precision@j       (MAP@k: its mean)
    coverage@k  = |union_u L_u| / n_items     (over the evaluated users)

The work is done for a batch of users at a time, as array operations over the
``batch x n_items`` score matrix; there is no Python loop over users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from embrec.data.ratings import Ratings
from embrec.errors import ConfigError, DataError, ModelError

UserScorer = Callable[[np.ndarray], np.ndarray]
"""``score_users(user_indices) -> (len(user_indices), n_items)`` scores, higher is better."""


@dataclass(frozen=True)
class RankingResult:
    """Top-k metrics averaged over the users with at least one relevant test item."""

    precision: float
    recall: float
    ndcg: float
    map: float
    hit_rate: float
    coverage: float
    n_users_evaluated: int
    n_users_without_relevant: int
    k: int
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_ranking(
    score_users: UserScorer,
    train: Ratings,
    test: Ratings,
    *,
    k: int = 10,
    threshold: float = 4.0,
    batch_size: int = 1024,
) -> RankingResult:
    """Precision, recall, NDCG, MAP, hit rate@k and coverage of a scorer's top-k lists.

    See the module docstring for the protocol and formulas. Only users with a
    relevant test item are scored; ``n_users_without_relevant`` counts the test
    users left out for having none.
    """
    if k < 1:
        raise ConfigError(f"k must be at least 1, not {k}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
    if (train.n_users, train.n_items) != (test.n_users, test.n_items):
        raise DataError(
            f"train is {train.n_users} users x {train.n_items} items but test is "
            f"{test.n_users} x {test.n_items}; split both from the same Ratings"
        )
    n_items = train.n_items
    seen_csr = _pair_matrix(train.users, train.items, (train.n_users, n_items))
    relevant_csr = _relevant_matrix(train, test, threshold)
    n_relevant = np.diff(relevant_csr.indptr)
    evaluated = np.flatnonzero(n_relevant > 0)
    n_test_users = int(np.count_nonzero(np.bincount(test.users, minlength=test.n_users)))
    if len(evaluated) == 0:
        raise DataError(
            f"no test user has an unseen item rated >= {threshold:g}; "
            "lower the threshold or check the split"
        )

    totals = np.zeros(5)
    recommended = np.zeros(n_items, dtype=bool)
    for start in range(0, len(evaluated), batch_size):
        batch = evaluated[start : start + batch_size]
        scores = _checked_scores(score_users, batch, n_items)
        top, valid = top_k_unseen(scores, seen_csr[batch], k)
        relevant = relevant_csr[batch].toarray()
        hits = np.take_along_axis(relevant, top, axis=1) & valid
        totals += _sum_user_metrics(hits, n_relevant[batch], k)
        recommended[top[valid]] = True

    precision, recall, ndcg, average_precision, hit_rate = totals / len(evaluated)
    return RankingResult(
        precision=float(precision),
        recall=float(recall),
        ndcg=float(ndcg),
        map=float(average_precision),
        hit_rate=float(hit_rate),
        coverage=float(recommended.sum() / n_items),
        n_users_evaluated=int(len(evaluated)),
        n_users_without_relevant=n_test_users - int(len(evaluated)),
        k=int(k),
        threshold=float(threshold),
    )


def _pair_matrix(users: np.ndarray, items: np.ndarray, shape: tuple[int, int]):
    """Boolean users x items CSR with a True entry for each (user, item) pair given."""
    from scipy.sparse import csr_matrix

    matrix = csr_matrix((np.ones(len(users), dtype=bool), (users, items)), shape=shape)
    matrix.sum_duplicates()
    return matrix


def _relevant_matrix(train: Ratings, test: Ratings, threshold: float):
    """Users x items CSR of the test items rated ``>= threshold`` that are not in train."""
    shape = (test.n_users, test.n_items)
    liked = test.values >= threshold
    relevant = _pair_matrix(test.users[liked], test.items[liked], shape)
    seen = _pair_matrix(train.users, train.items, shape)
    return _pair_matrix(*(relevant > seen).nonzero(), shape)


def _checked_scores(score_users: UserScorer, users: np.ndarray, n_items: int) -> np.ndarray:
    scores = np.asarray(score_users(users))
    if scores.shape != (len(users), n_items):
        raise ModelError(
            f"score_users returned shape {scores.shape} for {len(users)} users; "
            f"expected ({len(users)}, {n_items}): one score per item"
        )
    if np.isnan(scores).any():
        raise ModelError(f"score_users returned NaN scores for {len(users)} users")
    return scores


def top_k_unseen(scores: np.ndarray, seen, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best-scored unseen items of each row, best first.

    Args:
        scores: ``(n_rows, n_items)`` scores, higher is better.
        seen: ``(n_rows, n_items)`` scipy CSR matrix whose stored entries are the
            items to exclude (the user's training ratings).
        k: list length; lists are ``min(k, n_items)`` long.

    Returns:
        ``(top, valid)``: item indices ``(n_rows, min(k, n_items))`` and a mask of
        the positions that hold a real candidate (a row with fewer than ``k``
        unseen items ends in seen items marked invalid). Equal scores are
        ordered by item index, so results do not depend on the sort algorithm.
    """
    dtype = scores.dtype if scores.dtype in (np.float32, np.float64) else np.float64
    # Candidates scored -inf by the model must still rank above the excluded items.
    masked = np.maximum(scores.astype(dtype, copy=False), -np.finfo(dtype).max)
    rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    masked[rows, seen.indices] = -np.inf

    n_rows, n_items = masked.shape
    length = min(k, n_items)
    if length < n_items:
        # The length-th best score of each row, then every item strictly above it
        # plus the lowest-indexed items equal to it until the row holds `length`.
        kth = -np.partition(-masked, length - 1, axis=1)[:, length - 1 : length]
        above = masked > kth
        tied = masked == kth
        room = length - above.sum(axis=1, keepdims=True)
        chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))
        top = np.nonzero(chosen)[1].reshape(n_rows, length)
    else:
        top = np.broadcast_to(np.arange(n_items), (n_rows, n_items))
    order = np.argsort(-np.take_along_axis(masked, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    n_unseen = n_items - np.diff(seen.indptr)
    valid = np.arange(length)[None, :] < n_unseen[:, None]
    return top, valid


def _sum_user_metrics(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Sums over users of precision, recall, NDCG, AP and hit rate at ``k``.

    ``hits`` is ``(n_users, length)``: whether the item at each rank is relevant.
    """
    length = hits.shape[1]
    ranks = np.arange(1, length + 1)
    discount = 1.0 / np.log2(ranks + 1)
    ideal = np.cumsum(discount)
    n_hits_at = np.cumsum(hits, axis=1)
    n_hits = n_hits_at[:, -1]
    best_possible = np.minimum(k, n_relevant)

    precision = n_hits / k
    recall = n_hits / n_relevant
    ndcg = (hits @ discount) / ideal[best_possible - 1]
    average_precision = (hits * n_hits_at / ranks).sum(axis=1) / best_possible
    hit = n_hits > 0
    return np.array(
        [precision.sum(), recall.sum(), ndcg.sum(), average_precision.sum(), hit.sum()],
        dtype=np.float64,
    )


def popularity_scorer(train: Ratings, min_rating: float | None = None) -> UserScorer:
    """Scores every item by its number of ratings in ``train``: the popularity baseline.

    With ``min_rating`` only ratings ``>= min_rating`` count (popular *and* liked).
    Every user gets the same scores; the evaluation removes their own train items.
    """
    items = train.items if min_rating is None else train.items[train.values >= min_rating]
    counts = np.bincount(items, minlength=train.n_items).astype(np.float64)

    def score_users(user_indices: np.ndarray) -> np.ndarray:
        return np.repeat(counts[None, :], len(user_indices), axis=0)

    return score_users


def random_scorer(n_items: int, seed: int = 0) -> UserScorer:
    """Uniform random scores in ``[0, 1)``, a fixed function of ``(seed, user, item)``.

    The score of a pair does not depend on the batch it is asked in, so results
    are the same for any ``batch_size``.
    """
    salt = np.uint64((seed * 0x9E3779B97F4A7C15) % (1 << 64))
    items = np.arange(n_items, dtype=np.uint64)

    def score_users(user_indices: np.ndarray) -> np.ndarray:
        users = np.asarray(user_indices, dtype=np.uint64)[:, None]
        with np.errstate(over="ignore"):
            keys = users * np.uint64(n_items) + items[None, :] + salt
        return (_splitmix64(keys) >> np.uint64(11)) * (1.0 / (1 << 53))

    return score_users


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser (Steele, Lea & Flood, 2014): a bijective 64-bit mix."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
