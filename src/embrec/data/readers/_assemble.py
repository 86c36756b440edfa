"""Parsed rating columns -> :class:`Ratings`: empty files, duplicate lines, metadata."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.ratings import DUPLICATE_POLICIES, Ratings, RatingScale
from embrec.data.readers.metadata import align
from embrec.errors import DataError

RowLocator = Callable[[int], tuple[Path, int | None]]


def assemble(
    columns: dict[str, np.ndarray],
    *,
    path: Path,
    scale: RatingScale | None,
    on_duplicate: str,
    name: str,
    source: dict[str, Any],
    locate_row: RowLocator,
) -> Ratings:
    """Build :class:`Ratings` from ``user id``/``item id``/``rating``[/``timestamp``] arrays.

    ``locate_row`` maps a 0-based row to its ``(file, line)`` for the error about
    a duplicate user-item pair under ``on_duplicate="error"``.
    """
    if on_duplicate not in DUPLICATE_POLICIES:
        raise DataError(
            f"unknown duplicate policy {on_duplicate!r}",
            hint=f"choose one of {', '.join(DUPLICATE_POLICIES)}",
        )
    users, items, values = columns["user id"], columns["item id"], columns["rating"]
    if len(values) == 0:
        raise DataError(
            "no ratings in the file", path=path, hint="the file is empty or has only a header"
        )
    if on_duplicate == "error":
        check_no_duplicates(users, items, locate_row)
    return Ratings.from_raw(
        users,
        items,
        values,
        timestamps=columns.get("timestamp"),
        scale=scale,
        on_duplicate=on_duplicate,
        name=name,
        source=source,
        origin=str(path),
    )


def check_no_duplicates(users: np.ndarray, items: np.ndarray, locate_row: RowLocator) -> None:
    user_codes, _ = pd.factorize(users)
    item_codes, item_uniques = pd.factorize(items)
    keys = user_codes.astype(np.int64) * max(1, len(item_uniques)) + item_codes
    duplicated = pd.Series(keys).duplicated().to_numpy()
    if not duplicated.any():
        return
    row = int(np.argmax(duplicated))
    first = int(np.flatnonzero(keys == keys[row])[0])
    path, line = locate_row(row)
    _, first_line = locate_row(first)
    where = f"line {first_line}" if first_line is not None else f"row {first + 1}"
    raise DataError(
        f"user {users[row]} rated item {items[row]} again (first on {where}); "
        f"{int(duplicated.sum())} duplicate ratings in all",
        path=path,
        line=line,
        hint="pass on_duplicate='last' or 'mean' to merge them",
    )


def with_metadata(
    ratings: Ratings, item_info: pd.DataFrame | None = None, user_info: pd.DataFrame | None = None
) -> Ratings:
    """Attach metadata frames (indexed by raw id) aligned to the ratings' id maps."""
    items = None if item_info is None else align(item_info, ratings.item_ids)
    users = None if user_info is None else align(user_info, ratings.user_ids)
    return replace(ratings, item_info=items, user_info=users)


def as_scale(scale: RatingScale | tuple[float, float] | None) -> RatingScale | None:
    if scale is None or isinstance(scale, RatingScale):
        return scale
    try:
        low, high = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise DataError(f"rating scale {scale!r} is not a (low, high) pair") from None
    return RatingScale(low, high)


def bounds(scale: RatingScale | None) -> tuple[float, float] | None:
    return None if scale is None else (scale.low, scale.high)
