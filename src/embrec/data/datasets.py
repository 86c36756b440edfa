"""Datasets by name: find the official files, download them, parse once, load fast.

``load_dataset("ml-100k")`` looks for the dataset's folder, named as in the
official archive (``ml-100k/``, ``ml-10M100K/``, ``nf_prize_dataset/``...), in
``data_dir`` (else in the folder ``$EMBREC_DATA_DIR`` names), then in the cache
(``datasets/`` under the cache root, see :mod:`embrec.data.cache`). A folder counts only
when it holds the ratings file. Failing that, the GroupLens archive is downloaded
and checked against its published size and checksum. ml-100k has a second
source, the RecBole wheel on PyPI (:mod:`embrec.data.recbole_source`), tried when
GroupLens fails: GroupLens comes first because its archive is the reference
(release dates and IMDb URLs, which RecBole lacks), and an unreachable host
fails within seconds. stderr says where each download comes from and goes to,
and why a source failed before the next is tried. Netflix Prize data is not
distributed any more and must be put in place by hand.

The parsed ratings are cached (npz + JSON + Parquet) keyed on the source files'
sizes and mtimes, so the second load takes milliseconds.

Checksums: SHA-256 and sizes of ml-100k, ml-1m, ml-20m, ml-25m and
ml-latest-small from tensorflow_datasets' ``url_checksums/movielens.txt``;
ml-10m and ml-32m SHA-256 and sizes as pinned by several public projects,
together with the MD5 that GroupLens publishes beside each zip
(``<name>.zip.md5``), which is checked too. ml-latest is re-released in place,
so only its zip CRCs are checked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from embrec.data.cache import datasets_dir, load_parsed, parsed_dir, parsed_key, save_parsed
from embrec.data.download import fetch_archive
from embrec.data.progress import say
from embrec.data.ratings import Ratings
from embrec.data.readers.detect import (
    ITEM_NAMES,
    RATING_NAMES,
    TIME_NAMES,
    USER_NAMES,
    check_options,
    pick,
    read_path,
)
from embrec.data.readers.movielens import RELEASES, read_movielens, source_files
from embrec.data.readers.netflix import find_titles, netflix_rating_files, read_netflix
from embrec.data.recbole_source import fetch_ml100k_from_recbole
from embrec.errors import DataError

__all__ = [
    "DATASETS",
    "Dataset",
    "get_dataset",
    "load_dataset",
    "load_source",
    "locate_dataset",
]

DATA_ENV = "EMBREC_DATA_DIR"
GROUPLENS = "https://files.grouplens.org/datasets/movielens/"


@dataclass(frozen=True)
class Dataset:
    """A dataset known by name: its folder names, its files and where to download it.

    ``folders`` are the names its folder may have in a data folder, the first
    being the official archive's. ``release`` is the MovieLens release read by
    :func:`~embrec.data.readers.read_movielens` (None for Netflix).
    """

    name: str
    folders: tuple[str, ...]
    release: str | None = None
    url: str | None = None
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    description: str = ""

    @property
    def archive_folder(self) -> str:
        return self.folders[0]

    def expected_files(self) -> str:
        if self.release is None:
            return "training_set/mv_*.txt or combined_data_*.txt, and movie_titles.txt"
        spec = RELEASES[self.release]
        return ", ".join((spec.ratings, *spec.metadata_files))

    def holds_data(self, folder: Path) -> bool:
        """Whether ``folder`` holds this dataset's ratings (metadata is optional)."""
        if not folder.is_dir():
            return False
        if self.release is None:
            return bool(netflix_rating_files(folder))
        return (folder / RELEASES[self.release].ratings).is_file()

    def files(self, folder: Path) -> list[Path]:
        """The files the reader reads, whose sizes and mtimes key the parsed cache."""
        if self.release is not None:
            return source_files(folder, self.release)
        titles = find_titles(folder)
        return netflix_rating_files(folder) + ([titles] if titles else [])

    def read(self, folder: Path, on_duplicate: str) -> Ratings:
        if self.release is not None:
            return read_movielens(folder, self.release, on_duplicate=on_duplicate)
        return read_netflix(folder, find_titles(folder), on_duplicate=on_duplicate)


def _movielens(name: str, **archive: Any) -> Dataset:
    url = f"{GROUPLENS}{name}.zip"
    return Dataset(name, (name,), name, url=url, description=f"MovieLens {name}", **archive)


