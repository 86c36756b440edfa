"""Bring ratings read on their own into a model's id space, by raw id.

Two rating files read separately (``u1.base`` and ``u1.test``) each number their
users and items ``0 .. n-1`` in their own sorted order, so index 17 of one is
not index 17 of the other. Comparing them index by index pairs the wrong users
and items. :func:`align_ratings` maps each rating's raw user and item id to the
index the reference (a model's training data) gives it; ids the reference lacks
get index ``-1``, which the :class:`~embrec.predictor.Predictor` answers with the
fallback (``μ + b_i`` for an unknown user, ``μ + b_u`` for an unknown item, ``μ``
for both), and they are counted.

The aligned ``Ratings`` carry the reference's id maps and scale. Because they
may hold ``-1`` indices they are for prediction and evaluation only (not for
training, splitting or counting per user).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from embrec.data.idmap import IdMap
from embrec.data.ratings import Ratings


@dataclass(frozen=True)
class Alignment:
    """Ratings mapped into a reference id space, with what the reference lacks."""

    ratings: Ratings
    unknown_users: int
    unknown_items: int
    unknown_user_ratings: int
    unknown_item_ratings: int
    remapped: bool

    @property
    def unknown_ratings(self) -> int:
        """Ratings whose user or item (or both) the reference lacks: answered by the fallback."""
        unknown = (self.ratings.users < 0) | (self.ratings.items < 0)
        return int(np.count_nonzero(unknown))

    def report(self, prefix: str = "") -> dict[str, Any]:
        """The counts as a JSON-able dict, keys prefixed (``test_unknown_users``...)."""
        return {
            f"{prefix}n_ratings": len(self.ratings),
            f"{prefix}unknown_users": self.unknown_users,
            f"{prefix}unknown_items": self.unknown_items,
            f"{prefix}unknown_user_ratings": self.unknown_user_ratings,
            f"{prefix}unknown_item_ratings": self.unknown_item_ratings,
            f"{prefix}fallback_ratings": self.unknown_ratings,
        }

    def describe(self) -> str:
        """One line for the terminal."""
        if not self.unknown_users and not self.unknown_items:
            return f"{len(self.ratings):,} ratings; every user and item is known to the model"
        parts = [
            f"{count:,} {what} ({n_ratings:,} ratings)"
            for count, what, n_ratings in (
                (self.unknown_users, "users", self.unknown_user_ratings),
                (self.unknown_items, "items", self.unknown_item_ratings),
            )
            if count
        ]
        return (
            f"{len(self.ratings):,} ratings; {' and '.join(parts)} are unknown to the model: "
            f"{self.unknown_ratings:,} ratings get the baseline fallback"
        )


def same_id_space(a: Ratings, b: Ratings) -> bool:
    """True when ``a`` and ``b`` number users and items alike (same maps or equal ones)."""
    users_same = a.user_ids is b.user_ids or a.user_ids == b.user_ids
    return users_same and (a.item_ids is b.item_ids or a.item_ids == b.item_ids)


def translate(raw_ids: np.ndarray, reference: IdMap) -> np.ndarray:
    """Indices in ``reference`` of ``raw_ids`` (int64, ``-1`` for the unknown ones).

    Integer and text ids are brought to the reference's kind first, so a file
    whose ids read as text (``"196"``) still finds the model's integer id 196.
    """
    if len(raw_ids) == 0:
        return np.empty(0, dtype=np.int64)
    kind_matches = (raw_ids.dtype.kind in "iu") == reference.is_integer
    if kind_matches:
        return reference.indices_of(raw_ids)
    return reference.indices_of(raw_ids.tolist())


def align_ratings(ratings: Ratings, reference: Ratings) -> Alignment:
    """``ratings`` expressed in ``reference``'s id space (see the module docstring).

    When both already share their id maps nothing is copied or changed.
    """
    if same_id_space(ratings, reference):
        return Alignment(ratings, 0, 0, 0, 0, remapped=False)
    user_lookup = translate(ratings.user_ids.raw_ids, reference.user_ids)
    item_lookup = translate(ratings.item_ids.raw_ids, reference.item_ids)
    users = user_lookup[ratings.users]
    items = item_lookup[ratings.items]
    present_users = np.bincount(ratings.users, minlength=ratings.n_users) > 0
    present_items = np.bincount(ratings.items, minlength=ratings.n_items) > 0
    aligned = replace(
        ratings,
        users=users,
        items=items,
        user_ids=reference.user_ids,
        item_ids=reference.item_ids,
        scale=reference.scale,
        item_info=reference.item_info,
        user_info=reference.user_info,
        source={**ratings.source, "aligned_to": reference.name},
    )
    return Alignment(
        aligned,
        unknown_users=int(np.count_nonzero(present_users & (user_lookup < 0))),
        unknown_items=int(np.count_nonzero(present_items & (item_lookup < 0))),
        unknown_user_ratings=int(np.count_nonzero(users < 0)),
        unknown_item_ratings=int(np.count_nonzero(items < 0)),
        remapped=True,
    )


def known_part(aligned: Ratings) -> Ratings:
    """The aligned ratings whose user and item the reference both knows (no ``-1``)."""
    return aligned.subset((aligned.users >= 0) & (aligned.items >= 0))
