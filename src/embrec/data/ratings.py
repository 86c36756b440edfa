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

from embrec.data.frame_columns import check_present, check_rows, unix_seconds
from embrec.data.idmap import IdMap
from embrec.data.scale import InferredScaleWarning, RatingScale
from embrec.display import html_table
from embrec.errors import DataError

__all__ = [
    "DUPLICATE_POLICIES", "InferredScaleWarning", "RatingScale", "Ratings", "merge_duplicates",
]

DUPLICATE_POLICIES = ("error", "last", "mean")
HTML_ROWS = 5


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
        scale: RatingScale | tuple[float, float] | None = None,
        on_duplicate: str = "last",
        name: str = "ratings",
        source: dict[str, Any] | None = None,
        origin: str | None = None,
    ) -> Ratings:
        """Build ratings from raw id columns: ids are mapped in sorted order.

        ``scale`` (a :class:`RatingScale` or ``(low, high)``) declares the valid
        ratings. Without it the scale is the lowest to the highest rating given,
        an :class:`InferredScaleWarning` says so and ``source["scale_inferred"]``
        records it. Duplicate (user, item) pairs are merged by ``on_duplicate``: ``"error"``
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
        info = dict(source or {})
        if scale is None:
            scale = RatingScale.inferred(values, stacklevel=2)
            info["scale_inferred"] = True
        else:
            scale = RatingScale.of(scale)
        info["merged_duplicates"] = merged
        if merged:
            info["duplicate_policy"] = on_duplicate
        return cls(
            users, items, values, user_map, item_map, scale,
            timestamps=timestamps, name=name, source=info,
        )

    @classmethod
    def from_pandas(
        cls,
        frame: pd.DataFrame,
        *,
        user: str,
        item: str,
        rating: str,
        time: str | None = None,
        scale: RatingScale | tuple[float, float] | None = None,
        on_duplicate: str = "last",
        name: str = "dataframe",
    ) -> Ratings:
        """Ratings from a DataFrame's user, item, rating (and time) columns.

        Ids may be ints or strings; ratings numbers; ``time`` unix seconds or
        datetimes. A missing column, a missing id or rating, a rating that is not
        a number or lies outside ``scale`` is a DataError naming the column and
        the row (its index label). Without ``scale`` it is taken from the data,
        with an :class:`InferredScaleWarning` (see :meth:`from_raw`).
        """
        columns = {"user": user, "item": item, "rating": rating}
        if time is not None:
            columns["time"] = time
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"from_pandas takes a pandas DataFrame, not {type(frame).__name__}")
        missing = [f"{k}={v!r}" for k, v in columns.items() if v not in frame.columns]
        if missing:
            raise DataError(
                f"the DataFrame has no column {missing[0].split('=', 1)[1]} ({missing[0]})",
                hint=f"its columns are {', '.join(map(str, frame.columns))}",
            )
        for key in ("user", "item", "rating"):
            check_present(frame, columns[key], key)
        values = pd.to_numeric(frame[rating], errors="coerce").to_numpy(dtype=np.float64)
        check_rows(frame, ~np.isfinite(values), rating, "is not a number")
        if scale is None:
            declared = RatingScale.inferred(values, stacklevel=2)
        else:
            declared = RatingScale.of(scale)
            outside = ~declared.contains(values)
            check_rows(frame, outside, rating,
                       f"is outside the scale {declared.low:g}..{declared.high:g}",
                       hint="fix those ratings or declare the scale they are on")
        timestamps = None if time is None else unix_seconds(frame, time)
        ratings = cls.from_raw(
            frame[user].to_numpy(), frame[item].to_numpy(), values,
            timestamps=timestamps, scale=declared, on_duplicate=on_duplicate, name=name,
            source={"format": "dataframe", "columns": columns},
        )
        if scale is None:
            ratings.source["scale_inferred"] = True
        return ratings

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

    def _repr_html_(self) -> str:
        head = self.subset(np.arange(min(len(self), HTML_ROWS))).to_pandas(titles=True)
        return html_table(head, repr(self), index=False)

    def to_pandas(self, titles: bool = False) -> pd.DataFrame:
        """One row per rating: ``user_id``, ``item_id`` (raw ids), ``rating``,
        ``timestamp`` when known, and ``title`` when asked for and known."""
        frame = pd.DataFrame({
            "user_id": self.user_ids.to_raw(self.users),
            "item_id": self.item_ids.to_raw(self.items),
            "rating": self.values,
        })
        if self.timestamps is not None:
            frame["timestamp"] = self.timestamps
        if titles and self.item_info is not None and "title" in self.item_info:
            frame["title"] = self.titles(self.items)
        return frame

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
