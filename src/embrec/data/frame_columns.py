"""Checks and conversions of a DataFrame's rating columns, with errors that name the row.

A row is named by its position and its index label, since a DataFrame's index
is whatever its owner made it (a filtered frame keeps its original labels).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from embrec.errors import DataError


def check_rows(
    frame: pd.DataFrame, bad: np.ndarray, column: str, problem: str,
    hint: str = "fix or drop those rows", show_value: bool = True,
) -> None:
    """A DataError naming the first bad row (position and index label) and how many there are."""
    if not bad.any():
        return
    row = int(np.argmax(bad))
    value = frame[column].iloc[row]
    value = value.item() if isinstance(value, np.generic) else value
    label = frame.index[row]
    label = label.item() if isinstance(label, np.generic) else label
    count = int(bad.sum())
    shown = f"{value!r} " if show_value else ""
    raise DataError(
        f"DataFrame row {row} (index {label!r}), column {column!r}: {shown}{problem}"
        f" ({count:,} such row{'s' if count > 1 else ''} in all)",
        hint=hint,
    )


def check_present(frame: pd.DataFrame, column: str, what: str) -> None:
    check_rows(frame, frame[column].isna().to_numpy(), column, f"no {what} (empty cell)",
               hint=f"every rating needs a {what}: drop those rows with "
                    f"frame.dropna(subset=[{column!r}])", show_value=False)


def unix_seconds(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Timestamps as int64 unix seconds, from numbers or datetimes (naive ones read as UTC)."""
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values):
        check_rows(frame, ~np.isfinite(values.to_numpy(dtype=np.float64)), column,
                    "is not a time")
        return values.to_numpy(dtype=np.int64)
    times = pd.to_datetime(values, errors="coerce", utc=True)
    check_rows(frame, times.isna().to_numpy(), column, "is not a time")
    return ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(np.int64)
