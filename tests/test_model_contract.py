"""The contract every registered model keeps (as implicit's test mixin, LensKit's ScorerTests).

Each model in :data:`embrec.models.registry.REGISTERED` is fitted for a couple
of epochs on a slice of ml-100k and must: predict finite ratings on the scale
for known and unknown ids, fold in a new user from 5 ratings (and a user who
loves those items must score them above one who hates them), give similar
items, and come back from its bundle predicting and folding in the same.
A new model gets these tests by its registration line alone; ``QUICK`` only
shortens the fit of models whose defaults are long.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from embrec import fit, load
from embrec.data.datasets import load_dataset
from embrec.models.registry import REGISTERED
from embrec.recommend import make_fold_in, recommend_for_ratings, similar_items
from embrec.training.fit import reads_option

pytestmark = pytest.mark.realdata

QUICK: dict[str, dict[str, Any]] = {
    "mf": {"epochs": 10},
    "autorec": {"factors": 64},
    "deep-ae": {"layers": "64,16", "epochs": 10},
    "embnet": {"factors": 16, "layers": "32"},
    "bfm": {"epochs": 6, "burn_in": 2, "factors": 4, "fold_in_samples": 2},
    "glocal-k": {"hidden": 32, "pretrain_epochs": 2, "finetune_epochs": 1},
    "blend": {"members": [{"model": "baseline"},
                          {"model": "mf-bias", "hyperparameters": {"epochs": 2}},
                          {"model": "autorec", "hyperparameters": {"factors": 64, "epochs": 2}}]},
}
"""Settings that make a model quick to fit (on top of ``epochs=2``)."""

SPECS = {spec.name: spec for spec in REGISTERED}


@pytest.fixture(scope="module")
def parts(data_dir):
    """20,000 ratings of ml-100k to fit on and 2,000 others to predict (same id maps)."""
    ratings = load_dataset("ml-100k", data_dir=data_dir)
    order = np.random.default_rng(0).permutation(len(ratings))
    return ratings.subset(order[:20_000]), ratings.subset(order[20_000:22_000])


@pytest.fixture(scope="module", params=list(SPECS))
def trained(request, parts):
    train, test = parts
    # epochs=2 where the model's solver has epochs (the baseline's closed form has not).
    epochs = {"epochs": 2} if reads_option(request.param, "epochs") else {}
    settings = {**epochs, "seed": 0, **QUICK.get(request.param, {})}
    return fit(train, request.param, test=test, verbose=False, ranker=None, **settings)


def popular_items(trained, n: int = 5) -> list[Any]:
    """Raw ids of the ``n`` items with the most training ratings."""
    counts = trained.train.item_counts()
    return [trained.item_ids[int(i)] for i in np.argsort(-counts, kind="stable")[:n]]


def test_it_records_its_model_solver_and_test_scores(trained):
    spec = SPECS[trained.name]
    assert trained.solver == spec.default_solver == trained.train_config["solver"]
    assert trained.metrics["n_test"] == 2_000
    assert np.isfinite(trained.metrics["test_rmse"]) and trained.metrics["test_rmse"] < 1.3


def test_it_predicts_finite_ratings_on_the_scale(trained, parts):
    _, test = parts
    users = [trained.user_ids[int(u)] for u in test.users[:500]]
    items = [trained.item_ids[int(i)] for i in test.items[:500]]
    prediction = trained.predict([*users, "no such user"], [*items, items[0]])
    assert np.isfinite(prediction.ratings).all()
    assert (prediction.ratings >= 1).all() and (prediction.ratings <= 5).all()
    assert prediction.source[-1] == "baseline: unknown user"
    assert prediction.source.count("model") > 400


def test_it_folds_in_a_new_user_from_five_ratings(trained):
    items = popular_items(trained)
    result = recommend_for_ratings(trained, {item: 5.0 for item in items}, n=10)
    assert result.strategy.startswith("fold-in") and len(result) == 10
    assert np.isfinite(result.scores).all() and not set(result.item_ids) & set(items)
    fold_in = make_fold_in(trained)
    indices = trained.item_ids.indices_of(items)
    lover = fold_in.scores(indices, np.full(5, 5.0, dtype=np.float32))
    hater = fold_in.scores(indices, np.full(5, 1.0, dtype=np.float32))
    assert lover.shape == (trained.train.n_items,) and np.isfinite(lover).all()
    assert lover[indices].mean() > hater[indices].mean()


def test_it_gives_similar_items(trained):
    item = popular_items(trained, 1)[0]
    similar = similar_items(trained, item, n=5, space="rating")
    assert len(similar) == 5 and item not in similar.item_ids
    assert np.all(np.diff(similar.similarities) <= 1e-6)


def test_it_survives_save_and_load(trained, parts, tmp_path):
    _, test = parts
    again = load(trained.save(tmp_path / "bundle"))
    assert again.name == trained.name and again.solver == trained.solver
    assert again.model_config == trained.model_config
    assert again.metrics["test_rmse"] == trained.metrics["test_rmse"]
    users, items = test.users[:200], test.items[:200]
    before, _ = trained.predictor.predict(users, items)
    after, _ = again.predictor.predict(users, items)
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-6)
    indices = trained.item_ids.indices_of(popular_items(trained))
    values = np.array([5, 4, 4, 2, 1], dtype=np.float32)
    np.testing.assert_allclose(make_fold_in(again).scores(indices, values),
                               make_fold_in(trained).scores(indices, values), rtol=1e-5, atol=1e-5)
