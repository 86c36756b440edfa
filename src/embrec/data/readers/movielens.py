"""Readers for the GroupLens MovieLens releases in their official layouts.

Rating files (source: the README of each release, https://grouplens.org/datasets/movielens/):

* ml-100k ``u.data`` (and the ``u1.base`` .. ``ub.test`` splits): tab-separated
  ``user id, item id, rating, timestamp``, no header; ratings 1..5.
* ml-1m, ml-10m (folder ``ml-10M100K``) ``ratings.dat``:
  ``UserID::MovieID::Rating::Timestamp``; ml-1m 1..5, ml-10m 0.5..5 in half stars.
* ml-latest, ml-latest-small, ml-20m, ml-25m, ml-32m ``ratings.csv``: header
  ``userId,movieId,rating,timestamp``, CRLF or LF; 0.5..5 in half stars.

Timestamps are unix seconds. Item metadata (titles, genres, year) and, for
ml-100k and ml-1m, user metadata come from the files beside the ratings (see
:mod:`embrec.data.readers.metadata`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from embrec.data.ratings import Ratings, RatingScale
from embrec.data.readers._assemble import as_scale, assemble, bounds, with_metadata
from embrec.data.readers._delimited import Layout, read_columns
from embrec.data.readers._text import Field, line_of_row, read_first_line, shorten
from embrec.data.readers.metadata import (
    read_ml1m_users,
    read_ml100k_items,
    read_ml100k_users,
    read_movies_csv,
    read_movies_dat,
)
from embrec.errors import DataError

STARS = RatingScale(1.0, 5.0, 1.0)
HALF_STARS = RatingScale(0.5, 5.0, 0.5)

RATING_FIELDS = (
    Field("user id", "int"),
    Field("item id", "int"),
    Field("rating", "float"),
    Field("timestamp", "int"),
)
CSV_HEADER = ("userid", "movieid", "rating", "timestamp")

FILE_FORMATS = {
    "tab": Layout("\t", RATING_FIELDS),
    "dat": Layout("::", RATING_FIELDS),
    "csv": Layout(",", RATING_FIELDS, skip_lines=1),
}


@dataclass(frozen=True)
class Release:
    """Where one MovieLens release keeps its files and how to read them."""

    ratings: str
    file_format: str
    scale: RatingScale
    items: Callable[[Path], pd.DataFrame] | None
    users: Callable[[Path], pd.DataFrame] | None
    metadata_files: tuple[str, ...]


def _ml100k_items(folder: Path) -> pd.DataFrame:
    return read_ml100k_items(folder / "u.item", folder / "u.genre")


RELEASES: dict[str, Release] = {
    "ml-100k": Release(
        "u.data",
        "tab",
        STARS,
        _ml100k_items,
        lambda f: read_ml100k_users(f / "u.user"),
        ("u.item", "u.genre", "u.user"),
    ),
    "ml-1m": Release(
        "ratings.dat",
        "dat",
        STARS,
        lambda f: read_movies_dat(f / "movies.dat", "latin-1"),
        lambda f: read_ml1m_users(f / "users.dat"),
        ("movies.dat", "users.dat"),
    ),
    "ml-10m": Release(
        "ratings.dat",
        "dat",
        HALF_STARS,
        lambda f: read_movies_dat(f / "movies.dat", "utf-8"),
        None,
        ("movies.dat",),
    ),
    **{
        name: Release(
            "ratings.csv",
            "csv",
            HALF_STARS,
            lambda f: read_movies_csv(f / "movies.csv"),
            None,
            ("movies.csv",),
        )
        for name in ("ml-latest-small", "ml-latest", "ml-20m", "ml-25m", "ml-32m")
    },
}


def release(name: str) -> Release:
    try:
        return RELEASES[name]
    except KeyError:
        raise DataError(
            f"unknown MovieLens release {name!r}", hint=f"choose one of {', '.join(RELEASES)}"
        ) from None


def source_files(folder: Path, name: str) -> list[Path]:
    """The files :func:`read_movielens` reads for a release (those that exist)."""
    spec = release(name)
    paths = [Path(folder) / spec.ratings] + [Path(folder) / m for m in spec.metadata_files]
    return [p for p in paths if p.is_file()]


def read_movielens(folder: str | Path, name: str, *, on_duplicate: str = "last") -> Ratings:
    """Read a MovieLens release from its folder (e.g. ``ml-100k/``, ``ml-10M100K/``).

    ``name`` is the release (``ml-100k``, ``ml-1m``, ``ml-10m``, ``ml-20m``,
    ``ml-25m``, ``ml-32m``, ``ml-latest``, ``ml-latest-small``). Ratings outside
    the release's scale are refused; duplicate user-item pairs are merged by
    ``on_duplicate`` (``error``, ``last``, ``mean``). Item metadata (and user
    metadata for ml-100k and ml-1m) is attached when its files are present.
    """
    folder = Path(folder)
    spec = release(name)
    ratings_path = folder / spec.ratings
    if not ratings_path.is_file():
        raise DataError(
            f"{name} ratings file {spec.ratings} not found",
            path=folder,
            hint=f"the folder should hold the files of the official {name} archive",
        )
    ratings = read_rating_file(
        ratings_path,
        spec.file_format,
        scale=spec.scale,
        on_duplicate=on_duplicate,
        name=name,
        dataset=name,
    )
    items = spec.items(folder) if spec.items and _present(folder, spec.metadata_files[0]) else None
    users = None
    if spec.users is not None and _present(folder, spec.metadata_files[-1]):
        users = spec.users(folder)
    ratings.source["files"] = [str(p) for p in source_files(folder, name)]
    return with_metadata(ratings, items, users)


def _present(folder: Path, name: str) -> bool:
    return (folder / name).is_file()


def read_rating_file(
    path: str | Path,
    file_format: str,
    *,
    scale: RatingScale | tuple[float, float] | None = None,
    on_duplicate: str = "last",
    name: str | None = None,
    dataset: str | None = None,
) -> Ratings:
    """Read one MovieLens rating file: ``tab`` (u.data, u1.base...), ``dat`` (::) or ``csv``.

    ``scale`` declares the valid ratings (values outside it are an error);
    without it the scale is inferred from the values.
    """
    path = Path(path)
    try:
        layout = FILE_FORMATS[file_format]
    except KeyError:
        raise DataError(
            f"unknown rating file format {file_format!r}",
            hint=f"choose one of {', '.join(FILE_FORMATS)}",
        ) from None
    if file_format == "csv":
        check_csv_header(path)
    declared = as_scale(scale)
    columns = read_columns(path, layout, bounds(declared))
    return assemble(
        columns,
        path=path,
        scale=declared,
        on_duplicate=on_duplicate,
        name=name or path.stem,
        source={"dataset": dataset, "format": file_format, "path": str(path)},
        locate_row=lambda row: (path, line_of_row(path, row, skip_lines=layout.skip_lines)),
    )


def check_csv_header(path: Path) -> None:
    header = read_first_line(path)
    if header is None:
        raise DataError("file is empty", path=path, hint="expected ratings.csv with a header line")
    names = tuple(h.strip().lower() for h in header.split(","))
    if names != CSV_HEADER:
        raise DataError(
            f"header {shorten(header)!r} is not userId,movieId,rating,timestamp",
            path=path,
            line=1,
            hint="is this a MovieLens ratings.csv? other tables load with read_table",
        )
