"""The rating data every other part of embrec works on.

:class:`Ratings` is a table of ``(user, item, rating[, timestamp])`` triples in
columnar form: ``users`` and ``items`` are contiguous indices (int32) into the
two :class:`~embrec.data.idmap.IdMap` objects, ``values`` are the ratings
(float32). Item and user metadata, when the source has them, are DataFrames
indexed by those same indices. Splits are subsets that share the id maps, so a
model trained on one part can be evaluated on another without re-mapping.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.idmap import IdMap
from embrec.errors import DataError

DUPLICATE_POLICIES = ("error", "last", "mean")


@dataclass(frozen=True)
class RatingScale:
    """The range of valid ratings: ``low .. high`` in steps of ``step`` (None: continuous)."""

    low: float
    high: float
    step: float | None = None

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise DataError(
                f"rating scale {self.low}..{self.high} is empty; low must be below high"
            )

    def clip(self, values: np.ndarray) -> np.ndarray:
        return np.clip(values, self.low, self.high)

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask of the values that lie inside the scale (steps are not enforced)."""
        return (values >= self.low) & (values <= self.high)

    @classmethod
    def infer(cls, values: np.ndarray) -> RatingScale:
        """The tightest scale of the observed values, with the step of a star grid when one fits."""
        if len(values) == 0:
            raise DataError("cannot infer a rating scale from no ratings")
        low, high = float(values.min()), float(values.max())
        if low == high:
            high = low + 1.0
        step = None
        for candidate in (1.0, 0.5):
            if np.allclose(values / candidate, np.round(values / candidate)):
                step = candidate
                break
        return cls(low, high, step)

    def to_json(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "step": self.step}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> RatingScale:
        return cls(float(payload["low"]), float(payload["high"]), payload.get("step"))


@dataclass(frozen=True, eq=False)
class Ratings:
    """Explicit ratings as parallel arrays over contiguous user and item indices.

    Attributes:
        users, items: int32 indices into ``user_ids`` and ``item_ids``.
        values: float32 ratings.
        timestamps: int64 unix seconds, or None.
        item_info: per-item metadata indexed by item index (``title``, ``genres``
            as a ``|``-joined string, ``year``), or None.
        user_info: per-user metadata indexed by user index (``age``, ``gender``,
            ``occupation``, ``zip``), or None.
        source: JSON-able provenance: dataset name, files, how duplicates were merged.
    """

    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    user_ids: IdMap
    item_ids: IdMap
    scale: RatingScale
    timestamps: np.ndarray | None = None
    item_info: pd.DataFrame | None = None
    user_info: pd.DataFrame | None = None
    name: str = "ratings"
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.users)
        if len(self.items) != n or len(self.values) != n:
            raise DataError("users, items and values must have the same length")
        if self.timestamps is not None and len(self.timestamps) != n:
            raise DataError("timestamps must have one entry per rating")
        object.__setattr__(self, "users", np.ascontiguousarray(self.users, dtype=np.int32))
        object.__setattr__(self, "items", np.ascontiguousarray(self.items, dtype=np.int32))
        object.__setattr__(self, "values", np.ascontiguousarray(self.values, dtype=np.float32))
        if self.timestamps is not None:
            ts = np.ascontiguousarray(self.timestamps, dtype=np.int64)
            object.__setattr__(self, "timestamps", ts)

    # -- construction ---------------------------------------------------------------

    @classmethod
    def from_raw(
        cls,
        user_raw: np.ndarray,
        item_raw: np.ndarray,
        values: np.ndarray,
        *,
        timestamps: np.ndarray | None = None,
        scale: RatingScale | None = None,
        on_duplicate: str = "last",
        name: str = "ratings",
        source: dict[str, Any] | None = None,
        origin: str | None = None,
    ) -> Ratings:
        """Build ratings from raw id columns: ids are mapped in sorted order.

        Duplicate (user, item) pairs are merged by ``on_duplicate``: ``"error"``
        refuses them, ``"last"`` keeps the last in input order, ``"mean"``
        averages them. ``source["merged_duplicates"]`` records how many rows
        were merged away. ``origin`` (a file path) is named in errors.
        """
        user_map, users = IdMap.factorize(np.asarray(user_raw))
        item_map, items = IdMap.factorize(np.asarray(item_raw))
        values = np.asarray(values, dtype=np.float32)
        users, items, values, timestamps, merged = merge_duplicates(
            users, items, values, timestamps, len(item_map), on_duplicate, origin
        )
        if scale is None:
            scale = RatingScale.infer(values)
        info = dict(source or {})
        info["merged_duplicates"] = merged
        if merged:
            info["duplicate_policy"] = on_duplicate
        return cls(
            users, items, values, user_map, item_map, scale,
            timestamps=timestamps, name=name, source=info,
        )

    # -- shape ----------------------------------------------------------------------

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def density(self) -> float:
        return len(self) / max(1, self.n_users * self.n_items)

    def __repr__(self) -> str:
        return (
            f"Ratings({self.name!r}: {len(self):,} ratings, {self.n_users:,} users, "
            f"{self.n_items:,} items, scale {self.scale.low:g}..{self.scale.high:g})"
        )

    # -- slicing --------------------------------------------------------------------

    def subset(self, selector: np.ndarray, name: str | None = None) -> Ratings:
        """The ratings picked by a boolean mask or an index array; id maps are shared."""
        sel = np.asarray(selector)
        ts = None if self.timestamps is None else self.timestamps[sel]
        return replace(
            self,
            users=self.users[sel],
            items=self.items[sel],
            values=self.values[sel],
            timestamps=ts,
            name=name or self.name,
        )

    def concat(self, other: Ratings, name: str | None = None) -> Ratings:
        """These ratings followed by ``other``'s (which must share the id maps)."""
        if other.user_ids is not self.user_ids and other.user_ids != self.user_ids:
            raise DataError("cannot concatenate ratings with different user id maps")
        if other.item_ids is not self.item_ids and other.item_ids != self.item_ids:
            raise DataError("cannot concatenate ratings with different item id maps")
        ts = None
        if self.timestamps is not None and other.timestamps is not None:
            ts = np.concatenate([self.timestamps, other.timestamps])
        return replace(
            self,
            users=np.concatenate([self.users, other.users]),
            items=np.concatenate([self.items, other.items]),
            values=np.concatenate([self.values, other.values]),
            timestamps=ts,
            name=name or self.name,
        )

    # -- views for models -----------------------------------------------------------

    def to_tensors(self) -> dict[str, Any]:
        """``users``, ``items`` (int64) and ``values`` (float32) as torch tensors."""
        import torch

        return {
            "users": torch.from_numpy(self.users.astype(np.int64)),
            "items": torch.from_numpy(self.items.astype(np.int64)),
            "values": torch.from_numpy(self.values),
        }

    def to_csr(self, by: str = "user"):
        """The sparse rating matrix: users x items (``by="user"``) or items x users."""
        from scipy.sparse import csr_matrix

        if by == "user":
            rows, cols, shape = self.users, self.items, (self.n_users, self.n_items)
        elif by == "item":
            rows, cols, shape = self.items, self.users, (self.n_items, self.n_users)
        else:
            raise ValueError(f"by must be 'user' or 'item', not {by!r}")
        return csr_matrix((self.values, (rows, cols)), shape=shape, dtype=np.float32)

    def user_counts(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items)

    # -- metadata -------------------------------------------------------------------

    def titles(self, item_indices: np.ndarray | None = None) -> list[str]:
        """Titles of items (the raw id as text where no title is known)."""
        idx = np.arange(self.n_items) if item_indices is None else np.asarray(item_indices)
        raw = self.item_ids.to_raw(idx)
        if self.item_info is None or "title" not in self.item_info:
            return [str(r) for r in raw]
        titles = self.item_info["title"].reindex(idx).to_numpy(dtype=object)
        return [str(t) if isinstance(t, str) and t else str(r) for t, r in zip(titles, raw)]

    def fingerprint(self) -> str:
        """A short hash of the rating triples and id maps: the data identity a result records."""
        digest = hashlib.sha256()
        for array in (self.users, self.items, self.values):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(f"{self.n_users}:{self.n_items}".encode())
        return digest.hexdigest()[:16]

    def describe_source(self) -> dict[str, Any]:
        """Provenance of these ratings, as recorded with every result."""
        return {
            "name": self.name,
            "fingerprint": self.fingerprint(),
            "n_ratings": len(self),
            "n_users": self.n_users,
            "n_items": self.n_items,
            **{k: v for k, v in self.source.items() if k not in {"name"}},
        }


