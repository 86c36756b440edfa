"""(user, item) pairs without ratings: the question a prediction answers.

A pairs file is a CSV/TSV/Parquet table with a user and an item column and no
rating column: a header names them (``user``/``userId``/``item``/``movieId``...,
as :mod:`embrec.data.readers.detect` guesses them), or a text file without a
header has exactly two columns. Ids are kept as they are written; a column whose
ids are all integers is read as integers. Every row is kept, duplicates too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from embrec.data.readers._text import read_first_line
from embrec.data.readers.detect import ITEM_NAMES, RATING_NAMES, USER_NAMES, looks_numeric, pick
from embrec.data.readers.table import PARQUET_SUFFIXES, guess_separator, split_header
from embrec.errors import DataError


@dataclass(frozen=True)
class PairLayout:
    """Where a pairs file keeps its user and item ids."""

    user_col: str | int
    item_col: str | int
    sep: str | None
    header: bool


@dataclass(frozen=True)
class Pairs:
    """Raw user and item ids, one entry per row of the file."""

    user_ids: np.ndarray
    item_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.user_ids)


def pair_layout(path: Path) -> PairLayout | None:
    """The layout of ``path`` when it is a pairs file (no rating column), else None."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        import pyarrow.parquet as pq

        try:
            names = list(pq.read_schema(path).names)
        except (OSError, ValueError) as exc:
            raise DataError(f"not a readable Parquet file: {exc}", path=path) from None
        return _named_layout(names, None)
    sep = guess_separator(path)
    first = read_first_line(path)
    if first is None:
        raise DataError("file is empty", path=path)
    names = [n.strip().strip('"') for n in split_header(first, sep, path)]
    if any(not looks_numeric(n) for n in names):
        return _named_layout(names, sep)
    return PairLayout(0, 1, sep, header=False) if len(names) == 2 else None


def _named_layout(names: list[str], sep: str | None) -> PairLayout | None:
    user, item = pick(names, USER_NAMES), pick(names, ITEM_NAMES)
    if user is None or item is None or pick(names, RATING_NAMES) is not None:
        return None
    return PairLayout(user, item, sep, header=True)


def read_pairs(path: Path, layout: PairLayout) -> Pairs:
    """The (user, item) rows of a pairs file; an empty id is an error naming its line."""
    columns = [layout.user_col, layout.item_col]
    try:
        if layout.sep is None:
            frame = pd.read_parquet(path, columns=columns)
        else:
            frame = pd.read_csv(
                path, sep=layout.sep, header=0 if layout.header else None, usecols=columns,
                dtype=str, keep_default_na=False, engine="python" if len(layout.sep) > 1 else "c",
            )
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read the user and item columns: {exc}", path=path) from None
    first_line = 2 if layout.header else 1
    ids = []
    for column, what in zip(columns, ("user", "item")):
        values = frame[column]
        blank = values.isna() | (values.astype(str).str.strip() == "")
        if blank.any():
            row = int(np.flatnonzero(blank.to_numpy())[0])
            raise DataError(f"empty {what} id", path=path, line=row + first_line,
                            hint="every row needs a user id and an item id")
        ids.append(_as_ids(values))
    return Pairs(*ids)


def _as_ids(values: pd.Series) -> np.ndarray:
    """Integer ids as int64, anything else as stripped text."""
    if values.dtype.kind in "iu":
        return values.to_numpy(dtype=np.int64)
    text = values.astype(str).str.strip()
    if text.str.fullmatch(r"-?\d{1,18}").all():
        return text.astype(np.int64).to_numpy()
    return text.to_numpy(dtype=object)
