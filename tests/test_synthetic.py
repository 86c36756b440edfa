"""Synthetic ratings: seeded, distinct pairs, on the scale, power-law shaped, known truth."""

from __future__ import annotations

import numpy as np
import pytest

from embrec.data.ratings import Ratings, RatingScale
from embrec.data.synthetic import (
    ML1M_SHAPE,
    NETFLIX_SHAPE,
    generate_ratings,
    ml1m_like,
    netflix_like_shape,
)
from embrec.errors import ConfigError


def pair_keys(ratings: Ratings) -> np.ndarray:
    return ratings.users.astype(np.int64) * ratings.n_items + ratings.items


def top_decile_share(counts: np.ndarray) -> float:
    ordered = np.sort(counts)[::-1]
    return ordered[: max(1, len(ordered) // 10)].sum() / ordered.sum()


@pytest.fixture(scope="module")
def medium() -> Ratings:
    return generate_ratings(2_000, 1_000, 60_000, seed=7)


def test_same_seed_gives_the_same_data():
    a = generate_ratings(300, 200, 6_000, seed=3)
    b = generate_ratings(300, 200, 6_000, seed=3)
    c = generate_ratings(300, 200, 6_000, seed=4)
    for field in ("users", "items", "values", "timestamps"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert not np.array_equal(a.values, c.values)


def test_pairs_are_distinct_and_everyone_is_rated(medium):
    assert len(medium) == 60_000
    assert len(np.unique(pair_keys(medium))) == 60_000
    assert (medium.user_counts() > 0).all() and (medium.item_counts() > 0).all()
    assert medium.users.dtype == np.int32 and medium.items.dtype == np.int32
    assert medium.user_ids.raw_ids[0] == 1 and len(medium.item_ids) == 1_000


def test_values_lie_on_the_scale(medium):
    assert set(np.unique(medium.values).tolist()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert len(np.unique(medium.values)) == 5
    halves = generate_ratings(100, 50, 2_000, scale=RatingScale(0.5, 5.0, 0.5), seed=1)
    assert np.all(halves.values * 2 == np.round(halves.values * 2))
    assert halves.values.min() >= 0.5 and halves.values.max() <= 5.0
    continuous = generate_ratings(100, 50, 2_000, scale=RatingScale(-1.0, 1.0), seed=1)
    assert continuous.values.min() >= -1.0 and continuous.values.max() <= 1.0
    assert len(np.unique(continuous.values)) > 100


def test_popularity_and_activity_follow_a_power_law(medium):
    assert top_decile_share(medium.item_counts()) > 0.3
    assert top_decile_share(medium.user_counts()) > 0.2
    flat = generate_ratings(2_000, 1_000, 60_000, popularity_exponent=0.0,
                            activity_exponent=0.0, seed=7)
    assert top_decile_share(flat.item_counts()) < 0.15


def test_timestamps_never_decrease(medium):
    assert medium.timestamps.dtype == np.int64
    assert np.all(np.diff(medium.timestamps) >= 0)
    assert medium.timestamps[-1] > medium.timestamps[0]


def test_truth_explains_the_ratings():
    ratings, truth = generate_ratings(500, 300, 20_000, noise=0.3, seed=2, return_truth=True)
    assert truth.user_factors.shape == (500, 8) and truth.item_bias.shape == (300,)
    expected = truth.predict(ratings.users, ratings.items)
    assert np.corrcoef(expected, ratings.values)[0, 1] > 0.85
    assert abs(float(ratings.values.mean()) - truth.global_mean) < 0.3


def test_dense_and_concentrated_requests_still_give_distinct_pairs():
    dense = generate_ratings(20, 50, 800, seed=0)  # 80% of all pairs
    assert len(np.unique(pair_keys(dense))) == 800
    steep = generate_ratings(200, 400, 30_000, popularity_exponent=3.0, seed=0)
    assert len(np.unique(pair_keys(steep))) == 30_000


def test_impossible_sizes_are_refused():
    with pytest.raises(ConfigError, match="cannot fill"):
        generate_ratings(10, 10, 101)
    with pytest.raises(ConfigError, match="cannot fill"):
        generate_ratings(10, 50, 20)


def test_netflix_like_shape_passes_through_ml1m_and_netflix():
    assert netflix_like_shape(ML1M_SHAPE[0]) == ML1M_SHAPE[1:]
    users, items = netflix_like_shape(NETFLIX_SHAPE[0])
    assert abs(users - NETFLIX_SHAPE[1]) <= 1 and abs(items - NETFLIX_SHAPE[2]) <= 1
    for n in (100, 1_000, 10**5, 10**7):
        users, items = netflix_like_shape(n)
        assert max(users, items) <= n <= users * items / 2 + 1


def test_ml1m_like_has_the_ml1m_shape():
    ratings = ml1m_like(seed=0)
    assert (len(ratings), ratings.n_users, ratings.n_items) == ML1M_SHAPE
