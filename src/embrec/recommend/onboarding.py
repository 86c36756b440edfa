"""The items to ask a new user about first: known, disagreed upon, and unlike each other.

An answer tells most about a new user when the user is likely to know the item,
when people disagree about it (a rating of a film everyone loves says little),
and when it probes a direction of taste the other questions do not. The pool is
the ``pool`` items people pick and like most, by the key of the empty-ratings
answer (:mod:`embrec.recommend.coldstart`: the ranking model's average-user pick
score, or without one the share of users who rated the item 4 or more, times the
average user's predicted rating), so every question is about a film most people know
(ml-100k u1: each has at least 100 training ratings) rather than the best rated of
the rarely rated. Among the pool, with ``v_i`` the item's vector in the model's item
space (:mod:`embrec.recommend.space`), centred over the pool and scaled to unit
length::

    quality   q_i = (n_i / n_users) · Var(r_·i)       share who rated it x rating variance
    kernel    L_ij = √q_i (v_i · v_j) √q_j

and the questions are the greedy maximum of ``det L_S`` over sets S of size k,
the MAP of a determinantal point process (Chen, Zhang & Zhou, "Fast Greedy MAP
Inference for Determinantal Point Process to Improve Recommendation Diversity",
NeurIPS 2018). Step by step, the next item maximises the gain::

    det L_{S+i} / det L_S = q_i ‖v_i - P_S v_i‖²

where ``P_S`` projects onto the span of the chosen items' vectors: quality times
the part of the item's direction no earlier question covered (Gram-Schmidt on the
chosen vectors). Popularity times entropy-like spread follows Rashid et al.,
"Getting to Know You: Learning New User Preferences in Recommender Systems"
(IUI 2002); the determinant spreads the questions across the main directions of
the item embeddings. When the pool's vectors are spent (k larger than their
rank), the rest go by quality alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from embrec.bundle import TrainedModel
from embrec.recommend.engine import Query, recommender_for
from embrec.recommend.result import plain

POOL = 200


@dataclass
class OnboardingItems:
    """Questions for a new user, in the order to ask them."""

    item_ids: list[Any]
    titles: list[str]
    n_ratings: np.ndarray
    mean_rating: np.ndarray
    rating_std: np.ndarray
    item_indices: np.ndarray

    def __len__(self) -> int:
        return len(self.item_ids)

    def to_json(self) -> dict[str, Any]:
        return {
            "items": [
                {"item_id": plain(i), "title": t, "n_ratings": int(c),
                 "mean_rating": round(float(m), 4), "rating_std": round(float(s), 4)}
                for i, t, c, m, s in zip(self.item_ids, self.titles, self.n_ratings,
                                         self.mean_rating, self.rating_std)
            ]
        }


def item_rating_moments(model: TrainedModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per item: number of training ratings, their mean and their variance."""
    train = model.train
    counts = train.item_counts()
    safe = np.maximum(counts, 1)
    sums = np.bincount(train.items, weights=train.values, minlength=train.n_items)
    squares = np.bincount(train.items, weights=train.values.astype(np.float64) ** 2,
                          minlength=train.n_items)
    mean = sums / safe
    return counts, mean, np.maximum(squares / safe - mean**2, 0.0)


def greedy_determinant(vectors: np.ndarray, quality: np.ndarray, k: int) -> list[int]:
    """Greedy MAP of the DPP with kernel ``diag(√q) V Vᵀ diag(√q)`` (rows of V unit length)."""
    residual = np.array(vectors, dtype=np.float64)
    chosen: list[int] = []
    available = np.ones(len(quality), dtype=bool)
    for _ in range(min(k, len(quality))):
        gain = np.where(available, quality * np.einsum("ij,ij->i", residual, residual), -np.inf)
        best = int(np.argmax(gain))
        if gain[best] <= 1e-9 * max(float(quality.max()), 1e-12):
            best = int(np.argmax(np.where(available, quality, -np.inf)))
        else:
            direction = residual[best] / np.linalg.norm(residual[best])
            residual -= np.outer(residual @ direction, direction)
        chosen.append(best)
        available[best] = False
    return chosen


def onboarding_items(model: TrainedModel, k: int = 10, pool: int = POOL) -> OnboardingItems:
    """The ``k`` items to ask a new user to rate first (see the module docstring)."""
    recommender = recommender_for(model)
    counts, mean, variance = item_rating_moments(model)
    picked_and_liked = recommender.score(Query(None))[0]
    rated = np.flatnonzero(counts > 0)
    order = np.argsort(-picked_and_liked[rated], kind="stable")
    candidates = rated[order[: max(pool, k)]]
    vectors = recommender.space.dense(candidates)
    vectors = vectors - vectors.mean(axis=0)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms > 0, norms, 1.0)
    quality = counts[candidates] / max(1, model.train.n_users) * variance[candidates]
    picked = candidates[greedy_determinant(vectors, quality, k)]
    return OnboardingItems(
        item_ids=[plain(v) for v in model.item_ids.to_raw(picked)],
        titles=[recommender.names.titles[i] for i in picked],
        n_ratings=counts[picked],
        mean_rating=mean[picked],
        rating_std=np.sqrt(variance[picked]),
        item_indices=picked,
    )
