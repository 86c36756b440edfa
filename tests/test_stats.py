"""describe() and crosstab() on hand-made, synthetic and real ratings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from embrec.data.ratings import Ratings, RatingScale
from embrec.data.stats import crosstab, describe, rating_histogram
from embrec.data.synthetic import generate_ratings


@pytest.fixture()
def hand() -> Ratings:
    # user 10 rated 3 items, user 20 two, user 30 one; item "a" 3 times
    return Ratings.from_raw(
        np.array([10, 10, 10, 20, 20, 30, 30]),
        np.array(["a", "b", "c", "a", "b", "a", "a"]),
        np.array([5, 3, 4, 4, 1, 2, 2.0]),
        timestamps=np.array([0, 86_400, 2, 3, 4, 5, 6]),
        scale=RatingScale(1, 5, 1),
        name="hand",
    )


def test_describe_counts_and_distribution(hand):
    summary = describe(hand)
    assert summary["n_ratings"] == 6 and summary["merged_duplicates"] == 1
    assert (summary["n_users"], summary["n_items"]) == (3, 3)
    assert summary["density"] == pytest.approx(6 / 9)
    assert (summary["rating_min"], summary["rating_max"]) == (1.0, 5.0)
    assert (summary["scale_low"], summary["scale_high"], summary["scale_step"]) == (1, 5, 1)
    assert summary["histogram"] == {"1": 1, "2": 1, "3": 1, "4": 2, "5": 1}
    assert summary["mean"] == pytest.approx(19 / 6)
    assert summary["std"] == pytest.approx(np.std([5, 3, 4, 4, 1, 2]))
    assert summary["user_activity"] == {"min": 1, "25%": 1.5, "median": 2, "75%": 2.5, "max": 3}
    assert summary["item_popularity"]["max"] == 3
    assert summary["first_day"] == "1970-01-01" and summary["last_day"] == "1970-01-02"
    json.dumps(summary)


def test_describe_counts_only_users_and_items_present(hand):
    part = hand.subset(hand.users == 0)
    summary = describe(part)
    assert (summary["n_users"], summary["n_items"]) == (1, 3)
    assert (summary["id_map_users"], summary["id_map_items"]) == (3, 3)


def test_histogram_of_off_grid_and_continuous_values():
    ratings = generate_ratings(200, 100, 4_000, scale=RatingScale(0.0, 1.0), seed=0)
    histogram = rating_histogram(ratings)
    assert len(histogram) == 10 and sum(histogram.values()) == 4_000
    assert "timestamp_min" in describe(ratings)


def test_crosstab_shows_the_busiest_corner(hand):
    info = pd.DataFrame({"title": ["Alpha", "Beta", "Alpha"]}, index=[0, 1, 2])
    from dataclasses import replace

    titled = replace(hand, item_info=info)
    table = crosstab(titled, n_users=2, n_items=2)
    assert list(table.index) == [10, 20]
    assert list(table.columns) == ["Alpha", "Beta"]
    assert table.loc[10, "Alpha"] == 5 and table.loc[20, "Beta"] == 1
    assert list(crosstab(titled).columns) == ["Alpha [a]", "Beta", "Alpha [c]"]
    full = crosstab(hand)
    assert full.shape == (3, 3)
    assert np.isnan(full.loc[30, "b"]) and full.loc[30, "a"] == 2


@pytest.mark.realdata
def test_describe_and_crosstab_on_ml100k(data_dir):
    from embrec.data.datasets import load_dataset

    ratings = load_dataset("ml-100k", data_dir=data_dir)
    summary = describe(ratings)
    assert (summary["n_ratings"], summary["n_users"], summary["n_items"]) == (100_000, 943, 1682)
    assert sum(summary["histogram"].values()) == 100_000
    assert summary["user_activity"]["min"] == 20 and summary["item_popularity"]["max"] == 583
    table = crosstab(ratings, 15, 15)
    assert table.shape == (15, 15)
    assert table.columns[0].startswith("Star Wars")
    assert table.index[0] == 405 and table.notna().to_numpy().sum() > 150