def merge_duplicates(
    users: np.ndarray,
    items: np.ndarray,
    values: np.ndarray,
    timestamps: np.ndarray | None,
    n_items: int,
    policy: str,
    origin: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Resolve repeated (user, item) pairs; returns the arrays and the number merged away."""
    if policy not in DUPLICATE_POLICIES:
        raise DataError(
            f"unknown duplicate policy {policy!r}",
            hint=f"choose one of {', '.join(DUPLICATE_POLICIES)}",
        )
    keys = users.astype(np.int64) * max(1, n_items) + items.astype(np.int64)
    sorted_once = np.sort(keys)
    if len(keys) < 2 or bool(np.all(sorted_once[1:] != sorted_once[:-1])):
        return users, items, values, timestamps, 0
    del sorted_once
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    is_first = np.ones(len(keys), dtype=bool)
    is_first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    n_unique = int(is_first.sum())
    merged = len(keys) - n_unique
    if merged == 0:
        return users, items, values, timestamps, 0
    if policy == "error":
        dup_row = int(order[np.flatnonzero(~is_first)[0]])
        raise DataError(
            f"duplicate rating for user/item pair in row {dup_row + 1} "
            f"({merged} duplicate rows in all)",
            path=origin,
            hint="pass on_duplicate='last' or 'mean' to merge them",
        )
    group = np.cumsum(is_first) - 1
    if policy == "last":
        is_last = np.ones(len(keys), dtype=bool)
        is_last[:-1] = sorted_keys[1:] != sorted_keys[:-1]
        keep = np.sort(order[is_last])
        ts = None if timestamps is None else timestamps[keep]
        return users[keep], items[keep], values[keep], ts, merged
    sums = np.bincount(group, weights=values[order].astype(np.float64), minlength=n_unique)
    counts = np.bincount(group, minlength=n_unique)
    first_rows = order[is_first]
    keep_order = np.argsort(first_rows, kind="stable")
    keep = first_rows[keep_order]
    mean_values = (sums / counts)[keep_order].astype(np.float32)
    ts = None if timestamps is None else timestamps[keep]
    return users[keep], items[keep], mean_values, ts, merged
