"""Ratings from pandas DataFrames; a rating scale is taken from the data only when not given."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import embrec
from embrec.data.ratings import InferredScaleWarning, Ratings
from embrec.errors import DataError


@pytest.fixture
def latest_small(data_dir_with) -> pd.DataFrame:
    return pd.read_csv(data_dir_with("ml-latest-small") / "ml-latest-small" / "ratings.csv")


def test_from_raw_says_when_it_takes_the_scale_from_four_ratings():
    users, items, values = np.array([1, 1, 2, 3]), np.array([5, 6, 5, 7]), np.array([2, 5, 4, 3.0])
    with pytest.warns(InferredScaleWarning, match=r"rating scale 2\.\.5 taken from .* 4 ratings"):
        guessed = Ratings.from_raw(users, items, values)
    assert (guessed.scale.low, guessed.scale.high) == (2.0, 5.0)
    assert guessed.source["scale_inferred"] is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        declared = Ratings.from_raw(users, items, values, scale=(1, 5))
    assert (declared.scale.low, declared.scale.high) == (1.0, 5.0)
    assert "scale_inferred" not in declared.source


@pytest.mark.realdata
def test_from_pandas_reads_ml_latest_small_as_the_csv_reader_does(data_dir, latest_small):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a declared scale: nothing to say
        ratings = Ratings.from_pandas(latest_small, user="userId", item="movieId",
                                      rating="rating", time="timestamp", scale=(0.5, 5))
    assert (len(ratings), ratings.n_users, ratings.n_items) == (100_836, 610, 9_724)
    from_file = embrec.load_dataset("ml-latest-small", data_dir=data_dir)
    assert ratings.fingerprint() == from_file.fingerprint()
    assert np.array_equal(ratings.timestamps, from_file.timestamps)
    assert ratings.to_pandas().equals(
        latest_small.rename(columns={"userId": "user_id", "movieId": "item_id"})
        .astype({"rating": np.float32})
    )


@pytest.mark.realdata
def test_load_source_takes_a_dataframe_and_guesses_its_columns(latest_small):
    with pytest.warns(InferredScaleWarning, match=r"0\.5\.\.5 taken from .* 100,836 ratings"):
        ratings = embrec.load_source(latest_small)
    assert (len(ratings), ratings.n_users, ratings.n_items) == (100_836, 610, 9_724)
    assert ratings.source["columns"] == {"user": "userId", "item": "movieId",
                                         "rating": "rating", "time": "timestamp"}
    assert ratings.scale.step == 0.5 and ratings.source["scale_inferred"] is True
    with pytest.raises(DataError, match="cannot tell which DataFrame column holds the ratings"):
        embrec.load_source(latest_small.rename(columns={"rating": "r"}))
    with pytest.raises(DataError, match="unknown reader option 'sep'"):
        embrec.load_source(latest_small, sep=",")


def test_string_ids_and_datetimes_round_trip():
    frame = pd.DataFrame({
        "who": ["ann", "bob", "ann"], "what": ["x", "y", "y"], "stars": [4, 5, 3],
        "when": pd.to_datetime(["2020-01-01", "2020-01-02 00:00:01", "2020-01-03"],
                               format="ISO8601"),
    })
    ratings = Ratings.from_pandas(frame, user="who", item="what", rating="stars", time="when",
                                  scale=(1, 5))
    assert list(ratings.user_ids) == ["ann", "bob"] and ratings.item_ids.index("y") == 1
    assert ratings.timestamps.tolist() == [1577836800, 1577923201, 1578009600]
    back = Ratings.from_pandas(ratings.to_pandas(), user="user_id", item="item_id",
                               rating="rating", time="timestamp", scale=(1, 5))
    assert back.fingerprint() == ratings.fingerprint()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(stars=[4, "five", 3]),
         r"DataFrame row 1 \(index 'b'\), column 'stars': 'five' is not a number"),
        (lambda f: f.assign(stars=[4, 5, 6]),
         r"row 2 \(index 'c'\), column 'stars': 6 is outside the scale 1\.\.5"),
        (lambda f: f.assign(who=["ann", None, None]),
         r"row 1 \(index 'b'\), column 'who': no user \(empty cell\) \(2 such rows in all\)"),
        (lambda f: f.drop(columns="what"), r"the DataFrame has no column 'what' \(item='what'\)"),
    ],
)
def test_bad_rows_and_columns_are_named(change, message):
    frame = pd.DataFrame({"who": ["ann", "bob", "ann"], "what": [1, 2, 2], "stars": [4, 5, 3]},
                         index=["a", "b", "c"])
    with pytest.raises(DataError, match=message):
        Ratings.from_pandas(change(frame), user="who", item="what", rating="stars", scale=(1, 5))
