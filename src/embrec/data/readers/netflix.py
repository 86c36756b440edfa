"""Readers for the Netflix Prize data in its original formats.

Source: the README of the Netflix Prize dataset (2006).

* ``training_set/mv_0000001.txt`` .. ``mv_0017770.txt`` and the Kaggle
  ``combined_data_1.txt`` .. ``combined_data_4.txt``: a ``MovieID:`` line, then
  ``CustomerID,Rating,Date`` lines for that movie (Rating 1..5, Date
  ``YYYY-MM-DD``, read as unix seconds at midnight UTC); a file may hold many movies.
* ``probe.txt``: ``MovieID:`` lines, then one ``CustomerID`` per line.
* ``movie_titles.txt``: ``MovieID,YearOfRelease,Title`` (see :mod:`.metadata`).

Movies are items and customers users. The files are streamed in chunks: the
header lines are cut out of each chunk (the rating lines never contain a ``:``),
the rest is parsed by pyarrow in one go, and the movie id of every row comes from
``np.repeat`` over the rating-line counts between headers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embrec.data.ratings import Ratings, RatingScale
from embrec.data.readers._assemble import assemble, with_metadata
from embrec.data.readers._delimited import (
    Layout,
    block_is_valid,
    compact_ints,
    concat,
    fail,
    parse_chunk,
)
from embrec.data.readers._text import Chunk, Field, check_fields, iter_chunks, line_of_row
from embrec.data.readers.metadata import read_netflix_titles
from embrec.errors import DataError

NETFLIX_SCALE = RatingScale(1.0, 5.0, 1.0)
HEADER_RE = re.compile(rb"(\d+):[ \t]*")
HEADER_TEXT_RE = re.compile(r"(\d+):[ \t]*")
BLANK_LINE_RE = re.compile(rb"(?m)^\r?\n")
NON_BLANK_RE = re.compile(rb"[^\r\n \t]")

RATING_LAYOUT = Layout(
    ",", (Field("customer id", "int"), Field("rating", "float"), Field("date", "date"))
)
PROBE_LAYOUT = Layout(",", (Field("customer id", "int"),))
BOUNDS = (NETFLIX_SCALE.low, NETFLIX_SCALE.high)


def header_aware_check(layout: Layout, scale: tuple[float, float] | None):
    """The strict line check of ``layout`` that also accepts ``MovieID:`` lines."""
    fields = list(layout.fields)

    def check(text: str) -> tuple[int | None, str] | None:
        if HEADER_TEXT_RE.fullmatch(text):
            return None
        if ":" in text:
            return None, f"{text[:40]!r} is not a 'MovieID:' line"
        return check_fields(text.split(layout.sep), fields, layout.sep, scale)

    return check


def parse_movie_chunk(
    chunk: Chunk, movie: int | None, layout: Layout, scale: tuple[float, float] | None
) -> tuple[np.ndarray, dict[str, np.ndarray], int | None]:
    """Parse one chunk: returns (movie id per row, columns, the movie open at its end)."""
    data = chunk.data
    headers: list[tuple[int, int, int]] = []
    pos = data.find(b":")
    while pos != -1:
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos) + 1
        line = data[start:end].rstrip(b"\r\n")
        match = HEADER_RE.fullmatch(line)
        if match:
            movie_id = int(match.group(1))
            if movie_id >= 2**63:
                line_number = chunk.first_line + data.count(b"\n", 0, start)
                raise DataError("movie id is too large", path=chunk.path, line=line_number)
            headers.append((start, end, movie_id))
        pos = data.find(b":", end)
    ends = [s for s, _, _ in headers] + [len(data)]
    starts = [0] + [e for _, e, _ in headers]
    movies = [movie] + [m for _, _, m in headers]
    spans, ids = [], []
    for start, end, movie_id in zip(starts, ends, movies):
        if not NON_BLANK_RE.search(data, start, end):
            continue
        if movie_id is None:
            fail_before_header(chunk, start)
        spans.append((start, end))
        ids.append(movie_id)
    if b"\n\n" in data or b"\n\r\n" in data or data.startswith((b"\n", b"\r\n")):
        segments = [BLANK_LINE_RE.sub(b"", data[start:end]) for start, end in spans]
        counts = np.array([s.count(b"\n") for s in segments], dtype=np.int64)
        body = b"".join(segments)
    else:
        counts = np.array([data.count(b"\n", s, e) for s, e in spans], dtype=np.int64)
        view = memoryview(data)
        body = data if spans == [(0, len(data))] else b"".join(view[s:e] for s, e in spans)
    check = header_aware_check(layout, scale)
    columns = parse_chunk(chunk, layout, scale, data=body, check=check)
    n_rows = len(next(iter(columns.values()))) if columns else 0
    if n_rows != counts.sum() or not block_is_valid(columns, layout, scale):
        fail(chunk, layout, scale, "rating lines and movie headers do not line up", check)
    movie_rows = np.repeat(np.asarray(ids, dtype=np.int64), counts)
    return movie_rows, columns, movies[-1]


def fail_before_header(chunk: Chunk, offset: int) -> None:
    line = chunk.first_line + chunk.data.count(b"\n", 0, offset)
    for number, raw in chunk.lines():
        if number >= line and raw.strip():
            line = number
            break
    raise DataError(
        "rating line before the first 'MovieID:' line",
        path=chunk.path,
        line=line,
        hint="Netflix files start with a 'MovieID:' line, then CustomerID,Rating,Date lines",
    )


def read_movie_file(
    path: Path, layout: Layout, scale: tuple[float, float] | None
) -> tuple[list[np.ndarray], dict[str, list[np.ndarray]]]:
    movies: list[np.ndarray] = []
    parts: dict[str, list[np.ndarray]] = {f.name: [] for f in layout.fields if f is not None}
    movie = None
    for chunk in iter_chunks(path):
        rows, columns, movie = parse_movie_chunk(chunk, movie, layout, scale)
        movies.append(rows)
        for name, values in columns.items():
            parts[name].append(values)
    return movies, parts


def expand_paths(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Rating files from files and folders (``training_set/``, or one holding the files)."""
    given = [paths] if isinstance(paths, str | Path) else list(paths)
    files: list[Path] = []
    for entry in map(Path, given):
        if entry.is_dir():
            files.extend(netflix_rating_files(entry))
        elif entry.is_file():
            files.append(entry)
        else:
            raise DataError("file not found", path=entry)
    if not files:
        raise DataError(
            "no Netflix rating files found",
            path=given[0] if given else None,
            hint="expected combined_data_*.txt or training_set/mv_*.txt",
        )
    return files


