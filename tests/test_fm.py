"""The factorisation machine fitted by Adam (``fm``): penalty, accuracy on u1, bundle, fold-in."""

from __future__ import annotations

import numpy as np
import pytest

from embrec.bundle import load
from embrec.data.features import item_rows, user_rows
from embrec.data.splits import random_split
from embrec.data.synthetic import generate_ratings
from embrec.recommend import make_fold_in
from embrec.solvers.fullbatch import block_columns, occurrences
from embrec.training.fit import fit


def test_each_features_penalty_weighs_the_ratings_it_takes_part_in():
    train = generate_ratings(50, 30, 600, seed=1)
    users, items = user_rows(train), item_rows(train)
    user_counts = occurrences(users, train.user_counts())
    item_counts = occurrences(items, train.item_counts())
    ids = block_columns(users, "user")
    np.testing.assert_allclose(user_counts[ids], train.user_counts())
    # The rated-item feature j: x = 1/sqrt(|N(u)|) in each of its raters' rows, weighted
    # by |N(u)|: one per rater.
    np.testing.assert_allclose(user_counts[block_columns(users, "rated")], train.item_counts())
    np.testing.assert_allclose(item_counts[block_columns(items, "raters")], train.user_counts())
    assert len(block_columns(users, "age")) == 0  # no side information in synthetic data


def test_fm_learns_synthetic_low_rank_ratings():
    ratings = generate_ratings(300, 200, 12_000, rank=4, noise=0.3, seed=5)
    split = random_split(ratings, 0.2, seed=0)
    model = fit(split.train, "fm", test=split.test, verbose=False, seed=0, ranker=None,
                factors=8, epochs=200)
    baseline = fit(split.train, "baseline", test=split.test, verbose=False, ranker=None)
    assert model.metrics["test_rmse"] < baseline.metrics["test_rmse"] - 0.05


@pytest.fixture(scope="module")
def trained(u1):
    return fit(u1.train, "fm", test=u1.test, verbose=False, seed=0, ranker=None)


@pytest.mark.realdata
def test_fm_with_its_defaults_beats_glocal_k_alone_on_u1(trained):
    # GLocal-K with the paper's settings: 0.8928 (docs/accuracy.md); biased MF about 0.917.
    assert trained.metrics["test_rmse"] < 0.893
    assert trained.solver == "fullbatch"
    curve = [e.valid_rmse for e in trained.history.epochs]
    assert len(curve) == 300 and curve[-1] < curve[50]


@pytest.mark.realdata
def test_implicit_feedback_and_side_information_carry_the_accuracy(u1, trained):
    ids_only = fit(u1.train, "fm", test=u1.test, verbose=False, seed=0, ranker=None,
                   implicit=False, flipped=False, side=False)
    assert ids_only.metrics["test_rmse"] > trained.metrics["test_rmse"] + 0.01
    assert not ids_only.module.rated_factors.any()


@pytest.mark.realdata
def test_fm_bundle_round_trips_with_identical_predictions_and_fold_in(trained, u1, tmp_path):
    again = load(trained.save(tmp_path / "fm"))
    assert again.model_config == trained.model_config
    users, items = u1.test.users[:500], u1.test.items[:500]
    np.testing.assert_allclose(again.predictor.predict(users, items)[0],
                               trained.predictor.predict(users, items)[0], atol=1e-5)
    rated, values = np.array([0, 1, 49]), np.array([5.0, 1.0, 4.0])
    np.testing.assert_allclose(make_fold_in(again).scores(rated, values),
                               make_fold_in(trained).scores(rated, values), atol=1e-4)


@pytest.mark.realdata
def test_fold_in_predicts_a_new_users_held_out_ratings(trained, u1):
    fold_in = make_fold_in(trained)
    train, test = u1.train, u1.test
    errors, baseline = [], []
    for user in np.unique(test.users)[:60]:
        seen, held = train.users == user, test.users == user
        scores = fold_in.scores(train.items[seen], train.values[seen])
        errors.append(np.clip(scores[test.items[held]], 1, 5) - test.values[held])
        baseline.append(trained.fallback.predict(
            np.full(held.sum(), -1), test.items[held]) - test.values[held])
    rmse = np.sqrt(np.mean(np.concatenate(errors) ** 2))
    assert rmse < np.sqrt(np.mean(np.concatenate(baseline) ** 2)) - 0.02
    assert np.isfinite(fold_in.scores(np.array([], dtype=np.int64), np.array([]))).all()
