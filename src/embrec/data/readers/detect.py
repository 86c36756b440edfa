"""Which reader a path needs: a dataset folder, an official rating file, or a generic table.

Folders are recognised by their files (``u.data``: ml-100k; ``ratings.dat`` with
``users.dat``: ml-1m, without: ml-10m; ``ratings.csv``: the CSV releases, by folder
name; ``combined_data_*.txt`` or ``training_set/``: Netflix). Files by their
names (``u.data``, ``u1.base``..``ub.test``, ``ratings.dat``, ``ratings.csv`` with
the MovieLens header, ``combined_data_*.txt``, ``mv_*.txt``); anything else is a
generic table whose user, item, rating and timestamp columns are guessed from
the header (``userId``, ``user_id``, ``movieId``, ``item``, ``rating``, ``score``,
``timestamp``... case-insensitive; RecBole's ``name:type`` headers too), or are
the first three/four columns of a file without a header.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from embrec.data.ratings import Ratings
from embrec.data.readers._assemble import with_metadata
from embrec.data.readers._text import read_first_line, require_regular_file
from embrec.data.readers.metadata import read_ml100k_items, read_ml100k_users
from embrec.data.readers.movielens import (
    RELEASES,
    STARS,
    check_csv_header,
    read_movielens,
    read_rating_file,
)
from embrec.data.readers.netflix import find_titles, netflix_rating_files, read_netflix
from embrec.data.readers.table import PARQUET_SUFFIXES, guess_separator, read_table
from embrec.errors import DataError

RELEASE_OF_FOLDER = {name: name for name in RELEASES} | {"ml-10M100K": "ml-10m"}
TABLE_OPTIONS = set(
    "user_col item_col rating_col timestamp_col sep header scale on_duplicate".split()
)
ML100K_FILE_RE = re.compile(r"u(\d?\.(data|base|test)|[ab]\.(base|test))")
USER_NAMES = ("user", "userid", "user_id", "user id", "customerid", "customer_id", "uid")
ITEM_NAMES = (
    *"item itemid item_id movieid movie_id movie iid productid product_id isbn asin".split(),
    "item id",
)
RATING_NAMES = ("rating", "ratings", "score", "stars", "value", "book-rating")
TIME_NAMES = ("timestamp", "time", "date", "datetime", "ts", "unix_timestamp")


def read_path(path: Path, **options: Any) -> Ratings:
    """Ratings from a dataset folder or a rating file (see the module docstring)."""
    if path.is_dir():
        check_options(options, {"on_duplicate"})
        return read_folder(path, **options)
    return read_file(path, **options)


def check_options(options: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise DataError(
            f"unknown reader option {unknown[0]!r} here",
            hint=f"options that apply: {', '.join(sorted(allowed))}",
        )


def read_folder(folder: Path, on_duplicate: str = "last") -> Ratings:
    """A dataset folder in its official layout, recognised by its name or its files."""
    release = RELEASE_OF_FOLDER.get(folder.name)
    if release is not None and (folder / RELEASES[release].ratings).is_file():
        return read_movielens(folder, release, on_duplicate=on_duplicate)
    if (folder / "u.data").is_file():
        return read_movielens(folder, "ml-100k", on_duplicate=on_duplicate)
    if (folder / "ratings.dat").is_file():
        release = "ml-1m" if (folder / "users.dat").is_file() else "ml-10m"
        return read_movielens(folder, release, on_duplicate=on_duplicate)
    if (folder / "ratings.csv").is_file():
        return read_movielens(folder, "ml-latest", on_duplicate=on_duplicate)
    if netflix_rating_files(folder):
        return read_netflix(folder, find_titles(folder), on_duplicate=on_duplicate)
    raise DataError(
        "no rating files in this folder",
        path=folder,
        hint="expected u.data, ratings.dat, ratings.csv or Netflix combined_data_*.txt",
    )


def read_file(path: Path, **options: Any) -> Ratings:
    """One rating file: an official format by its name, else a generic table.

    The rating scale of an official file is that of its release when the folder
    is named as in the archive (``ml-1m/ratings.dat``: 1..5), else inferred.
    """
    name = path.name.lower()
    on_duplicate = options.get("on_duplicate", "last")
    official = not (set(options) - {"on_duplicate"})
    release = RELEASE_OF_FOLDER.get(path.parent.name)
    scale = RELEASES[release].scale if release else None
    if official and ML100K_FILE_RE.fullmatch(name):
        ratings = read_rating_file(path, "tab", scale=STARS, on_duplicate=on_duplicate)
        items = path.parent / "u.item"
        users = path.parent / "u.user"
        return with_metadata(
            ratings,
            read_ml100k_items(items, path.parent / "u.genre") if items.is_file() else None,
            read_ml100k_users(users) if users.is_file() else None,
        )
    if official and name == "ratings.dat":
        return read_rating_file(path, "dat", scale=scale, on_duplicate=on_duplicate)
    if official and name == "ratings.csv" and looks_like_movielens_csv(path):
        return read_rating_file(path, "csv", scale=scale, on_duplicate=on_duplicate)
    if official and (name.startswith("combined_data_") or re.fullmatch(r"mv_\d+\.txt", name)):
        return read_netflix(path, on_duplicate=on_duplicate)
    check_options(options, TABLE_OPTIONS)
    return read_table(path, **complete_table_options(path, options))


def looks_like_movielens_csv(path: Path) -> bool:
    try:
        check_csv_header(path)
    except DataError:
        return False
    return True


def complete_table_options(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Fill in the columns, separator and header of a generic table, when not given.

    A text file has a header when a field of its first line is not a number, even
    when every column is given (by position, a headerless file's first line is data).
    """
    options = dict(options)
    named = all(options.get(k) is not None for k in ("user_col", "item_col", "rating_col"))
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    if named and (parquet or options.get("header") is not None):
        return options
    if parquet:
        import pyarrow.parquet as pq

        require_regular_file(path)
        try:
            names = list(pq.read_schema(path).names)
        except (OSError, ValueError) as exc:
            raise DataError(f"not a readable Parquet file: {exc}", path=path) from None
        header = True
    else:
        sep = options.get("sep") or guess_separator(path)
        options["sep"] = sep
        first = read_first_line(path)
        if first is None:
            raise DataError("file is empty", path=path)
        names = [n.strip().strip('"') for n in first.split(sep)]
        header = options.get("header")
        if header is None:
            header = any(not looks_numeric(n) for n in names)
            options["header"] = header
    if header:
        guessed = {
            "user_col": pick(names, USER_NAMES),
            "item_col": pick(names, ITEM_NAMES),
            "rating_col": pick(names, RATING_NAMES),
            "timestamp_col": pick(names, TIME_NAMES),
        }
    else:
        guessed = {"user_col": 0, "item_col": 1, "rating_col": 2}
        guessed["timestamp_col"] = 3 if len(names) >= 4 else None
    for key, value in guessed.items():
        if options.get(key) is None:
            options[key] = value
    for key in ("user_col", "item_col", "rating_col"):
        if options[key] is None:
            raise DataError(
                f"cannot tell which column holds the {key.removesuffix('_col')}s",
                path=path,
                line=1,
                hint=f"name it with {key}= (--{key.replace('_', '-')} on the command line); "
                f"the header has {', '.join(names)}",
            )
    return options


def looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def pick(names: list[str], candidates: tuple[str, ...]) -> str | None:
    """The first header name matching a candidate (case-insensitive, RecBole ``:type`` cut)."""
    plain = [n.split(":", 1)[0].strip().lower() for n in names]
    for candidate in candidates:
        if candidate in plain:
            return names[plain.index(candidate)]
    return None
