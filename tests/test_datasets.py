"""Datasets by name: lookup order, the parsed cache, load_source, the RecBole source of ml-100k."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import pytest

from embrec.data.cache import cache_root, parsed_dir
from embrec.data.datasets import (
    DATA_ENV,
    DATASETS,
    get_dataset,
    load_dataset,
    load_source,
    locate_dataset,
)
from embrec.data.readers import read_movielens
from embrec.data.recbole_source import fetch_ml100k_from_recbole
from embrec.errors import DataError


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("EMBREC_CACHE_DIR", str(cache))
    monkeypatch.delenv(DATA_ENV, raising=False)
    return cache


def same_ratings(a, b) -> bool:
    return (
        a.fingerprint() == b.fingerprint()
        and np.array_equal(a.timestamps, b.timestamps)
        and a.item_ids == b.item_ids
        and a.user_ids == b.user_ids
        and a.scale == b.scale
    )


@pytest.mark.realdata
def test_ml100k_from_the_data_dir_then_from_the_parsed_cache(data_dir: Path) -> None:
    first = load_dataset("ml-100k", data_dir)
    assert (len(first), first.n_users, first.n_items) == (100_000, 943, 1682)
    started = time.perf_counter()
    second = load_dataset("ml-100k", data_dir)
    assert time.perf_counter() - started < 1.0
    assert same_ratings(first, second)
    assert first.item_info.equals(second.item_info)
    assert first.user_info.equals(second.user_info)
    assert second.source["dataset"] == "ml-100k" and second.source["merged_duplicates"] == 0


@pytest.mark.realdata
def test_ml_latest_small_through_the_environment_variable(data_dir_with, monkeypatch) -> None:
    data_dir = data_dir_with("ml-latest-small")
    monkeypatch.setenv(DATA_ENV, str(data_dir))
    ratings = load_dataset("ml-latest-small")
    assert (len(ratings), ratings.n_users, ratings.n_items) == (100_836, 610, 9724)
    assert (ratings.scale.low, ratings.scale.high) == (0.5, 5.0)
    assert locate_dataset("ml-latest-small") == data_dir / "ml-latest-small"


@pytest.mark.realdata
def test_data_dir_may_be_the_dataset_folder_itself(data_dir: Path) -> None:
    assert locate_dataset("ml-100k", data_dir / "ml-100k") == data_dir / "ml-100k"
    assert len(load_dataset("ml-100k", data_dir / "ml-100k")) == 100_000


@pytest.mark.realdata
def test_a_folder_without_its_ratings_file_is_not_a_hit(data_dir_with) -> None:
    data_dir = data_dir_with("ml-1m/movies.dat", "ml-10M100K/movies.dat")
    assert locate_dataset("ml-1m", data_dir) is None
    assert locate_dataset("ml-10M100K", data_dir) is None
    with pytest.raises(DataError) as caught:
        load_dataset("ml-1m", data_dir, download=False)
    message = str(caught.value)
    assert f"{data_dir / 'ml-1m'}/" in message and "ratings.dat" in message
    assert DATA_ENV in message and "\n" not in message


def test_netflix_cannot_be_downloaded_and_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not distributed any more") as caught:
        load_dataset("netflix", tmp_path)
    assert "nf_prize_dataset/" in str(caught.value) and "training_set" in str(caught.value)


def test_netflix_from_a_data_dir(tmp_path: Path) -> None:
    folder = tmp_path / "nf_prize_dataset" / "training_set"
    folder.mkdir(parents=True)
    (folder / "mv_0000001.txt").write_text("1:\n6,3,2005-09-06\n7,5,2005-05-13\n")
    (folder / "mv_0000002.txt").write_text("2:\n6,4,2005-09-07\n")
    (tmp_path / "nf_prize_dataset" / "movie_titles.txt").write_text("1,2003,A, B\n2,NULL,C\n")
    ratings = load_dataset("netflix", tmp_path)
    assert (len(ratings), ratings.n_users, ratings.n_items) == (3, 2, 2)
    assert ratings.titles() == ["A, B", "C"]


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(DataError, match="unknown dataset 'ml-5k'.*ml-100k"):
        load_dataset("ml-5k")
    assert get_dataset("ML-10M100K") is DATASETS["ml-10m"]


def write_latest(folder: Path, rows: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(rows))
    (folder / "movies.csv").write_text("movieId,title,genres\n1,A (1999),Drama\n2,B,Comedy\n")


def test_the_parsed_cache_follows_the_source_files(tmp_path: Path, isolated_cache: Path) -> None:
    folder = tmp_path / "data" / "ml-latest-small"
    write_latest(folder, ["1,1,4.0,1\n", "2,1,3.5,2\n"])
    assert len(load_dataset("ml-latest-small", folder.parent)) == 2
    write_latest(folder, ["1,1,4.0,1\n", "2,1,3.5,2\n", "2,2,1.0,3\n"])
    os.utime(folder / "ratings.csv", ns=(1, 1))
    again = load_dataset("ml-latest-small", folder.parent)
    assert len(again) == 3 and again.titles() == ["A (1999)", "B"]
    entries = list((isolated_cache / "parsed").iterdir())
    assert [e.name.rsplit("-", 1)[0] for e in entries] == ["ml-latest-small"]


def test_duplicate_policy_is_part_of_the_cache_key(tmp_path: Path) -> None:
    folder = tmp_path / "ml-latest-small"
    write_latest(folder, ["1,1,4.0,1\n", "1,1,3.0,2\n"])
    assert load_dataset("ml-latest-small", tmp_path).values.tolist() == [3.0]
    assert load_dataset("ml-latest-small", tmp_path, on_duplicate="mean").values.tolist() == [3.5]
    with pytest.raises(DataError, match=r"ratings\.csv:3: user 1 rated item 1 again"):
        load_dataset("ml-latest-small", tmp_path, on_duplicate="error")


def test_a_corrupt_parsed_entry_is_parsed_again(tmp_path: Path) -> None:
    folder = tmp_path / "ml-latest-small"
    write_latest(folder, ["1,1,4.0,1\n"])
    load_dataset("ml-latest-small", tmp_path)
    entry = next(parsed_dir("ml-latest-small", "x").parent.iterdir())
    (entry / "ratings.npz").write_bytes(b"garbage")
    assert len(load_dataset("ml-latest-small", tmp_path)) == 1


def test_locate_dataset_finds_the_cache(isolated_cache: Path, tmp_path: Path) -> None:
    folder = isolated_cache / "datasets" / "ml-100k"
    folder.mkdir(parents=True)
    (folder / "u.data").write_text("1\t1\t5\t1\n")
    assert locate_dataset("ml-100k", tmp_path / "empty") == folder
    assert len(load_dataset("ml-100k", tmp_path / "empty")) == 1


def test_the_cache_root_honours_xdg_cache_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("EMBREC_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "embrec"
    write_latest(tmp_path / "data" / "ml-latest-small", ["1,1,4.0,1\n"])
    load_dataset("ml-latest-small", tmp_path / "data")
    parsed = [p.name.rsplit("-", 1)[0] for p in (tmp_path / "xdg" / "embrec" / "parsed").iterdir()]
    assert parsed == ["ml-latest-small"] and not (tmp_path / "home").exists()
    cached = tmp_path / "xdg" / "embrec" / "datasets" / "ml-100k"
    cached.mkdir(parents=True)
    (cached / "u.data").write_text("1\t1\t5\t1\n")
    assert locate_dataset("ml-100k", tmp_path / "empty") == cached

    monkeypatch.setenv("EMBREC_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    monkeypatch.delenv("EMBREC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored, as XDG says
    assert cache_root() == tmp_path / "home" / ".cache" / "embrec"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == tmp_path / "home" / ".cache" / "embrec"


# -- load_source -----------------------------------------------------------------------------


@pytest.mark.realdata
def test_load_source_by_name_and_by_official_files(data_dir: Path) -> None:
    by_name = load_source("ml-100k", data_dir)
    assert same_ratings(by_name, load_dataset("ml-100k", data_dir))
    fold = load_source(str(data_dir / "ml-100k" / "u1.base"))
    assert (len(fold), fold.n_users) == (80_000, 943)
    assert "Toy Story (1995)" in fold.titles()


@pytest.mark.realdata
def test_load_source_by_folder_and_by_csv(data_dir_with) -> None:
    data_dir = data_dir_with("ml-latest-small")
    folder = load_source(data_dir / "ml-latest-small")
    assert same_ratings(folder, read_movielens(data_dir / "ml-latest-small", "ml-latest-small"))
    csv = load_source(data_dir / "ml-latest-small" / "ratings.csv")
    assert same_ratings(csv, folder)


def test_load_source_guesses_generic_columns(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("ts,user_id,product_id,score\n5,u1,p1,3\n6,u2,p1,4\n")
    ratings = load_source(str(path))
    assert ratings.user_ids.raw_ids.tolist() == ["u1", "u2"]
    assert ratings.timestamps is not None and ratings.timestamps.tolist() == [5, 6]
    headerless = tmp_path / "plain.tsv"
    headerless.write_text("1\t10\t3\n2\t10\t4\n")
    assert load_source(headerless).values.tolist() == [3.0, 4.0]


def test_load_source_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no dataset or file named 'nowhere.csv'"):
        load_source("nowhere.csv")
    path = tmp_path / "odd.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(DataError, match="cannot tell which column holds the users"):
        load_source(path)
    with pytest.raises(DataError, match="unknown reader option 'colour'"):
        load_source(path, colour="red")


# -- the second source of ml-100k ---------------------------------------------------------------


def sha256_sums(data_dir: Path) -> dict[str, str]:
    lines = (data_dir / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


@pytest.mark.realdata
def test_ml100k_from_the_recbole_wheel_matches_grouplens(data_dir_with, tmp_path: Path) -> None:
    data_dir = data_dir_with("SHA256SUMS")  # the GroupLens files, with their checksums
    empty = tmp_path / "empty"
    empty.mkdir()
    try:
        fetch_ml100k_from_recbole(tmp_path / "fresh-cache" / "datasets" / "ml-100k")
    except DataError as error:
        pytest.skip(f"the package index cannot be reached: {error}")
    ratings = load_dataset("ml-100k", empty, cache_dir=tmp_path / "fresh-cache")
    assert (len(ratings), ratings.n_users, ratings.n_items) == (100_000, 943, 1682)
    assert ratings.source["origin"]["source"] == "recbole==1.2.1 wheel"
    real = read_movielens(data_dir / "ml-100k", "ml-100k")
    assert same_ratings(ratings, real)
    for column in ("title", "genres", "year"):
        assert ratings.item_info[column].equals(real.item_info[column]), column
    assert ratings.user_info.equals(real.user_info)
    folder = locate_dataset("ml-100k", empty, cache_dir=tmp_path / "fresh-cache")
    sums = sha256_sums(data_dir)
    for name in ["u.data", "u.user", "u.genre", "u.info"] + [
        f"{split}.{part}"
        for split in ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
        for part in ("base", "test")
    ]:
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert digest == sums[f"ml-100k/{name}"], name