def netflix_rating_files(folder: Path) -> list[Path]:
    """The rating files of a Netflix folder: ``combined_data_*.txt``, else ``training_set/mv_*``."""
    combined = sorted(folder.glob("combined_data_*.txt"))
    if combined:
        return combined
    training = folder / "training_set" if (folder / "training_set").is_dir() else folder
    return sorted(training.glob("mv_*.txt"))


def read_netflix(
    paths: str | Path | Sequence[str | Path],
    titles: str | Path | None = None,
    *,
    on_duplicate: str = "last",
) -> Ratings:
    """Read Netflix Prize ratings from files or folders; ``titles`` is ``movie_titles.txt``.

    Ratings must be 1..5; dates become unix seconds (midnight UTC).
    """
    files = expand_paths(paths)
    movies: list[np.ndarray] = []
    parts: dict[str, list[np.ndarray]] = {"customer id": [], "rating": [], "date": []}
    rows_per_file = []
    for path in files:
        file_movies, file_parts = read_movie_file(path, RATING_LAYOUT, BOUNDS)
        movies.extend(file_movies)
        for name, values in file_parts.items():
            parts[name].extend(values)
        rows_per_file.append(sum(len(m) for m in file_movies))
    columns = {
        "user id": concat(parts["customer id"]),
        "item id": compact_ints(concat(movies)) if movies else np.empty(0, np.int32),
        "rating": concat(parts["rating"]).astype(np.float32),
        "timestamp": concat(parts["date"]).astype(np.int64),
    }
    described = [str(p) for p in files] if len(files) <= 20 else [str(files[0].parent)]
    ratings = assemble(
        columns,
        path=files[0] if len(files) == 1 else files[0].parent,
        scale=NETFLIX_SCALE,
        on_duplicate=on_duplicate,
        name="netflix",
        source={"dataset": "netflix", "format": "netflix", "files": described},
        locate_row=lambda row: locate_netflix_row(files, rows_per_file, row),
    )
    if titles is None:
        return ratings
    return with_metadata(ratings, read_netflix_titles(Path(titles)))


def locate_netflix_row(files: list[Path], rows_per_file: list[int], row: int):
    for path, count in zip(files, rows_per_file):
        if row < count:
            return path, line_of_row(path, row, is_data=lambda raw: not HEADER_RE.fullmatch(raw))
        row -= count
    return files[-1], None


def read_netflix_probe(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``probe.txt`` -> (movie ids, customer ids) as int64 arrays in file order."""
    movies, parts = read_movie_file(Path(path), PROBE_LAYOUT, None)
    movie_ids = concat(movies).astype(np.int64)
    customers = concat(parts["customer id"]).astype(np.int64)
    return movie_ids, customers


def find_titles(folder: Path) -> Path | None:
    for candidate in (folder / "movie_titles.txt", folder / "movie_titles.csv"):
        if candidate.is_file():
            return candidate
    return None
