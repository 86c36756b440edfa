"""The Bayesian FM: feature rows, exact relational caches, accuracy on u1, bundles, fold-in."""

from __future__ import annotations

import numpy as np
import pytest

from embrec.bundle import load
from embrec.data.features import item_rows, user_rows
from embrec.errors import ConfigError
from embrec.solvers import gibbs_kernels as kernels
from embrec.solvers.gibbs import GibbsSampler
from embrec.training.fit import fit

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def trained(u1):
    return fit(u1.train, "bfm", test=u1.test, factors=8, epochs=40, burn_in=10, seed=0)


def test_user_and_item_rows_carry_ids_implicit_feedback_and_side_information(u1):
    users = user_rows(u1.train)
    assert list(users.describe())[:2] == ["user", "rated"]
    assert {"age", "gender", "occupation", "zip"} <= set(users.describe())
    counts = u1.train.user_counts()
    first = users.indices[users.indptr[0]:users.indptr[1]]
    values = users.values[users.indptr[0]:users.indptr[1]]
    rated = (first >= u1.train.n_users) & (first < u1.train.n_users + u1.train.n_items)
    assert rated.sum() == counts[0]
    assert np.allclose(values[rated], 1 / np.sqrt(counts[0]))
    items = item_rows(u1.train)
    assert {"item", "raters", "genres", "year"} <= set(items.describe())
    assert items.describe()["genres"] == 19


def test_relational_caches_follow_every_draw_exactly(u1):
    state = GibbsSampler(u1.train, 4, implicit=True, flipped=True, side=True,
                         init_std=0.1, seed=3)
    state.sweep()
    user, item = state.user, state.item
    kernels.block_caches(user.r_indptr, user.r_other, user.r_pos, state.e, item.P,
                         user.n, user.sQ, user.G, user.E, user.EQ)
    kernels.sample_block(user.f_indptr, user.f_owner, user.f_value, user.f_global,
                         user.active, state.w, state.V, state.groups, state.mu_w,
                         state.lam_w, state.mu_v, state.lam_v, state.alpha, user.P,
                         user.n, user.sQ, user.G, user.E, user.EQ)
    tracked = user.P.copy()
    user.refresh(state.w, state.V)
    state._residuals()
    errors = np.bincount(state.users, weights=state.e, minlength=len(user.E))
    assert np.allclose(tracked, user.P, atol=1e-9)
    assert np.allclose(errors, user.E, atol=1e-8)


def test_bfm_with_few_samples_beats_biased_mf_on_u1(trained):
    assert trained.metrics["test_rmse"] < 0.905
    assert trained.solver == "gibbs"
    curve = [e.valid_rmse for e in trained.history.epochs]
    assert len(curve) == 40 and curve[-1] < curve[10]


def test_bfm_bundle_round_trips_with_identical_predictions(trained, u1, tmp_path):
    path = trained.save(tmp_path / "bfm")
    again = load(path)
    assert again.model_config == trained.model_config
    assert again.model_config.width == min(u1.train.n_users, u1.train.n_items)
    users, items = u1.test.users[:500], u1.test.items[:500]
    before, _ = trained.predictor.predict(users, items)
    after, _ = again.predictor.predict(users, items)
    np.testing.assert_allclose(before, after, atol=1e-5)
    assert np.allclose(again.module.fold_in(np.array([0, 1]), np.array([5.0, 1.0])),
                       trained.module.fold_in(np.array([0, 1]), np.array([5.0, 1.0])),
                       atol=1e-5)


def test_fold_in_predicts_a_new_users_held_out_ratings(trained, u1):
    module = trained.module
    train, test = u1.train, u1.test
    errors, baseline = [], []
    for user in np.unique(test.users)[:40]:
        seen = train.users == user
        held = test.users == user
        scores = module.fold_in(train.items[seen], train.values[seen])
        errors.append(np.clip(scores[test.items[held]], 1, 5) - test.values[held])
        baseline.append(trained.fallback.predict(
            np.full(held.sum(), -1), test.items[held]) - test.values[held])
    rmse = np.sqrt(np.mean(np.concatenate(errors) ** 2))
    assert rmse < np.sqrt(np.mean(np.concatenate(baseline) ** 2))
    assert np.isfinite(module.fold_in(np.array([], dtype=np.int64), np.array([]))).all()


def test_gibbs_refuses_a_burn_in_as_long_as_the_chain(u1):
    with pytest.raises(ConfigError, match="burn_in"):
        fit(u1.train, "bfm", epochs=5, burn_in=5)


def test_without_room_for_the_dense_mean_thinned_samples_are_stacked(u1, monkeypatch):
    from embrec.solvers import gibbs, gibbs_posterior

    monkeypatch.setattr(gibbs, "DENSE_LIMIT", 0)
    monkeypatch.setattr(gibbs_posterior, "DENSE_LIMIT", 0)
    model = fit(u1.train, "bfm", test=u1.test, factors=4, epochs=12, burn_in=4, width=16, seed=0)
    assert model.model_config.width == 16
    assert model.module.user_factors.weight.shape[1] == 16
    assert model.metrics["test_rmse"] < 0.95
