"""Raw ids <-> contiguous indices.

Users and items arrive with the ids of their source (MovieLens movie 193609,
a Netflix customer 2649429, a user's own string ids). Inside embrec every user
and item is an index ``0 .. n-1`` so that it can address a row of an embedding
table. An :class:`IdMap` holds one direction as an array (index -> raw id) and
the other as a hash index (raw id -> index); it travels with the weights in a
model bundle as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from numbers import Integral
from typing import Any, overload

import numpy as np
import pandas as pd
from pandas.errors import InvalidIndexError

from embrec.errors import DataError

LOOKUP_MIN_SPAN = 1 << 20
LOOKUP_SPAN_PER_ID = 4
"""Integer ids up to ``max(LOOKUP_MIN_SPAN, LOOKUP_SPAN_PER_ID × count)`` are factorised
through a lookup table (5 bytes per possible id)."""

ONE_BY_ONE_LOOKUPS = 32
"""Lists of at most this many ids are looked up one at a time in the hash index: building
a ``pandas.Index`` of them costs ~70 µs, a lookup ~1 µs (a served request makes several)."""


class IdMap(Sequence):
    """A bijection between raw ids (int or str) and indices ``0 .. len-1``.

    As a sequence it holds the raw ids in index order: ``ids[i]`` is the raw id
    of index ``i`` (a Python int or str), ``ids[a:b]`` an array of them. The
    reverse lookups are ``ids.index(raw)`` (a DataError naming the id when it is
    unknown), ``ids.get(raw, default)`` and, batch-first, :meth:`indices_of`.
    """

    def __init__(self, raw_ids: Iterable[Any] | np.ndarray) -> None:
        raw = np.asarray(list(raw_ids) if not isinstance(raw_ids, np.ndarray) else raw_ids)
        if raw.dtype.kind in "iu":
            raw = raw.astype(np.int64)
        elif raw.dtype.kind == "f":
            if not np.all(np.isfinite(raw)) or not np.all(raw == np.round(raw)):
                raise DataError("ids must be integers or strings, not fractional numbers")
            raw = raw.astype(np.int64)
        else:
            raw = raw.astype(str).astype(object)
        index = pd.Index(raw)
        if not index.is_unique:
            duplicated = index[index.duplicated()][0]
            raise DataError(f"id {duplicated!r} appears twice in an id map")
        self._raw = raw
        self._index = index

    @classmethod
    def factorize(cls, values: np.ndarray) -> tuple[IdMap, np.ndarray]:
        """Map raw id values to indices in sorted id order; returns (map, int32 codes).

        Non-negative integer ids no larger than a few times their count (every
        MovieLens and Netflix file) go through a lookup table indexed by the id
        itself: ``seen[id] = True``, ``index[seen] = 0..n-1``, ``codes =
        index[values]``, a gather with no hashing or sorting and no int64 copy of
        the codes. Anything else goes through ``pandas.factorize``.
        """
        if values.dtype.kind in "iu" and len(values):
            low, high = int(values.min()), int(values.max())
            if low >= 0 and high < max(LOOKUP_MIN_SPAN, LOOKUP_SPAN_PER_ID * len(values)):
                seen = np.zeros(high + 1, dtype=bool)
                seen[values] = True
                uniques = np.flatnonzero(seen)
                index = np.full(high + 1, -1, dtype=np.int32)
                index[uniques] = np.arange(len(uniques), dtype=np.int32)
                return cls(uniques), index[values]
        codes, uniques = pd.factorize(values, sort=True)
        return cls(np.asarray(uniques)), codes.astype(np.int32)

    @property
    def raw_ids(self) -> np.ndarray:
        return self._raw

    @property
    def is_integer(self) -> bool:
        return self._raw.dtype.kind == "i"

    def __len__(self) -> int:
        return len(self._raw)

    @overload
    def __getitem__(self, position: int) -> Any: ...

    @overload
    def __getitem__(self, position: slice) -> np.ndarray: ...

    def __getitem__(self, position: int | slice) -> Any:
        """The raw id at an index (a Python scalar), or an array of them for a slice."""
        if isinstance(position, slice):
            return self._raw[position]
        if isinstance(position, Integral) and not isinstance(position, bool):
            if not -len(self) <= position < len(self):
                raise IndexError(f"index {position} is outside 0..{len(self) - 1} of {self!r}")
            return self._raw[int(position)].item() if self.is_integer else self._raw[int(position)]
        raise TypeError(
            f"an IdMap is indexed by an int or a slice, not {type(position).__name__}; "
            "look a raw id up with .index(raw_id)"
        )

    def __iter__(self) -> Iterator[Any]:
        return iter(self._raw.tolist())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self._raw if dtype is None else self._raw.astype(dtype)

    def __contains__(self, raw_id: Any) -> bool:
        return self.index_of(raw_id) >= 0

    def index(self, raw_id: Any, start: int = 0, stop: int | None = None) -> int:
        """The index of a raw id; a DataError naming the id when it is not in the map.

        ``start``/``stop`` bound the search as for ``list.index``.
        """
        position = self.index_of(raw_id)
        if position < 0 or position < start or (stop is not None and position >= stop):
            raise DataError(
                f"unknown id {raw_id!r}: not among the {len(self):,} ids of this map",
                hint="check its type and spelling; ids[:5] shows some",
            )
        return position

    def get(self, raw_id: Any, default: Any = None) -> Any:
        """The index of a raw id, or ``default`` when it is not in the map."""
        position = self.index_of(raw_id)
        return default if position < 0 else position

    def count(self, raw_id: Any) -> int:
        """1 when the raw id is in the map, else 0 (ids are unique)."""
        return int(raw_id in self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and np.array_equal(self._raw, other._raw)

    def coerce(self, raw_id: Any) -> Any:
        """Bring an id given as text (CLI, HTTP) to the map's own type when it can."""
        if self.is_integer and isinstance(raw_id, str):
            try:
                return int(raw_id.strip())
            except ValueError:
                return raw_id
        if not self.is_integer and not isinstance(raw_id, str):
            return str(raw_id)
        return raw_id

    def index_of(self, raw_id: Any) -> int:
        """Index of one raw id, or -1 when it is unknown."""
        key = self.coerce(raw_id)
        if isinstance(key, bool):
            return -1
        try:
            position = self._index.get_loc(key)
        except (KeyError, TypeError, InvalidIndexError):
            return -1
        return int(position) if isinstance(position, int | np.integer) else -1

    def indices_of(self, raw_ids: Iterable[Any] | np.ndarray) -> np.ndarray:
        """Indices (int64) of many raw ids; -1 marks the unknown ones."""
        values = raw_ids if isinstance(raw_ids, np.ndarray) else list(raw_ids)
        if isinstance(values, list) and len(values) <= ONE_BY_ONE_LOOKUPS:
            return np.fromiter((self.index_of(v) for v in values), dtype=np.int64,
                               count=len(values))
        values = [self.coerce(v) for v in values] if isinstance(values, list) else values
        if isinstance(values, np.ndarray) and self.is_integer and values.dtype.kind == "U":
            values = [self.coerce(v) for v in values.tolist()]
        return self._index.get_indexer(pd.Index(values)).astype(np.int64)

    def to_raw(self, indices: np.ndarray | Iterable[int]) -> np.ndarray:
        return self._raw[np.asarray(indices, dtype=np.int64)]

    def to_json(self) -> dict[str, Any]:
        kind = "int" if self.is_integer else "str"
        return {"kind": kind, "ids": self._raw.tolist()}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> IdMap:
        ids = payload["ids"]
        if payload.get("kind") == "int":
            return cls(np.asarray(ids, dtype=np.int64))
        return cls(np.asarray([str(i) for i in ids], dtype=object))

    def __repr__(self) -> str:
        head = ", ".join(map(str, self._raw[:3].tolist()))
        return f"IdMap({len(self)} ids: {head}{', ...' if len(self) > 3 else ''})"
