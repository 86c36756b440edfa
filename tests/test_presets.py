"""Presets: they resolve to valid configurations, conflicts are refused, runs record them."""

from __future__ import annotations

import json

import pytest

from embrec.bundle import load
from embrec.cli import main
from embrec.data.datasets import load_dataset
from embrec.data.splits import make_split
from embrec.errors import ConfigError
from embrec.models.registry import get_spec
from embrec.presets import PRESETS, apply_preset, get_preset
from embrec.training.fit import fit, split_hyperparameters


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_names_a_model_its_solver_and_valid_hyperparameters(name):
    preset = get_preset(name)
    spec = get_spec(preset.model)
    assert preset.solver in spec.solvers
    model_config, train_config = split_hyperparameters(spec, preset.hyperparameters, preset.solver)
    for key, value in preset.hyperparameters.items():
        if key in spec.config_cls.model_fields:  # as the config reads it (blend members)
            assert getattr(model_config, key) == getattr(spec.make_config({key: value}), key)
        else:
            assert getattr(train_config, key) == value
    assert preset.to_json()["model"] == preset.model and name in preset.describe()


def test_best_is_the_blend_whose_first_member_is_the_bayes_preset_sampled_longer():
    assert {"fast", "best", "bayes"} <= set(PRESETS)
    best, bayes = get_preset("best"), get_preset("bayes")
    assert (best.model, best.solver, bayes.model, bayes.solver) == (
        "blend", "blend", "bfm", "gibbs")
    first = get_spec("blend").make_config(best.hyperparameters).members[0]
    assert (first.model, first.solver) == (bayes.model, bayes.solver)
    assert first.hyperparameters == {**bayes.hyperparameters, "epochs": 800, "burn_in": 200}


def test_neural_blends_glocal_k_first_with_the_autorecs_and_the_fm():
    neural = get_preset("neural")
    members = get_spec(neural.model).make_config(neural.hyperparameters).members
    assert [m.model for m in members] == ["glocal-k", "autorec", "autorec", "fm"]
    assert [get_spec(m.model).solvers[0] for m in members] == [
        "glocal", "torch", "torch", "fullbatch"]
    json.dumps(neural.to_json())  # recorded in the bundle's provenance as JSON
    assert "members=[glocal-k, autorec, autorec (orientation=user), fm]" in neural.describe()


def test_an_unknown_preset_or_a_conflicting_model_is_one_line_error():
    with pytest.raises(ConfigError, match="unknown preset 'quick'; choose one of"):
        get_preset("quick")
    with pytest.raises(ConfigError, match="drop --model"):
        apply_preset("best", {}, model="mf")


def test_fit_refuses_a_model_or_solver_other_than_the_presets():
    ratings = None  # refused before the data is looked at
    with pytest.raises(ConfigError, match=r"uses model 'bfm', not 'mf'; drop model='mf' or the"):
        fit(ratings, "mf", preset="bayes")
    with pytest.raises(ConfigError, match=r"uses solver 'sgd', not 'torch'; drop solver='torch'"):
        fit(ratings, preset="fast", solver="torch")
    with pytest.raises(ConfigError, match="unknown preset 'quick'"):
        fit(ratings, preset="quick")


def test_flags_override_the_presets_hyperparameters():
    _, hyper = apply_preset("bayes", {"epochs": 20})
    bayes = get_preset("bayes").hyperparameters
    assert hyper["epochs"] == 20 and hyper["factors"] == bayes["factors"]


@pytest.mark.realdata
def test_fit_preset_records_the_preset_in_the_bundle(data_dir, tmp_path, capsys):
    split = make_split(load_dataset("ml-100k", data_dir=data_dir), "u1", data_dir=data_dir)
    trained = fit(split.train, preset="fast", test=split.test, epochs=3)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("preset fast: mf-bias (solver sgd;")
    assert len(printed) == 1 + 1 + 3  # the preset, the table's header, one row per epoch
    assert trained.name == get_preset("fast").model and trained.solver == "sgd"
    assert trained.train_config["epochs"] == 3
    assert trained.train_config["lr"] == get_preset("fast").hyperparameters["lr"]
    assert trained.provenance["preset"]["name"] == "fast"
    again = load(trained.save(tmp_path / "fast"))
    assert again.provenance["preset"]["solver"] == get_preset("fast").solver
    assert again.train_config["epochs"] == 3


@pytest.mark.realdata
def test_train_and_cv_take_preset(data_dir, tmp_path, capsys):
    out = tmp_path / "model"
    code = main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
                 "--preset", "fast", "--epochs", "2", "--out", str(out), "--json"])
    stdout = capsys.readouterr().out
    assert code == 0 and stdout.startswith("preset fast:")
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["data"]["preset"]["name"] == "fast"
    assert manifest["model"]["name"] == get_preset("fast").model
    code = main(["cv", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--folds", "u1",
                 "--preset", "fast", "--epochs", "2", "--no-baseline", "--workers", "1",
                 "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and summary["preset"]["name"] == "fast"
    assert summary["model"] == get_preset("fast").model
    code = main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
                 "--preset", "best", "--model", "mf", "--out", str(tmp_path / "x")])
    assert code == 2 and "drop --model" in capsys.readouterr().err


@pytest.mark.realdata
def test_cross_validate_takes_a_preset(data_dir):
    from embrec.evaluation.crossval import cross_validate

    ratings = load_dataset("ml-100k", data_dir=data_dir)
    fast = get_preset("fast")
    cv = cross_validate(ratings, preset="fast", folds="u1", data_dir=data_dir, workers=1,
                        epochs=3)
    assert (cv.model, cv.solver) == (fast.model, fast.solver)
    assert cv.config["lr"] == fast.hyperparameters["lr"] and cv.config["epochs"] == 3
    assert 0.85 < cv.rmse_mean < 1.0
    with pytest.raises(ConfigError, match="drop model='embnet' or the preset"):
        cross_validate(ratings, "embnet", preset="fast", folds="u1")
