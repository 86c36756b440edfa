"""Rating-prediction metrics against hand-computed values."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from embrec.data.ratings import RatingScale
from embrec.errors import ConfigError, DataError, EmbrecError
from embrec.evaluation import mae, rating_metrics, rmse, rmse_by_activity

SCALE = RatingScale(1.0, 5.0, 1.0)


def test_rmse_and_mae_match_hand_computation():
    # errors p - r = [1, 0, 2]: MSE = (1 + 0 + 4) / 3 = 5/3, MAE = (1 + 0 + 2) / 3 = 1
    predictions = np.array([3.0, 4.0, 5.0])
    truth = np.array([2.0, 4.0, 3.0])
    assert rmse(predictions, truth) == pytest.approx(math.sqrt(5 / 3), abs=1e-12)
    assert mae(predictions, truth) == pytest.approx(1.0, abs=1e-12)


def test_rmse_is_zero_for_perfect_predictions_and_accepts_float32():
    truth = np.array([1, 2, 3, 4, 5], dtype=np.float32)
    assert rmse(truth, truth) == 0.0
    assert mae(truth.copy(), truth) == 0.0


def test_rating_metrics_clips_to_the_scale_and_says_so():
    # predictions [0.5, 3, 6] clip to [1, 3, 5] on a 1..5 scale; truth [1, 4, 5]
    # clipped errors [0, -1, 0]:    RMSE = sqrt(1/3), MAE = 1/3
    # unclipped errors [-0.5, -1, 1]: RMSE = sqrt((0.25 + 1 + 1) / 3) = sqrt(0.75)
    result = rating_metrics(np.array([0.5, 3.0, 6.0]), np.array([1.0, 4.0, 5.0]), SCALE)
    assert result["rmse"] == pytest.approx(math.sqrt(1 / 3), abs=1e-12)
    assert result["mae"] == pytest.approx(1 / 3, abs=1e-12)
    assert result["rmse_unclipped"] == pytest.approx(math.sqrt(0.75), abs=1e-12)
    assert result["clipped_to_scale"] == [1.0, 5.0]
    assert result["n_clipped"] == 2
    assert result["n_ratings"] == 3
    json.dumps(result)


def test_rating_metrics_never_worse_after_clipping():
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, size=1000).astype(np.float32)
    predictions = truth + rng.normal(0, 1.5, size=1000)
    result = rating_metrics(predictions, truth, SCALE)
    assert result["rmse"] <= result["rmse_unclipped"]
    assert result["n_clipped"] > 0


@pytest.mark.parametrize(
    "predictions, truth, message",
    [
        (np.ones(3), np.ones(4), "3 predictions for 4 true ratings"),
        (np.array([]), np.array([]), "no ratings to evaluate"),
        (np.array([1.0, np.nan]), np.ones(2), "1 predictions are NaN"),
    ],
)
def test_bad_inputs_raise_one_line_errors(predictions, truth, message):
    with pytest.raises(DataError, match=message) as caught:
        rmse(predictions, truth)
    assert "\n" not in str(caught.value)


# rmse_by_activity hand example. Users 0..3 had [0, 3, 12, 250] training ratings,
# so with the default edges they fall in buckets "0", "1-4", "10-19" and "200+".
#   user 0: (pred 3, true 5)                -> errors [2]     bucket "0":     RMSE 2
#   user 1: (4, 4), (2, 3)                  -> errors [0, 1]  bucket "1-4":   RMSE sqrt(1/2)
#   user 2: (3, 1)                          -> errors [2]     bucket "10-19": RMSE 2
#   user 3: (4, 5), (4, 4)                  -> errors [1, 0]  bucket "200+":  RMSE sqrt(1/2)
ACTIVITY_USERS = np.array([0, 1, 1, 2, 3, 3])
ACTIVITY_PRED = np.array([3.0, 4.0, 2.0, 3.0, 4.0, 4.0])
ACTIVITY_TRUE = np.array([5.0, 4.0, 3.0, 1.0, 5.0, 4.0])
TRAIN_COUNTS = np.array([0, 3, 12, 250])


def test_rmse_by_activity_matches_hand_computation():
    table = rmse_by_activity(ACTIVITY_PRED, ACTIVITY_TRUE, ACTIVITY_USERS, TRAIN_COUNTS)
    assert list(table.index) == ["0", "1-4", "5-9", "10-19", "20-49", "50-99", "100-199", "200+"]
    assert table["n_ratings"].tolist() == [1, 2, 0, 1, 0, 0, 0, 2]
    assert table["n_users"].tolist() == [1, 1, 0, 1, 0, 0, 0, 1]
    expected = [2.0, math.sqrt(0.5), np.nan, 2.0, np.nan, np.nan, np.nan, math.sqrt(0.5)]
    np.testing.assert_allclose(table["rmse"].to_numpy(), expected, atol=1e-12)
    assert table.loc["1-4", "min_train_ratings"] == 1
    assert table.loc["1-4", "max_train_ratings"] == 4
    assert math.isinf(table.loc["200+", "max_train_ratings"])


def test_rmse_by_activity_overall_agrees_with_rmse():
    rng = np.random.default_rng(1)
    users = rng.integers(0, 50, size=2000)
    counts = rng.integers(0, 400, size=50)
    truth = rng.integers(1, 6, size=2000).astype(np.float64)
    predictions = truth + rng.normal(0, 1, size=2000)
    table = rmse_by_activity(predictions, truth, users, counts)
    filled = table[table["n_ratings"] > 0]
    pooled = math.sqrt((filled["rmse"] ** 2 * filled["n_ratings"]).sum() / len(truth))
    assert pooled == pytest.approx(rmse(predictions, truth), abs=1e-12)
    assert table["n_users"].sum() == len(np.unique(users))


def test_rmse_by_activity_clips_when_given_a_scale():
    # user 0 (bucket "0"): prediction 7 clips to 5 against truth 5 -> RMSE 0
    table = rmse_by_activity(np.array([7.0]), np.array([5.0]), np.array([0]), np.array([0]),
                             scale=SCALE)
    assert table.loc["0", "rmse"] == 0.0


def test_rmse_by_activity_custom_buckets_must_cover_every_user():
    with pytest.raises(DataError, match="outside the buckets"):
        rmse_by_activity(ACTIVITY_PRED, ACTIVITY_TRUE, ACTIVITY_USERS, TRAIN_COUNTS,
                         buckets=(1, 10, 100))
    with pytest.raises(ConfigError, match="increasing edges"):
        rmse_by_activity(ACTIVITY_PRED, ACTIVITY_TRUE, ACTIVITY_USERS, TRAIN_COUNTS,
                         buckets=(0, 10, 5))
    with pytest.raises(EmbrecError, match="user index 9 is outside"):
        rmse_by_activity(ACTIVITY_PRED, ACTIVITY_TRUE, np.array([0, 1, 1, 2, 3, 9]),
                         TRAIN_COUNTS)
