"""Item and user metadata of the official formats -> DataFrames indexed by raw id.

Items get ``title`` (str, surrounding blanks removed), ``genres`` (``|``-joined
str, empty when none are listed) and ``year`` (nullable Int64: the ``(1995)`` at
the end of a title, else the year of a release date). Users get ``age``,
``gender``, ``occupation``, ``zip``. :func:`align` turns either into the
index-aligned frames that :class:`~embrec.data.ratings.Ratings` carries.

Sources (GroupLens READMEs, Netflix Prize README):

* ml-100k ``u.item``: ``id|title|release date|video release date|IMDb URL|19 genre
  flags``, latin-1; genre names in ``u.genre`` (``name|index``). ``u.user``:
  ``id|age|gender|occupation|zip``.
* ml-1m / ml-10m ``movies.dat``: ``MovieID::Title::Genres`` (ml-1m latin-1,
  ml-10m UTF-8). ml-1m ``users.dat``: ``UserID::Gender::Age::Occupation::Zip``
  with age and occupation as codes (occupations named below).
* ml-latest/-small, ml-20m/25m/32m ``movies.csv``: ``movieId,title,genres``
  with a header, quoted titles, UTF-8.
* Netflix ``movie_titles.txt``: ``MovieID,YearOfRelease,Title``, latin-1,
  titles may hold commas, the year may be ``NULL``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from embrec.data.idmap import IdMap
from embrec.data.readers._text import INT_RE, read_text_lines, shorten
from embrec.errors import DataError

ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

ML1M_OCCUPATIONS = (
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
)

NO_GENRES = "(no genres listed)"
TITLE_YEAR_RE = re.compile(r"\((\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)(?:\s*\([^()]*\))*\s*$")
DATE_YEAR_RE = re.compile(r"(\d{4})\s*$")


def title_year(title: str, release_date: str = "") -> int | None:
    """The year at the end of a title, else that of a release date.

    ``"Toy Story (1995)"`` and ``"Land Before Time III (1995) (V)"`` give 1995 (a
    year may be followed by parenthesised notes); ``"Babylon 5"`` with the
    release date ``"01-Jan-1994"`` gives 1994.
    """
    match = TITLE_YEAR_RE.search(title) or DATE_YEAR_RE.search(release_date)
    return int(match.group(1)) if match else None


def item_frame(ids: list[int], titles: list[str], genres: list[str], years: list) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "title": [t.strip() for t in titles],
            "genres": list(genres),
            "year": pd.array(years, dtype="Int64"),
        },
        index=pd.Index(np.asarray(ids, dtype=np.int64), name="raw_id"),
    )


def parse_id(text: str, what: str, path: Path, line: int) -> int:
    value = text.strip(" ")
    if not INT_RE.fullmatch(value) or not -(2**63) <= int(value) < 2**63:
        raise DataError(f"{what} {shorten(text)!r} is not an integer", path=path, line=line)
    return int(value)


def check_unique(ids: list[int], lines: list[int], what: str, path: Path) -> None:
    seen: dict[int, int] = {}
    for raw_id, line in zip(ids, lines):
        if raw_id in seen:
            raise DataError(
                f"{what} {raw_id} appears twice (first on line {seen[raw_id]})",
                path=path,
                line=line,
            )
        seen[raw_id] = line


def split_exact(text: str, sep: str, count: int, path: Path, line: int, layout: str) -> list[str]:
    parts = text.split(sep)
    if len(parts) != count:
        raise DataError(
            f"expected {count} fields separated by {sep!r}, found {len(parts)}",
            path=path,
            line=line,
            hint=f"each line should hold {layout}",
        )
    return parts


def read_genre_names(path: Path | None) -> tuple[str, ...]:
    """ml-100k ``u.genre`` (``name|index``) in index order; the standard 19 when absent."""
    if path is None or not Path(path).is_file():
        return ML100K_GENRES
    names: dict[int, str] = {}
    for line, text in read_text_lines(path, "latin-1"):
        name, index = split_exact(text, "|", 2, path, line, "genre|index")
        names[parse_id(index, "genre index", path, line)] = name
    if sorted(names) != list(range(len(names))):
        raise DataError("genre indices must run 0..n-1", path=path)
    return tuple(names[i] for i in range(len(names)))


def read_ml100k_items(path: Path, genre_path: Path | None = None) -> pd.DataFrame:
    """ml-100k ``u.item`` (pipe-separated, latin-1, 24 fields) -> title, genres, year."""
    genres = read_genre_names(genre_path)
    n_fields = 5 + len(genres)
    layout = "id|title|release date|video release date|IMDb URL|genre flags"
    ids, titles, genre_lists, years, lines = [], [], [], [], []
    for line, text in read_text_lines(path, "latin-1"):
        parts = split_exact(text, "|", n_fields, path, line, layout)
        flags = parts[5:]
        if any(flag not in ("0", "1") for flag in flags):
            raise DataError("genre flags must be 0 or 1", path=path, line=line, hint=layout)
        ids.append(parse_id(parts[0], "movie id", path, line))
        titles.append(parts[1])
        genre_lists.append("|".join(g for g, flag in zip(genres, flags) if flag == "1"))
        years.append(title_year(parts[1].strip(), parts[2]))
        lines.append(line)
    check_unique(ids, lines, "movie id", path)
    return item_frame(ids, titles, genre_lists, years)


def read_movies_dat(path: Path, encoding: str) -> pd.DataFrame:
    """``movies.dat`` (``MovieID::Title::Genres``) of ml-1m (latin-1) or ml-10m (UTF-8)."""
    ids, titles, genres, years, lines = [], [], [], [], []
    for line, text in read_text_lines(path, encoding):
        movie, title, genre = split_exact(text, "::", 3, path, line, "MovieID::Title::Genres")
        ids.append(parse_id(movie, "movie id", path, line))
        titles.append(title)
        genres.append("" if genre == NO_GENRES else genre)
        years.append(title_year(title.strip()))
        lines.append(line)
    check_unique(ids, lines, "movie id", path)
    return item_frame(ids, titles, genres, years)


def read_movies_csv(path: Path) -> pd.DataFrame:
    """``movies.csv`` (``movieId,title,genres``, header, quoted titles, UTF-8)."""
    rows = read_text_lines(path, "utf-8")
    if not rows:
        raise DataError("file is empty", path=path, hint="expected a header movieId,title,genres")
    header_line, header = rows[0]
    if [h.strip().lower() for h in header.split(",")] != ["movieid", "title", "genres"]:
        raise DataError(
            f"header {shorten(header)!r} is not movieId,title,genres", path=path, line=header_line
        )
    ids, titles, genres, years, lines = [], [], [], [], []
    for line, text in rows[1:]:
        try:
            parts = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            raise DataError(f"malformed CSV: {exc}", path=path, line=line) from None
        if len(parts) != 3:
            raise DataError(
                f"expected 3 fields (movieId,title,genres), found {len(parts)}",
                path=path,
                line=line,
                hint="titles with commas must be in double quotes",
            )
        ids.append(parse_id(parts[0], "movie id", path, line))
        titles.append(parts[1])
        genres.append("" if parts[2] == NO_GENRES else parts[2])
        years.append(title_year(parts[1].strip()))
        lines.append(line)
    check_unique(ids, lines, "movie id", path)
    return item_frame(ids, titles, genres, years)


def read_netflix_titles(path: Path) -> pd.DataFrame:
    """Netflix ``movie_titles.txt``: ``MovieID,YearOfRelease,Title`` (latin-1, year may be NULL)."""
    ids, titles, years, lines = [], [], [], []
    for line, text in read_text_lines(path, "latin-1"):
        parts = text.split(",", 2)
        if len(parts) != 3:
            raise DataError(
                f"expected 3 fields (MovieID,YearOfRelease,Title), found {len(parts)}",
                path=path,
                line=line,
            )
        ids.append(parse_id(parts[0], "movie id", path, line))
        year = parts[1].strip()
        if year.upper() == "NULL" or year == "":
            years.append(None)
        else:
            years.append(parse_id(year, "year", path, line))
        titles.append(parts[2])
        lines.append(line)
    check_unique(ids, lines, "movie id", path)
    return item_frame(ids, titles, [""] * len(ids), years)


def user_frame(ids: list[int], ages: list, genders: list, occupations: list, zips: list):
    return pd.DataFrame(
        {
            "age": pd.array(ages, dtype="Int64"),
            "gender": list(genders),
            "occupation": list(occupations),
            "zip": list(zips),
        },
        index=pd.Index(np.asarray(ids, dtype=np.int64), name="raw_id"),
    )


def read_ml100k_users(path: Path) -> pd.DataFrame:
    """ml-100k ``u.user``: ``id|age|gender|occupation|zip``."""
    layout = "user id|age|gender|occupation|zip code"
    ids, ages, genders, occupations, zips, lines = [], [], [], [], [], []
    for line, text in read_text_lines(path, "latin-1"):
        user, age, gender, occupation, zip_code = split_exact(text, "|", 5, path, line, layout)
        ids.append(parse_id(user, "user id", path, line))
        ages.append(parse_id(age, "age", path, line))
        genders.append(gender)
        occupations.append(occupation)
        zips.append(zip_code)
        lines.append(line)
    check_unique(ids, lines, "user id", path)
    return user_frame(ids, ages, genders, occupations, zips)


def read_ml1m_users(path: Path) -> pd.DataFrame:
    """ml-1m ``users.dat``: ``UserID::Gender::Age::Occupation::Zip-code``.

    ``age`` keeps the README's range code (1: under 18, 18: 18-24, 25, 35, 45,
    50, 56: 56+); the occupation code becomes its README name.
    """
    layout = "UserID::Gender::Age::Occupation::Zip-code"
    ids, ages, genders, occupations, zips, lines = [], [], [], [], [], []
    for line, text in read_text_lines(path, "latin-1"):
        user, gender, age, occupation, zip_code = split_exact(text, "::", 5, path, line, layout)
        ids.append(parse_id(user, "user id", path, line))
        ages.append(parse_id(age, "age", path, line))
        code = parse_id(occupation, "occupation code", path, line)
        if not 0 <= code < len(ML1M_OCCUPATIONS):
            raise DataError(f"occupation code {code} is not 0..20", path=path, line=line)
        genders.append(gender)
        occupations.append(ML1M_OCCUPATIONS[code])
        zips.append(zip_code)
        lines.append(line)
    check_unique(ids, lines, "user id", path)
    return user_frame(ids, ages, genders, occupations, zips)


def align(info: pd.DataFrame, ids: IdMap) -> pd.DataFrame | None:
    """Metadata by raw id -> rows in index order of ``ids`` (unknown ids get missing values).

    Rows for ids that are not in the map (a movie nobody rated) are dropped.
    """
    if not ids.is_integer:
        return None
    return info.reindex(pd.Index(ids.raw_ids)).reset_index(drop=True)