DATASETS: dict[str, Dataset] = {
    "ml-100k": _movielens(
        "ml-100k",
        size=4_924_029,
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
    ),
    "ml-latest-small": _movielens(
        "ml-latest-small",
        size=978_202,
        sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    ),
    "ml-1m": _movielens(
        "ml-1m",
        size=5_917_549,
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    ),
    "ml-10m": Dataset(
        "ml-10m",
        ("ml-10M100K", "ml-10m"),
        "ml-10m",
        url=f"{GROUPLENS}ml-10m.zip",
        size=65_566_137,
        sha256="813c411ccb6122564edfe752e7f80c4dcc5aa25fa94c93622f6877a7ba252862",
        md5="ce571fd55effeba0271552578f2648bd",
        description="MovieLens ml-10m",
    ),
    "ml-20m": _movielens(
        "ml-20m",
        size=198_702_078,
        sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
    ),
    "ml-25m": _movielens(
        "ml-25m",
        size=261_978_986,
        sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
    ),
    "ml-32m": _movielens(
        "ml-32m",
        size=238_950_008,
        sha256="e4a68655d7386b8f95f2f2424b2ff975dfdd15ffd59e0d864a14dca43e99d6ee",
        md5="d472be332d4daa821edc399621853b57",
    ),
    "ml-latest": _movielens("ml-latest"),
    "netflix": Dataset(
        "netflix",
        ("nf_prize_dataset", "netflix", "download"),
        description="Netflix Prize (2006)",
    ),
}

ALIASES = {"ml-10m100k": "ml-10m", "netflix-prize": "netflix", "nf_prize_dataset": "netflix"}


