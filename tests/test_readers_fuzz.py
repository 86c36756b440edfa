"""Every reader, fed mutated files, returns ratings or raises a one-line DataError — nothing else.

Mutations: byte flips, truncation, inserted separators and odd tokens, junk lines,
an empty file. Chunks are sometimes tiny so that chunk boundaries fall anywhere.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embrec.data.datasets import load_source
from embrec.data.ratings import Ratings
from embrec.data.readers import (
    _text,
    read_movielens,
    read_netflix,
    read_netflix_probe,
    read_rating_file,
    read_table,
)
from embrec.errors import DataError

GENRE_FLAGS = "|".join("0" * 18 + "1")
U_ITEM = (
    f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/x|{GENRE_FLAGS}\n"
    f"2|Misérables, Les (1995)|01-Jan-1995|||{GENRE_FLAGS}\n"
    f"3|Two Friends (1986) |||x|{GENRE_FLAGS}\n"
).encode("latin-1")
U_USER = b"1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n"
U_GENRE = "".join(f"g{i}|{i}\n" for i in range(19)).encode() + b"\n"
U_DATA = b"1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t878542960\n3\t3\t1\t889751712\n"
RATINGS_DAT = b"1::1::5::978300760\n1::2::3::978302109\n2::1::4::978301968\n3::3::2::978824291\n"
RATINGS_CSV = (
    b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.5,964981247\r\n"
    b"2,1,0.5,964982224\r\n3,2,5.0,964983815\r\n"
)
MOVIES_DAT = "1::Toy Story (1995)::Animation|Children's\n2::Misérables, Les (1995)::Drama\n"
USERS_DAT = b"1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n"
MOVIES_CSV = (
    b"movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation\r\n"
    b'3,"City of Lost Children, The (1995)",Drama\r\n2,Jumanji (1995),(no genres listed)\r\n'
)
COMBINED = b"1:\n1488844,3,2005-09-06\n822109,5,2005-05-13\n2:\n1488844,4,2005-09-07\n"
SPLIT_AT = COMBINED.index(b"2:")
TITLES = b"1,2003,Dinosaur Planet\n2,NULL,Isle of Man, The Review\n"
PROBE = b"1:\n30878\n2647871\n10:\n1952305\n"
TABLE_CSV = b'user,item,rating,when\nann,"b,1",4,1\nbob,b2,2.5,2\nann,b2,1,3\n'
TABLE_TSV = b"1\t10\t3\n2\t10\t4\n2\t11\t5\n"

Files = dict[str, bytes]


def _parquet_bytes() -> bytes:
    frame = pd.DataFrame({"user": ["a", "b", "a"], "item": [3, 4, 4], "rating": [1.0, 2.0, 3.5]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def _ml100k(folder: Path) -> Ratings:
    return read_movielens(folder / "ml-100k", "ml-100k", on_duplicate="error")


def _ml1m(folder: Path) -> Ratings:
    return read_movielens(folder / "ml-1m", "ml-1m")


def _ml_latest(folder: Path) -> Ratings:
    return read_movielens(folder / "ml-latest-small", "ml-latest-small", on_duplicate="mean")


CASES: dict[str, tuple[Files, Callable[[Path], object]]] = {
    "u.data": ({"u.data": U_DATA}, lambda d: read_rating_file(d / "u.data", "tab", scale=(1, 5))),
    "ratings.dat": (
        {"ratings.dat": RATINGS_DAT},
        lambda d: read_rating_file(d / "ratings.dat", "dat"),
    ),
    "ratings.csv": (
        {"ratings.csv": RATINGS_CSV},
        lambda d: read_rating_file(d / "ratings.csv", "csv"),
    ),
    "ml-100k": (
        {
            "ml-100k/u.data": U_DATA,
            "ml-100k/u.item": U_ITEM,
            "ml-100k/u.user": U_USER,
            "ml-100k/u.genre": U_GENRE,
        },
        _ml100k,
    ),
    "ml-1m": (
        {
            "ml-1m/ratings.dat": RATINGS_DAT,
            "ml-1m/movies.dat": MOVIES_DAT.encode("latin-1"),
            "ml-1m/users.dat": USERS_DAT,
        },
        _ml1m,
    ),
    "ml-latest-small": (
        {"ml-latest-small/ratings.csv": RATINGS_CSV, "ml-latest-small/movies.csv": MOVIES_CSV},
        _ml_latest,
    ),
    "netflix": (
        {"combined_data_1.txt": COMBINED, "movie_titles.txt": TITLES},
        lambda d: read_netflix(d / "combined_data_1.txt", d / "movie_titles.txt"),
    ),
    "netflix-training-set": (
        {
            "training_set/mv_0000001.txt": COMBINED[:SPLIT_AT],
            "training_set/mv_0000002.txt": COMBINED[SPLIT_AT:],
        },
        lambda d: read_netflix(d / "training_set"),
    ),
    "probe": ({"probe.txt": PROBE}, lambda d: read_netflix_probe(d / "probe.txt")),
    "table-csv": (
        {"r.csv": TABLE_CSV},
        lambda d: read_table(
            d / "r.csv", user_col="user", item_col="item", rating_col="rating", timestamp_col="when"
        ),
    ),
    "table-tsv": (
        {"r.tsv": TABLE_TSV},
        lambda d: read_table(d / "r.tsv", user_col=0, item_col=1, rating_col=2, header=False),
    ),
    "parquet": (
        {"r.parquet": _parquet_bytes()},
        lambda d: read_table(
            d / "r.parquet", user_col="user", item_col="item", rating_col="rating"
        ),
    ),
    "load_source": ({"r.csv": TABLE_CSV}, lambda d: load_source(str(d / "r.csv"))),
}

TOKENS = [b",", b"\t", b"::", b":", b"|", b"\n", b"\r\n", b"\r", b'"', b" ", b"\x00", b"\xff"]
TOKENS += [b"\xc3", b"nan", b"-1", b"99", b"inf", b"1e999", b"99999999999999999999", b"0.5"]
TOKENS += [b"\x1f", b"1:"]

operation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(TOKENS)),
    st.tuples(st.just("junk"), st.floats(0, 1), st.binary(max_size=12)),
    st.tuples(st.just("delete"), st.floats(0, 1, exclude_max=True), st.integers(1, 8)),
    st.just(("empty",)),
)


def mutate(data: bytes, operations: list[tuple]) -> bytes:
    out = bytearray(data)
    for op in operations:
        kind = op[0]
        if kind == "empty":
            out = bytearray()
            continue
        at = int(op[1] * len(out))
        if kind == "flip" and out:
            out[at] = op[2]
        elif kind == "truncate":
            del out[at:]
        elif kind == "insert":
            out[at:at] = op[2]
        elif kind == "junk":
            start = out.rfind(b"\n", 0, at) + 1
            out[start:start] = op[2] + b"\n"
        elif kind == "delete":
            del out[at : at + op[2]]
    return bytes(out)


def check_result(result: object) -> None:
    if isinstance(result, Ratings):
        assert len(result) > 0
        assert len(result.users) == len(result.items) == len(result.values)
        assert result.users.max() < result.n_users and result.items.max() < result.n_items
        if result.item_info is not None:
            assert len(result.item_info) == result.n_items
        return
    movies, customers = result  # probe
    assert isinstance(movies, np.ndarray) and len(movies) == len(customers)


@pytest.mark.parametrize("case", list(CASES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    target=st.integers(0, 10),
    operations=st.lists(operation, min_size=1, max_size=4),
    chunk_bytes=st.sampled_from([None, 7, 32]),
)
def test_reader_returns_ratings_or_data_error(
    case: str, target: int, operations: list[tuple], chunk_bytes: int | None
) -> None:
    files, reader = CASES[case]
    names = sorted(files)
    victim = names[target % len(names)]
    saved = _text.CHUNK_BYTES
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, content in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(mutate(content, operations) if name == victim else content)
        _text.CHUNK_BYTES = chunk_bytes or saved
        try:
            result = reader(folder)
        except DataError as error:
            assert "\n" not in str(error) and str(error)
            return
        finally:
            _text.CHUNK_BYTES = saved
    check_result(result)


@pytest.mark.parametrize("case", list(CASES))
def test_unmutated_seed_files_read(case: str, tmp_path: Path) -> None:
    files, reader = CASES[case]
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    check_result(reader(tmp_path))
