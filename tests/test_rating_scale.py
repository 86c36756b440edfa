"""Any rating scale: training maps it onto 1..5 and predictions map back.

A model trained on ml-100k's ratings times 20 (or ``25 r - 24``) has 20 (25)
times the RMSE it has on 1..5 stars, within 3 %, with every model's defaults.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from embrec.bundle import load
from embrec.data.ratings import Ratings
from embrec.data.scale import RatingScale
from embrec.data.transform import RatingTransform
from embrec.models.registry import MODELS
from embrec.recommend.foldin import make_fold_in
from embrec.training.fit import fit, reads_option

# A few epochs each, enough to be well past the fallback on u1.
QUICK = {
    "baseline": {},
    "mf": {"epochs": 3},
    "mf-bias": {"epochs": 3},
    "embnet": {"epochs": 2},
    "autorec": {"epochs": 4},
    "deep-ae": {"epochs": 4},
    "bfm": {"epochs": 30, "burn_in": 10},
    "glocal-k": {"pretrain_epochs": 4, "finetune_epochs": 2},
    "fm": {"epochs": 100},
    "blend": {"members": [{"model": "baseline"},
                          {"model": "mf-bias", "hyperparameters": {"epochs": 3}}]},
}
SLOW = {"bfm", "embnet", "autorec", "deep-ae", "glocal-k"}
MAPPINGS = {"x20": (20.0, 0.0), "x25-24": (25.0, -24.0)}


def mapped(ratings: Ratings, factor: float, offset: float) -> Ratings:
    """``ratings`` with every value ``factor · r + offset`` and the scale mapped alike."""
    scale = ratings.scale
    return dataclasses.replace(
        ratings,
        values=ratings.values.astype(np.float64) * factor + offset,
        scale=RatingScale(scale.low * factor + offset, scale.high * factor + offset,
                          None if scale.step is None else scale.step * factor),
    )


def model_cases() -> list:
    cases = []
    for name in MODELS:
        solvers = MODELS[name].solvers
        for solver in solvers if name in ("mf", "mf-bias") else solvers[:1]:
            marks = [pytest.mark.slow] if name in SLOW else []
            cases.append(pytest.param(name, solver, id=f"{name}-{solver}", marks=marks))
    return cases


@pytest.mark.parametrize("model,solver", model_cases())
def test_every_model_rmse_scales_with_the_ratings(u1, model, solver):
    settings = {**QUICK[model], "verbose": False, "solver": solver}
    stars = fit(u1.train, model, test=u1.test, **settings).metrics["test_rmse"]
    assert 0.85 < stars < 1.2, f"{model} on 1..5 is not trained: RMSE {stars}"
    for factor, offset in MAPPINGS.values():
        scaled = fit(mapped(u1.train, factor, offset), model,
                     test=mapped(u1.test, factor, offset), **settings)
        rmse = scaled.metrics["test_rmse"]
        assert np.isfinite(rmse)
        assert rmse / (factor * stars) == pytest.approx(1.0, abs=0.03), (model, factor, rmse)


def test_ml100k_trains_on_its_own_scale(u1):
    transform = RatingTransform.for_scale(u1.train.scale)
    assert transform.identity
    assert transform.forward_ratings(u1.train) is u1.train


def test_the_map_is_exact_for_the_issue_scales():
    for low, high in ((20, 100), (1, 101), (-10, 10), (0, 1), (1, 10)):
        transform = RatingTransform.for_scale(RatingScale(low, high))
        assert transform.forward(low) == pytest.approx(1.0)
        assert transform.forward(high) == pytest.approx(5.0)
        assert transform.inverse(transform.forward(0.3 * low + 0.7 * high)) == pytest.approx(
            0.3 * low + 0.7 * high)
    for low, high in ((1, 5), (0.5, 5), (0, 4)):
        assert RatingTransform.for_scale(RatingScale(low, high)).identity


@pytest.mark.parametrize("low,high", [(-10.0, 10.0), (0.0, 1.0)])
def test_odd_scales_train_without_nan_and_predict_on_their_scale(u1, low, high):
    # Stars 1..5 mapped linearly onto low..high; 0..1 is continuous (no step).
    factor = (high - low) / 4.0
    train = mapped(u1.train, factor, low - factor)
    test = mapped(u1.test, factor, low - factor)
    if high == 1.0:
        train = dataclasses.replace(train, scale=RatingScale(low, high))
    trained = fit(train, "mf-bias", test=test, epochs=3, verbose=False)
    rmse = trained.metrics["test_rmse"]
    assert np.isfinite(rmse) and 0.85 * factor < rmse < 1.2 * factor
    predicted = trained.predict(test.user_ids.to_raw(test.users[:50]),
                                test.item_ids.to_raw(test.items[:50])).ratings
    assert predicted.min() >= low and predicted.max() <= high


@pytest.mark.parametrize("model", ["mf-bias", "autorec", "baseline"])
def test_a_scaled_bundle_and_fold_in_keep_the_scale(u1, tmp_path, model):
    epochs = {"epochs": 2} if reads_option(model, "epochs") else {}  # not the closed form
    trained = fit(mapped(u1.train, 20.0, 0.0), model, verbose=False, **epochs)
    assert trained.transform.factor == pytest.approx(20.0)
    assert trained.fallback.global_mean == pytest.approx(20 * u1.train.values.mean(), rel=1e-4)
    users, items = u1.test.users[:200], u1.test.items[:200]
    before, _ = trained.predictor.predict(users, items)
    reloaded = load(trained.save(tmp_path / "scaled"))
    assert reloaded.transform == trained.transform
    after, _ = reloaded.predictor.predict(users, items)
    np.testing.assert_allclose(after, before, rtol=1e-5)
    assert 20 <= after.min() and after.max() <= 100 and after.std() > 5
    # A new user who rates like user 0 scores like user 0, on the 20..100 scale.
    rows = np.flatnonzero(trained.train.users == 0)
    scores = make_fold_in(reloaded).scores(trained.train.items[rows], trained.train.values[rows])
    known = reloaded.predictor.score_users(np.array([0]))[0]
    assert 20 < np.median(scores) < 100
    assert np.corrcoef(scores, known)[0, 1] > 0.9


def test_lr_find_advises_the_same_rate_on_1_to_100(u1):
    from embrec.training.lr_find import lr_find

    stars = lr_find(u1.train, "mf-bias", steps=60)
    scaled = lr_find(mapped(u1.train, 20.0, 0.0), "mf-bias", steps=60)
    assert np.all(np.isfinite(scaled.losses[:30]))
    assert scaled.suggestion == pytest.approx(stars.suggestion, rel=0.05)