def get_dataset(name: str) -> Dataset:
    """The registry entry of a dataset name (case-insensitive; ``ml-10M100K`` works too)."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    try:
        return DATASETS[key]
    except KeyError:
        raise DataError(
            f"unknown dataset {name!r}", hint=f"known datasets: {', '.join(DATASETS)}"
        ) from None


def search_roots(data_dir: str | Path | None) -> list[Path]:
    """The data folders to search: ``data_dir``, else ``$EMBREC_DATA_DIR`` (if set)."""
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    configured = os.environ.get(DATA_ENV)
    return [Path(configured).expanduser()] if configured else []


def locate_dataset(
    name: str, data_dir: str | Path | None = None, *, cache_dir: str | Path | None = None
) -> Path | None:
    """The folder holding the dataset's official files (data folder or cache), or None.

    ``data_dir`` may be the data folder (holding ``ml-100k/``...) or the dataset
    folder itself. A folder without the ratings file does not count.
    """
    spec = get_dataset(name)
    for root in search_roots(data_dir):
        if root.name in spec.folders and spec.holds_data(root):
            return root
        for folder in spec.folders:
            if spec.holds_data(root / folder):
                return root / folder
    cached = datasets_dir(cache_dir) / spec.archive_folder
    return cached if spec.holds_data(cached) else None


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    download: bool = True,
    on_duplicate: str = "last",
) -> Ratings:
    """Load a dataset by name: ml-100k, ml-latest-small, ml-latest, ml-1m, ml-10m,
    ml-20m, ml-25m, ml-32m or netflix.

    Looks in ``data_dir`` (else ``$EMBREC_DATA_DIR``), then the cache; downloads
    the official archive when ``download`` is true (Netflix cannot be
    downloaded). Parsed ratings are cached keyed on the files' sizes and mtimes.
    Raises :class:`DataError` saying where to put the files when none are found.
    """
    spec = get_dataset(name)
    folder = locate_dataset(spec.name, data_dir, cache_dir=cache_dir)
    if folder is None:
        folder = obtain(spec, data_dir, cache_dir, download)
    return read_with_cache(spec, folder, cache_dir, on_duplicate)


def read_with_cache(
    spec: Dataset, folder: Path, cache_dir: str | Path | None, on_duplicate: str
) -> Ratings:
    files = spec.files(folder)
    key = parsed_key(files, dataset=spec.name, on_duplicate=on_duplicate)
    entry = parsed_dir(spec.name, key, cache_dir)
    cached = load_parsed(entry)
    if cached is not None:
        return cached
    ratings = spec.read(folder, on_duplicate)
    ratings.source.setdefault("folder", str(folder))
    provenance = folder / "SOURCE.json"
    if provenance.is_file():
        try:
            ratings.source["origin"] = json.loads(provenance.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    save_parsed(ratings, entry)
    return ratings


def obtain(
    spec: Dataset, data_dir: str | Path | None, cache_dir: str | Path | None, download: bool
) -> Path:
    """Download the dataset into the cache (or explain where its files should go)."""
    if spec.url is None:
        raise missing(spec, data_dir, "it is not distributed any more and cannot be downloaded")
    if not download:
        raise missing(spec, data_dir, "downloads are off")
    target = datasets_dir(cache_dir) / spec.archive_folder
    grouplens = partial(
        fetch_archive,
        spec.url,
        target,
        archive_folder=spec.archive_folder,
        size=spec.size,
        sha256=spec.sha256,
        md5=spec.md5,
    )
    sources: list[tuple[str, Callable[[], Path]]] = [(spec.url, grouplens)]
    if spec.name == "ml-100k":
        sources.append(("the recbole wheel on PyPI", partial(fetch_ml100k_from_recbole, target)))
    failures: list[str] = []
    for label, fetch in sources:
        if failures:
            say(f"{failures[-1]}; trying {label}")
        try:
            folder = fetch()
        except (DataError, OSError) as exc:
            failures.append(str(exc) if isinstance(exc, DataError) else f"{label}: {exc}")
            continue
        if spec.holds_data(folder):
            return folder
        failures.append(f"{label} gave no {spec.expected_files()}")
    raise missing(spec, data_dir, "; ".join(failures))


def missing(spec: Dataset, data_dir: str | Path | None, reason: str) -> DataError:
    roots = search_roots(data_dir)
    where = f"<data folder>/{spec.archive_folder}/"
    if roots:
        where = f"{roots[0] / spec.archive_folder}/"
    return DataError(
        f"{spec.name} not found ({reason})",
        hint=(
            f"put the files of the official archive ({spec.expected_files()}) in {where} "
            f"and pass that data folder as data_dir or set {DATA_ENV} to it"
        ),
    )


# -- load_source: a dataset name or a path --------------------------------------------------

DATASET_OPTIONS = {"cache_dir", "download", "on_duplicate"}


FRAME_OPTIONS = {"user_col", "item_col", "rating_col", "timestamp_col", "scale", "on_duplicate"}


def load_source(
    source: str | Path | pd.DataFrame, data_dir: str | Path | None = None, **options: Any
) -> Ratings:
    """Ratings from a dataset name, a path or a pandas DataFrame.

    A name (``ml-100k``...) goes to :func:`load_dataset` (options ``cache_dir``,
    ``download``, ``on_duplicate``). A path may be a dataset folder in its
    official layout, an official rating file (``u.data``/``u1.base``...,
    ``ratings.dat``, ``ratings.csv``, Netflix ``combined_data_*.txt``) or any
    CSV/TSV/Parquet table (options of :func:`~embrec.data.readers.read_table`;
    the user, item, rating and timestamp columns are guessed from the header
    when not given). A DataFrame goes to :meth:`Ratings.from_pandas`, its
    columns guessed from their names as for a table when not given.
    """
    if isinstance(source, pd.DataFrame):
        check_options(options, FRAME_OPTIONS)
        return ratings_from_frame(source, **options)
    path = Path(source).expanduser()
    if not path.exists():
        key = str(source).strip().lower()
        if ALIASES.get(key, key) in DATASETS:
            check_options(options, DATASET_OPTIONS)
            return load_dataset(str(source), data_dir, **options)
        raise DataError(
            f"no dataset or file named {str(source)!r}",
            hint=f"give a file path or one of {', '.join(DATASETS)}",
        )
    return read_path(path, **options)


def ratings_from_frame(
    frame: pd.DataFrame,
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    timestamp_col: str | None = None,
    **options: Any,
) -> Ratings:
    """:meth:`Ratings.from_pandas` with the columns not given guessed from their names
    (``userId``, ``movieId``, ``rating``, ``timestamp``... as :func:`read_table` guesses)."""
    names = [str(c) for c in frame.columns]
    user = user_col or pick(names, USER_NAMES)
    item = item_col or pick(names, ITEM_NAMES)
    rating = rating_col or pick(names, RATING_NAMES)
    for key, found in (("user_col", user), ("item_col", item), ("rating_col", rating)):
        if found is None:
            raise DataError(
                f"cannot tell which DataFrame column holds the {key.removesuffix('_col')}s",
                hint=f"pass {key}= (the columns are {', '.join(names)})",
            )
    time = timestamp_col or pick(names, TIME_NAMES)
    return Ratings.from_pandas(frame, user=user, item=item, rating=rating, time=time, **options)
