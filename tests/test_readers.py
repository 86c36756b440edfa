"""Readers of the official rating formats and of generic tables: counts, metadata, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embrec.data.readers import (
    _text,
    read_movielens,
    read_netflix,
    read_netflix_probe,
    read_rating_file,
    read_table,
)
from embrec.data.readers.metadata import read_ml1m_users, read_movies_dat, title_year
from embrec.errors import DataError

# -- the real files ---------------------------------------------------------------------------


@pytest.mark.realdata
def test_ml100k_counts_scale_and_metadata(data_dir: Path) -> None:
    ratings = read_movielens(data_dir / "ml-100k", "ml-100k")
    assert (len(ratings), ratings.n_users, ratings.n_items) == (100_000, 943, 1682)
    assert set(np.unique(ratings.values).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert (ratings.scale.low, ratings.scale.high) == (1.0, 5.0)
    assert ratings.timestamps is not None and ratings.timestamps.min() > 870_000_000
    info = ratings.item_info
    assert info is not None and len(info) == 1682
    toy_story = ratings.item_ids.index_of(1)
    assert info.loc[toy_story, "title"] == "Toy Story (1995)"
    assert info.loc[toy_story, "genres"] == "Animation|Children's|Comedy"
    assert info.loc[toy_story, "year"] == 1995
    users = ratings.user_info
    first = ratings.user_ids.index_of(1)
    assert users is not None and users.loc[first].tolist() == [24, "M", "technician", "85711"]


@pytest.mark.realdata
def test_ml100k_latin1_titles_are_intact(data_dir: Path) -> None:
    ratings = read_movielens(data_dir / "ml-100k", "ml-100k")
    titles = set(ratings.titles())
    assert "Misérables, Les (1995)" in titles
    assert "Á köldum klaka (Cold Fever) (1994)" in titles
    assert "C'est arrivé près de chez vous (1992)" in titles


@pytest.mark.realdata
def test_ml_latest_small_counts_half_stars_and_unrated_movies(data_dir_with) -> None:
    data_dir = data_dir_with("ml-latest-small")
    ratings = read_movielens(data_dir / "ml-latest-small", "ml-latest-small")
    assert (len(ratings), ratings.n_users, ratings.n_items) == (100_836, 610, 9724)
    assert np.array_equal(np.unique(ratings.values), np.arange(1, 11) / 2)
    assert (ratings.scale.low, ratings.scale.high, ratings.scale.step) == (0.5, 5.0, 0.5)
    titles = ratings.titles()
    assert "City of Lost Children, The (Cité des enfants perdus, La) (1995)" in titles
    assert "Misérables, Les (1995)" in titles
    assert ratings.item_info is not None and ratings.item_info["title"].notna().all()
    assert ratings.source["merged_duplicates"] == 0


@pytest.mark.realdata
def test_ml1m_and_ml10m_movie_files_parse(data_dir_with) -> None:
    data_dir = data_dir_with("ml-1m/movies.dat", "ml-1m/users.dat", "ml-10M100K/movies.dat")
    ml1m = read_movies_dat(data_dir / "ml-1m" / "movies.dat", "latin-1")
    ml10m = read_movies_dat(data_dir / "ml-10M100K" / "movies.dat", "utf-8")
    assert (len(ml1m), len(ml10m)) == (3883, 10681)
    assert ml1m.loc[73, "title"] == "Misérables, Les (1995)"
    assert ml10m.loc[293, "title"].startswith("Léon: The Professional")
    assert ml1m.loc[1, "genres"] == "Animation|Children's|Comedy" and ml1m.loc[1, "year"] == 1995
    users = read_ml1m_users(data_dir / "ml-1m" / "users.dat")
    assert len(users) == 6040 and set(users["gender"]) == {"F", "M"}
    assert users.loc[1].tolist() == [1, "F", "K-12 student", "48067"]


@pytest.mark.realdata
def test_ml1m_folder_with_written_ratings(data_dir_with, tmp_path: Path) -> None:
    data_dir = data_dir_with("ml-1m/movies.dat", "ml-1m/users.dat")
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    for name in ("movies.dat", "users.dat"):
        (folder / name).symlink_to(data_dir / "ml-1m" / name)
    (folder / "ratings.dat").write_text(
        "1::1193::5::978300760\n1::661::3::978302109\n6040::73::4::1\n"
    )
    ratings = read_movielens(folder, "ml-1m")
    assert (len(ratings), ratings.n_users, ratings.n_items) == (3, 2, 3)
    assert ratings.titles(np.array([ratings.item_ids.index_of(73)])) == ["Misérables, Les (1995)"]
    assert ratings.user_info is not None and ratings.user_info["occupation"].tolist() == [
        "K-12 student",
        "doctor/health care",
    ]


# -- MovieLens rating files written by the tests ------------------------------------------------


def write(path: Path, text: str, newline: str = "\n", encoding: str = "utf-8") -> Path:
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


DAT = "1::10::5::978300760\n1::20::3.5::978302109\n2::10::1::978301968\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_double_colon_ratings_with_lf_and_crlf(tmp_path: Path, newline: str) -> None:
    ratings = read_rating_file(write(tmp_path / "ratings.dat", DAT, newline), "dat")
    assert (len(ratings), ratings.n_users, ratings.n_items) == (3, 2, 2)
    assert ratings.values.tolist() == [5.0, 3.5, 1.0]
    assert ratings.timestamps is not None and ratings.timestamps[0] == 978300760
    assert ratings.item_ids.raw_ids.tolist() == [10, 20]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_ratings_csv_with_header_and_crlf(tmp_path: Path, newline: str) -> None:
    text = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n"
    ratings = read_rating_file(write(tmp_path / "ratings.csv", text, newline), "csv")
    assert ratings.values.tolist() == [4.0, 4.5]


def test_ratings_csv_with_wrong_header_names_line_one(tmp_path: Path) -> None:
    path = write(tmp_path / "ratings.csv", "user,item,stars\n1,1,4\n")
    with pytest.raises(DataError, match=r"ratings\.csv:1: header"):
        read_rating_file(path, "csv")


def test_chunk_boundaries_keep_line_numbers(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_text, "CHUNK_BYTES", 50)
    lines = [f"{u}\t{i}\t{1 + (u + i) % 5}\t{880000000 + u}" for u in range(1, 30) for i in (1, 2)]
    lines[44] = "7\t8\tx\t1"
    path = write(tmp_path / "u.data", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"u\.data:45: rating 'x' is not a number"):
        read_rating_file(path, "tab")
    lines[44] = "7\t8\t3\t1"
    path = write(tmp_path / "u.data", "\n".join(lines))
    assert len(read_rating_file(path, "tab")) == len(lines)


# -- bad input: one-line DataErrors naming file and line ----------------------------------------


def ml100k_lines(n: int = 60) -> list[str]:
    return [f"{1 + k % 7}\t{1 + k}\t{1 + k % 5}\t{881250949 + k}" for k in range(n)]


def test_bad_line_37_of_a_ml100k_file_is_named(tmp_path: Path) -> None:
    lines = ml100k_lines()
    lines[36] = "12\t34\tfive\t881250949"
    path = write(tmp_path / "u.data", "\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        read_rating_file(path, "tab")
    message = str(caught.value)
    assert caught.value.line == 37 and ":37:" in message and "\n" not in message
    assert "rating 'five' is not a number" in message


def test_bad_line_37_of_a_generic_csv_counts_the_header(tmp_path: Path) -> None:
    rows = ["user,item,rating"] + [f"u{k % 5},i{k},{1 + k % 5}" for k in range(60)]
    rows[36] = "u1,i99"
    path = write(tmp_path / "ratings.csv", "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r":37: expected 3 fields separated by commas, found 2"):
        read_table(path, user_col="user", item_col="item", rating_col="rating")


@pytest.mark.parametrize(
    ("bad_line", "problem"),
    [
        ("3\t4\t5", "expected 4 fields separated by tabs, found 3"),
        ("3,4,5,881250949", "expected 4 fields separated by tabs, found 1"),
        ("3\t4\tnan\t881250949", "rating is NaN"),
        ("3\t4\t6\t881250949", "rating 6 is outside the scale 1..5"),
        ("3\tx4\t5\t881250949", "item id 'x4' is not an integer"),
        ("3\t4\t5\t88125.0949", "timestamp '88125.0949' is not an integer"),
    ],
)
def test_bad_ml100k_lines(tmp_path: Path, bad_line: str, problem: str) -> None:
    lines = ml100k_lines(10)
    lines[4] = bad_line
    path = write(tmp_path / "u.data", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"u\.data:5: {problem}"):
        read_rating_file(path, "tab", scale=(1, 5))


def test_half_star_rating_outside_the_latest_scale(tmp_path: Path) -> None:
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    write(folder / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,5.5,2\n")
    with pytest.raises(DataError, match=r"ratings\.csv:3: rating 5.5 is outside the scale 0.5..5"):
        read_movielens(folder, "ml-latest-small")


def test_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no ratings"):
        read_rating_file(write(tmp_path / "u.data", ""), "tab")
    with pytest.raises(DataError, match="file is empty"):
        read_rating_file(write(tmp_path / "ratings.csv", ""), "csv")
    with pytest.raises(DataError, match="no ratings"):
        read_rating_file(write(tmp_path / "r.csv", "userId,movieId,rating,timestamp\n"), "csv")


def test_undecodable_bytes_in_a_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_bytes(b"user,item,rating\nann,x,4\nbob,\xff\xfe,3\n")
    with pytest.raises(DataError, match=r"ratings\.csv:3: undecodable bytes"):
        read_table(path, user_col="user", item_col="item", rating_col="rating")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_rating_file(tmp_path / "nope.dat", "dat")


def test_duplicates_by_policy(tmp_path: Path) -> None:
    path = write(tmp_path / "u.data", "1\t1\t5\t10\n1\t2\t3\t11\n2\t1\t4\t12\n1\t1\t2\t13\n")
    with pytest.raises(
        DataError, match=r"u\.data:4: user 1 rated item 1 again \(first on line 1\)"
    ):
        read_rating_file(path, "tab", on_duplicate="error")
    last = read_rating_file(path, "tab", on_duplicate="last")
    assert len(last) == 3 and last.source["merged_duplicates"] == 1
    assert sorted(last.values.tolist()) == [2.0, 3.0, 4.0]
    mean = read_rating_file(path, "tab", on_duplicate="mean")
    assert sorted(mean.values.tolist()) == [3.0, 3.5, 4.0]
    with pytest.raises(DataError, match="unknown duplicate policy"):
        read_rating_file(path, "tab", on_duplicate="first")


# -- item metadata helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "date", "year"),
    [
        ("Toy Story (1995)", "", 1995),
        ("Two Friends (1986) ", "", 1986),
        ("unknown", "", None),
        ("Babylon 5", "01-Jan-1994", 1994),
        ("Band of Brothers (2001-2001)", "", 2001),
        ("Land Before Time III: The Time of the Great Giving (1995) (V)", "", 1995),
        ("Nénette et Boni (1996)", "", 1996),
    ],
)
def test_title_year(title: str, date: str, year: int | None) -> None:
    assert title_year(title, date) == year


def test_metadata_errors_name_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    write(folder / "u.data", "1\t1\t5\t10\n")
    write(
        folder / "u.item", "1|Toy Story (1995)|01-Jan-1995||url|" + "|".join("0" * 19) + "\n2|x\n"
    )
    with pytest.raises(DataError, match=r"u\.item:2: expected 24 fields"):
        read_movielens(folder, "ml-100k")


def test_movies_csv_with_quoted_commas_and_unrated_movies(tmp_path: Path) -> None:
    folder = tmp_path / "ml-latest"
    folder.mkdir()
    write(
        folder / "ratings.csv", "userId,movieId,rating,timestamp\n1,29,4.0,1\n2,29,3.5,2\n", "\r\n"
    )
    movies = (
        "movieId,title,genres\n"
        '29,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Drama\n'
        "30,Unrated (2001),(no genres listed)\n"
    )
    write(folder / "movies.csv", movies, "\r\n")
    ratings = read_movielens(folder, "ml-latest")
    assert ratings.n_items == 1
    assert ratings.item_info is not None
    assert ratings.item_info.loc[0].tolist() == [
        "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
        "Adventure|Drama",
        1995,
    ]


# -- Netflix ---------------------------------------------------------------------------------

COMBINED = (
    "1:\n1488844,3,2005-09-06\n822109,5,2005-05-13\n"
    "2:\n1488844,4,2005-09-07\n"
    "3:\n30878,1,1999-11-11\n822109,2,2005-12-31\n"
)
TITLES = "1,2003,Dinosaur Planet\n2,NULL,Isle of Man TT 2004 Review\n3,1997,Character, The Movie\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_netflix_combined_file_and_titles(tmp_path: Path, newline: str) -> None:
    data = write(tmp_path / "combined_data_1.txt", COMBINED, newline)
    titles = write(tmp_path / "movie_titles.txt", TITLES, newline, "latin-1")
    ratings = read_netflix(data, titles)
    assert (len(ratings), ratings.n_users, ratings.n_items) == (5, 3, 3)
    assert ratings.item_ids.raw_ids.tolist() == [1, 2, 3]
    movies = ratings.item_ids.to_raw(ratings.items).tolist()
    assert movies == [1, 1, 2, 3, 3]
    assert ratings.user_ids.to_raw(ratings.users).tolist() == [
        1488844,
        822109,
        1488844,
        30878,
        822109,
    ]
    assert ratings.values.tolist() == [3, 5, 4, 1, 2]
    assert ratings.timestamps is not None and ratings.timestamps[0] == 1_125_964_800
    info = ratings.item_info
    assert info is not None and info["title"].tolist()[2] == "Character, The Movie"
    assert info["year"].isna().tolist() == [False, True, False]


def test_netflix_training_set_folder_matches_combined(tmp_path: Path) -> None:
    folder = tmp_path / "training_set"
    folder.mkdir()
    write(folder / "mv_0000001.txt", "1:\n1488844,3,2005-09-06\n822109,5,2005-05-13\n")
    write(folder / "mv_0000002.txt", "2:\n1488844,4,2005-09-07\n")
    write(folder / "mv_0000003.txt", "3:\n30878,1,1999-11-11\n822109,2,2005-12-31")
    split = read_netflix(folder)
    combined = read_netflix(write(tmp_path / "combined_data_1.txt", COMBINED))
    assert split.fingerprint() == combined.fingerprint()
    assert np.array_equal(split.timestamps, combined.timestamps)


def test_netflix_chunks_split_between_movies(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_text, "CHUNK_BYTES", 20)
    ratings = read_netflix(write(tmp_path / "combined_data_1.txt", COMBINED * 1))
    assert ratings.item_ids.to_raw(ratings.items).tolist() == [1, 1, 2, 3, 3]


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("1:\n1,3,2005-09-06\n2,6,2005-09-06\n", 3, "rating 6 is outside the scale 1..5"),
        ("1:\n1,3,2005-09-06\n2,3,2005-13-06\n", 3, "date '2005-13-06' is not a date"),
        ("1,3,2005-09-06\n", 1, "rating line before the first 'MovieID:' line"),
        ("1:\n1,3,2005-09-06\n2a:\n", 3, "is not a 'MovieID:' line"),
        ("1:\n1,3\n", 2, "expected 3 fields separated by commas, found 2"),
    ],
)
def test_netflix_errors_name_the_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = write(tmp_path / "combined_data_1.txt", text)
    with pytest.raises(DataError) as caught:
        read_netflix(path)
    assert caught.value.line == line and problem in str(caught.value)


def test_netflix_probe(tmp_path: Path) -> None:
    path = write(tmp_path / "probe.txt", "1:\n30878\n2647871\n10:\n1952305\n", "\r\n")
    movies, customers = read_netflix_probe(path)
    assert movies.tolist() == [1, 1, 10] and customers.tolist() == [30878, 2647871, 1952305]


def test_netflix_titles_with_null_year_and_bad_line(tmp_path: Path) -> None:
    data = write(tmp_path / "combined_data_1.txt", COMBINED)
    titles = write(tmp_path / "movie_titles.txt", "1,2003,Dinosaur Planet\n2;NULL\n")
    with pytest.raises(DataError, match=r"movie_titles\.txt:2: expected 3 fields"):
        read_netflix(data, titles)


# -- generic tables ----------------------------------------------------------------------------


def test_generic_tsv_with_string_ids_and_iso_dates(tmp_path: Path) -> None:
    text = "who\twhat\tstars\twhen\nann\tbook-1\t4\t2020-01-02\nbob\tbook-2\t2.5\t2020-01-03\n"
    path = write(tmp_path / "r.tsv", text)
    ratings = read_table(
        path, user_col="who", item_col="what", rating_col="stars", timestamp_col="when"
    )
    assert ratings.user_ids.raw_ids.tolist() == ["ann", "bob"]
    assert ratings.timestamps is not None and ratings.timestamps.tolist() == [
        1577923200,
        1578009600,
    ]


def test_generic_without_header_uses_positions(tmp_path: Path) -> None:
    path = write(tmp_path / "r.txt", "5;x;1;9\n6;y;2;9\n")
    ratings = read_table(path, user_col=2, item_col=1, rating_col=0, header=False, sep=";")
    assert ratings.user_ids.raw_ids.tolist() == [1, 2] and ratings.values.tolist() == [5.0, 6.0]


def test_generic_unknown_column_lists_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(DataError, match="no column named 'user'.*the header has a, b, c"):
        read_table(path, user_col="user", item_col="b", rating_col="c")


def test_generic_scale_is_checked(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "u,i,r\n1,2,3\n1,3,11\n")
    with pytest.raises(DataError, match=r"r\.csv:3: rating 11 is outside the scale 1..10"):
        read_table(path, user_col="u", item_col="i", rating_col="r", scale=(1, 10))


def test_parquet_table(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    frame = pd.DataFrame({"user": ["a", "b", "a"], "item": [3, 4, 4], "rating": [1.0, 2.0, 3.5]})
    frame.to_parquet(path)
    ratings = read_table(path, user_col="user", item_col="item", rating_col="rating")
    assert (len(ratings), ratings.n_users, ratings.n_items) == (3, 2, 2)
    frame.loc[2, "rating"] = 11.0
    frame.to_parquet(path)
    with pytest.raises(DataError, match="row 3: rating 11.0 is not valid"):
        read_table(path, user_col="user", item_col="item", rating_col="rating", scale=(1, 5))
    frame.loc[1, "rating"] = np.nan
    frame.to_parquet(path)
    with pytest.raises(DataError, match="row 2: rating is missing"):
        read_table(path, user_col="user", item_col="item", rating_col="rating")
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_table(path, user_col="user", item_col="item", rating_col="rating")
