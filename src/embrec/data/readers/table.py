"""Generic rating tables: CSV, TSV (or any separator) and Parquet, columns named by the caller.

Ids may be integers or strings (a column with any non-integer id is read as
strings); ratings are numbers; timestamps are unix seconds or ISO 8601 dates.
Text files stream through the same chunked parser as the official formats, so
errors name the file and line.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa

from embrec.data.ratings import Ratings, RatingScale
from embrec.data.readers._assemble import as_scale, assemble, bounds
from embrec.data.readers._delimited import Layout, MalformedLine, compact_ints, read_columns
from embrec.data.readers._text import (
    Field,
    line_of_row,
    read_first_line,
    require_regular_file,
    shorten,
)
from embrec.errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq")
SEPARATORS_BY_SUFFIX = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".dat": "::"}
SNIFFED_SEPARATORS = ("::", "\t", ",", ";", "|")

Column = str | int


def read_table(
    path: str | Path,
    *,
    user_col: Column,
    item_col: Column,
    rating_col: Column,
    timestamp_col: Column | None = None,
    sep: str | None = None,
    header: bool = True,
    scale: RatingScale | tuple[float, float] | None = None,
    on_duplicate: str = "last",
) -> Ratings:
    """Read ratings from a delimited text file or a Parquet file.

    Columns are names when ``header`` is true (Parquet always has names; an
    int there is a position), integer positions otherwise. ``sep`` defaults to
    the one the suffix implies (``.csv`` comma, ``.tsv`` tab, ``.dat`` ``::``)
    or the one found in the first line. ``scale`` (a :class:`RatingScale` or
    ``(low, high)``) declares the valid ratings; without it the scale is inferred.
    """
    path = Path(path)
    declared = as_scale(scale)
    wanted = {"user id": user_col, "item id": item_col, "rating": rating_col}
    if timestamp_col is not None:
        wanted["timestamp"] = timestamp_col
    source = {"format": "table", "path": str(path), "columns": dict(wanted)}
    skip: int | None = None
    if path.suffix.lower() in PARQUET_SUFFIXES:
        columns = read_parquet_columns(path, wanted, declared)
    else:
        sep = sep or guess_separator(path)
        first = read_first_line(path)
        if first is None:
            raise DataError("file is empty", path=path)
        names = split_header(first, sep, path)
        indices = {key: column_index(col, names, header, path) for key, col in wanted.items()}
        if len(set(indices.values())) != len(indices):
            raise DataError("the same column is named for two roles", path=path, hint=str(wanted))
        fields: list[Field | None] = [None] * len(names)
        for key, index in indices.items():
            fields[index] = Field(key, "float" if key == "rating" else "int")
        skip = 1 if header else 0
        layout = Layout(sep, tuple(fields), skip_lines=skip, quoted=sep != "::", widen=True)
        columns = read_columns(path, layout, bounds(declared))
    return assemble(
        columns,
        path=path,
        scale=declared,
        on_duplicate=on_duplicate,
        name=path.stem,
        source=source,
        locate_row=partial(line_of_table_row, path, skip),
    )


def line_of_table_row(path: Path, skip: int | None, row: int) -> tuple[Path, int | None]:
    """Where a row is: its line in a text file (``skip`` header lines), none in Parquet."""
    return path, None if skip is None else line_of_row(path, row, skip_lines=skip)


def guess_separator(path: Path) -> str:
    """The separator the suffix implies, else the first candidate found in the first line."""
    by_suffix = SEPARATORS_BY_SUFFIX.get(path.suffix.lower())
    if by_suffix:
        return by_suffix
    first = read_first_line(path)
    if first is None:
        raise DataError("file is empty", path=path)
    for candidate in SNIFFED_SEPARATORS:
        if candidate in first:
            return candidate
    raise DataError(
        "cannot tell the column separator from the first line",
        path=path,
        line=1,
        hint="pass sep= (--sep on the command line), for example ',' or '\\t'",
    )


def split_header(first: str, sep: str, path: Path) -> list[str]:
    try:
        return Layout(sep, (), quoted=sep != "::").split(first)
    except MalformedLine as exc:
        raise DataError(str(exc), path=path, line=1) from None


def column_index(column: Column, names: Sequence[str], header: bool, path: Path) -> int:
    """Position of a column given by name (header) or position (no header)."""
    if isinstance(column, int) and not isinstance(column, bool):
        if not 0 <= column < len(names):
            raise DataError(
                f"column {column} does not exist: the first line has {len(names)} columns",
                path=path,
                line=1,
            )
        return column
    if not header:
        raise DataError(
            f"column {column!r} given by name but the file has no header",
            path=path,
            hint="give column positions (0, 1, ...) or pass header=True",
        )
    stripped = [n.strip() for n in names]
    for candidates in (stripped, [n.lower() for n in stripped]):
        target = column.strip() if candidates is stripped else column.strip().lower()
        if target in candidates:
            return candidates.index(target)
    raise DataError(
        f"no column named {column!r}",
        path=path,
        line=1,
        hint=f"the header has {', '.join(shorten(n, 20) for n in stripped)}",
    )


def read_parquet_columns(
    path: Path, wanted: dict[str, Column], scale: RatingScale | None
) -> dict[str, np.ndarray]:
    """Rating columns of a Parquet file as arrays, with the same checks as text files."""
    import pyarrow.parquet as pq

    require_regular_file(path)
    try:
        schema = pq.read_schema(path)
        names = list(schema.names)
        picked = {key: names[column_index(col, names, True, path)] for key, col in wanted.items()}
        table = pq.read_table(path, columns=list(dict.fromkeys(picked.values())))
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise DataError(
            f"not a readable Parquet file: {str(exc).splitlines()[0]}", path=path
        ) from None
    out: dict[str, np.ndarray] = {}
    for key, name in picked.items():
        column = table.column(name)
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise DataError(f"row {row + 1}: {key} is missing", path=path)
        out[key] = parquet_values(column, key, path)
    values = out["rating"]
    bad = ~np.isfinite(values)
    if scale is not None:
        bad |= (values < scale.low) | (values > scale.high)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"row {row + 1}: rating {values[row]} is not valid",
            path=path,
            hint="ratings must be finite numbers inside the scale",
        )
    return out


def parquet_values(column: pa.ChunkedArray, key: str, path: Path) -> np.ndarray:
    kind = column.type
    if key == "rating":
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise DataError(f"rating column holds {kind}, not numbers", path=path)
        return column.to_numpy().astype(np.float32)
    if key == "timestamp":
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            column = column.cast(pa.timestamp("s")).cast(pa.int64())
        elif not pa.types.is_integer(kind):
            raise DataError(f"timestamp column holds {kind}, not unix seconds or dates", path=path)
        return column.to_numpy().astype(np.int64)
    if pa.types.is_integer(kind):
        return compact_ints(column.to_numpy())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        values = column.to_numpy(zero_copy_only=False).astype(object)
        if (values == "").any():
            row = int(np.flatnonzero(values == "")[0])
            raise DataError(f"row {row + 1}: {key} is empty", path=path)
        return values
    raise DataError(f"{key} column holds {kind}, not integer or string ids", path=path)
