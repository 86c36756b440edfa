"""The blend: ridge weights fitted on a carve-out beat each member, survive the bundle, fold in.

The real-data tests fit a cheap blend (baseline, mf-bias by SGD, a short
item-based AutoRec) on ml-100k u1: about 5 seconds a fit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from embrec import fit, load
from embrec.cli import main
from embrec.data.align import align_ratings
from embrec.data.datasets import load_dataset
from embrec.data.splits import make_split
from embrec.data.synthetic import generate_ratings
from embrec.errors import ConfigError
from embrec.models.blend import DEFAULT_MEMBERS, BlendConfig, BlendMember, ridge_weights
from embrec.models.registry import get_spec
from embrec.presets import get_preset
from embrec.recommend import make_fold_in, recommend, recommend_for_ratings

CHEAP_MEMBERS = [
    {"model": "baseline"},
    {"model": "mf-bias", "solver": "sgd",
     "hyperparameters": {"factors": 50, "epochs": 25, "lr": 0.03, "emb_l2": 0.07,
                         "schedule": "cosine"}},
    {"model": "autorec", "hyperparameters": {"factors": 100, "epochs": 20}},
]


def rmse(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted.astype(np.float64) - truth) ** 2)))


def test_ridge_weights_recover_an_exact_blend_and_leave_the_intercept_unpenalised():
    rng = np.random.default_rng(0)
    predictions = rng.normal(3.5, 1.0, size=(500, 3))
    ratings = 0.4 + predictions @ np.array([0.5, 0.3, 0.1])
    np.testing.assert_allclose(ridge_weights(predictions, ratings, 0.0),
                               [0.4, 0.5, 0.3, 0.1], atol=1e-9)
    # A huge alpha shrinks the members' weights to zero; the intercept becomes the mean.
    shrunk = ridge_weights(predictions, ratings, 1e12)
    assert np.abs(shrunk[1:]).max() < 1e-6
    assert shrunk[0] == pytest.approx(ratings.mean(), abs=1e-6)


def test_the_default_members_are_the_bayes_preset_item_and_user_autorec_and_the_fm():
    bayes = get_preset("bayes")
    first = DEFAULT_MEMBERS[0]
    assert (first.model, first.solver) == (bayes.model, bayes.solver)
    assert first.hyperparameters == {**bayes.hyperparameters, "epochs": 800, "burn_in": 200}
    assert [m.model for m in DEFAULT_MEMBERS] == ["bfm", "autorec", "autorec", "fm"]
    assert DEFAULT_MEMBERS[2].hyperparameters == {"orientation": "user"}
    assert DEFAULT_MEMBERS[3].hyperparameters == {}
    assert BlendConfig().alpha == 1.0 and BlendConfig().carve_fraction == 0.1


@pytest.mark.parametrize("values, message", [
    ({"members": []}, "at least one member"),
    ({"members": [{"model": "blend"}]}, "cannot be a member"),
    ({"carve_fraction": 0.0}, "carve_fraction"),
    ({"alpha": -1.0}, "alpha"),
    ({"members": [{"model": "mf", "epochs": 3}]}, "members"),
])
def test_a_bad_blend_config_is_a_config_error_naming_the_field(values, message):
    with pytest.raises(ConfigError, match=message):
        get_spec("blend").make_config(values)


def test_members_named_as_text_are_presets_or_models():
    config = get_spec("blend").make_config({"members": "bayes, autorec,fast"})
    bayes, autorec, fast = config.members
    assert (bayes.model, bayes.solver, bayes.hyperparameters["epochs"]) == ("bfm", "gibbs", 400)
    assert autorec == BlendMember(model="autorec")
    assert (fast.model, fast.solver, fast.hyperparameters["factors"]) == ("mf-bias", "sgd", 50)
    for blend in ("best", "neural"):
        with pytest.raises(ConfigError, match=f"preset '{blend}' is a blend itself"):
            get_spec("blend").make_config({"members": f"{blend},autorec"})


def test_members_from_the_command_line_reach_the_fit(tmp_path, capsys):
    train = generate_ratings(60, 40, 900, seed=3)
    path = tmp_path / "ratings.csv"
    train.to_pandas().to_csv(path, index=False)
    code = main(["train", "--dataset", str(path), "--model", "blend", "-p",
                 "members=baseline,fast", "--ranker", "none", "--out", str(tmp_path / "b")])
    assert code == 0, capsys.readouterr().err
    assert [m.model for m in load(tmp_path / "b").model_config.members] == ["baseline", "mf-bias"]


@pytest.mark.parametrize("member, message", [
    ({"model": "mf", "hyperparameters": {"epoch": 3}}, "unknown hyperparameter 'epoch'"),
    ({"model": "bfm", "solver": "torch"}, "has no solver 'torch'"),
    ({"model": "nope"}, "unknown model 'nope'"),
    ({"model": "autorec", "hyperparameters": {"factors": "wide"}}, "autorec.*factors"),
])
def test_a_bad_member_is_refused_before_any_member_is_fitted(member, message):
    train = generate_ratings(60, 40, 900, seed=3)
    with pytest.raises(ConfigError, match=message):
        fit(train, "blend", members=[{"model": "baseline"}, member], verbose=False)


def test_an_interrupted_blend_resumes_from_its_checkpoint_to_the_same_model(tmp_path):
    train = generate_ratings(120, 80, 3_000, seed=3)
    members = [{"model": "baseline"},
               {"model": "mf-bias", "hyperparameters": {"epochs": 3}},
               {"model": "autorec", "hyperparameters": {"factors": 16, "epochs": 3}}]
    straight = fit(train, "blend", members=members, verbose=False)
    folder = tmp_path / "ckpt"

    def stop_after_four(record):
        if record.epoch == 4:
            raise KeyboardInterrupt

    with pytest.raises(ConfigError, match="stopped after 4 of its 6 member fits; resume"):
        fit(train, "blend", members=members, verbose=False, checkpoint_dir=folder,
            on_epoch=stop_after_four)
    resumed = fit(train, "blend", members=members, verbose=False, checkpoint_dir=folder,
                  resume=True)
    assert len(resumed.history.epochs) == 6
    np.testing.assert_array_equal(resumed.module.weights.numpy(), straight.module.weights.numpy())
    users, items = train.users[:300], train.items[:300]
    np.testing.assert_allclose(resumed.predictor.predict(users, items)[0],
                               straight.predictor.predict(users, items)[0], atol=1e-6)


@pytest.fixture(scope="module")
def u1(data_dir):
    ratings = load_dataset("ml-100k", data_dir=data_dir)
    split = make_split(ratings, "u1", data_dir=data_dir)
    return split.train, align_ratings(split.test, split.train).ratings


@pytest.fixture(scope="module")
def blend(u1):
    train, test = u1
    return fit(train, "blend", test=test, members=CHEAP_MEMBERS, verbose=False, ranker="ease")


@pytest.mark.realdata
def test_the_blend_beats_each_of_its_members_on_u1(blend, u1):
    _, test = u1
    members = [rmse(p.predict(test.users, test.items)[0], test.values)
               for p in blend.predictor.members]
    blended = rmse(blend.predictor.predict(test.users, test.items)[0], test.values)
    assert blended == pytest.approx(blend.metrics["test_rmse"], abs=1e-6)
    assert blended < min(members) - 0.005, (blended, members)
    weights = blend.module.weights.numpy()
    assert weights.shape == (4,) and np.isfinite(weights).all()


@pytest.mark.realdata
def test_a_bundle_round_trip_gives_identical_predictions_and_fold_ins(blend, u1, tmp_path):
    _, test = u1
    again = load(blend.save(tmp_path / "blend"))
    assert again.name == "blend" and again.solver == "blend"
    assert again.model_config == blend.model_config
    np.testing.assert_array_equal(again.module.weights.numpy(), blend.module.weights.numpy())
    before, _ = blend.predictor.predict(test.users, test.items)
    after, _ = again.predictor.predict(test.users, test.items)
    np.testing.assert_array_equal(after, before)
    items, values = np.array([0, 49, 99, 180, 257]), np.array([5, 4, 1, 2, 5], np.float32)
    np.testing.assert_allclose(make_fold_in(again).scores(items, values),
                               make_fold_in(blend).scores(items, values), rtol=1e-6, atol=1e-6)
    assert recommend(again, "1", n=5).item_ids == recommend(blend, "1", n=5).item_ids


@pytest.mark.realdata
def test_a_blend_with_a_bayesian_fm_member_comes_back_from_its_bundle(u1, tmp_path):
    train, test = u1
    members = [{"model": "bfm", "hyperparameters": {"epochs": 6, "burn_in": 2, "factors": 4,
                                                    "fold_in_samples": 2}},
               {"model": "baseline"}]
    trained = fit(train, "blend", test=test, members=members, verbose=False)
    again = load(trained.save(tmp_path / "blend-bfm"))
    assert again.model_config.members[0].hyperparameters["width"] is not None
    np.testing.assert_array_equal(again.predictor.predict(test.users, test.items)[0],
                                  trained.predictor.predict(test.users, test.items)[0])
    items, values = np.array([0, 49, 99]), np.array([5, 4, 1], np.float32)
    np.testing.assert_allclose(make_fold_in(again).scores(items, values),
                               make_fold_in(trained).scores(items, values), atol=1e-5)


@pytest.mark.realdata
def test_a_new_user_with_a_known_users_ratings_scores_like_that_user(blend):
    train = blend.train
    user = int(np.argmax(train.user_counts()))
    rows = train.users == user
    fold_in = make_fold_in(blend)
    new = fold_in.scores(train.items[rows], train.values[rows])
    known = blend.predictor.score_users(np.array([user]))[0]
    assert new.shape == known.shape == (train.n_items,) and np.isfinite(new).all()
    rated = train.item_counts() > 0
    assert np.corrcoef(new[rated], known[rated])[0, 1] > 0.9
    result = recommend_for_ratings(
        blend, {train.item_ids[int(i)]: float(v)
                for i, v in zip(train.items[rows][:10], train.values[rows][:10])}, n=5)
    assert result.strategy.startswith("fold-in: blend weights") and len(result) == 5


@pytest.mark.realdata
def test_known_users_get_recommendations_ordered_by_the_ranker(blend):
    result = recommend(blend, "1", n=10)
    assert len(result) == 10 and blend.ranker is not None
    seen = set(blend.train.items[blend.train.users == blend.user_ids.indices_of(["1"])[0]])
    assert not {int(i) for i in blend.item_ids.indices_of(result.item_ids)} & seen


@pytest.mark.realdata
def test_the_test_part_never_reaches_the_weights(blend, u1):
    train, test = u1
    poisoned = replace(test, values=np.where(test.values > 3, 1.0, 5.0).astype(test.values.dtype))
    again = fit(train, "blend", test=poisoned, members=CHEAP_MEMBERS, verbose=False)
    np.testing.assert_array_equal(again.module.weights.numpy(), blend.module.weights.numpy())
    assert again.metrics["test_rmse"] > blend.metrics["test_rmse"] + 1.0


def test_a_thread_count_reaches_only_the_members_whose_solver_reads_it():
    # embrec cv --workers 2 fits each fold with threads=1; the glocal solver has no such option.
    train = generate_ratings(60, 40, 900, seed=3)
    members = [{"model": "glocal-k", "hyperparameters": {"hidden": 16, "pretrain_epochs": 1,
                                                         "finetune_epochs": 1}},
               {"model": "mf-bias", "solver": "sgd", "hyperparameters": {"epochs": 2}}]
    model = fit(train, "blend", members=members, threads=1, verbose=False, ranker=None)
    assert [m.model for m in model.model_config.members] == ["glocal-k", "mf-bias"]
    assert np.isfinite(model.predictor.predict(train.users[:50], train.items[:50])[0]).all()
