"""The config is the truth: one name per setting, the solver recorded, old spellings still read."""

from __future__ import annotations

import json
import warnings

import pytest

from embrec import fit, load
from embrec.cli import main
from embrec.errors import ConfigError
from embrec.evaluation.sweep import expand_aliases
from embrec.models.registry import get_spec
from embrec.training.fit import split_hyperparameters


@pytest.mark.realdata
def test_valid_is_the_deprecated_name_of_test(u1):
    new = fit(u1.train, "baseline", test=u1.test, verbose=False, ranker=None)
    with pytest.warns(DeprecationWarning, match="test="):
        old = fit(u1.train, "baseline", valid=u1.test, verbose=False, ranker=None)
    assert old.metrics == new.metrics
    assert set(new.metrics) == {"test_rmse", "test_mae", "test_loss", "n_test"}
    assert new.metrics["n_test"] == 20_000 and 0.9 < new.metrics["test_rmse"] < 1.0
    with pytest.warns(DeprecationWarning, match="test_rmse"):
        assert new.metrics["valid_rmse"] == new.metrics["test_rmse"]
    with pytest.raises(ConfigError, match="only test="):
        fit(u1.train, "baseline", test=u1.test, valid=u1.test, verbose=False)


@pytest.mark.realdata
def test_the_bundle_records_the_solver_and_reads_bundles_written_before(u1, tmp_path):
    trained = fit(u1.train, "mf-bias", test=u1.test, verbose=False, ranker=None, epochs=2)
    assert trained.train_config["solver"] == trained.solver == "sgd"
    folder = trained.save(tmp_path / "model")
    manifest = json.loads((folder / "bundle.json").read_text())
    assert manifest["train_config"]["solver"] == "sgd"
    assert manifest["metrics"]["test_rmse"] == trained.metrics["test_rmse"]
    # A bundle written before: no solver in train_config, valid_* metrics.
    del manifest["train_config"]["solver"]
    manifest["metrics"] = {k.replace("test_", "valid_").replace("n_test", "n_valid"): v
                           for k, v in manifest["metrics"].items()}
    (folder / "bundle.json").write_text(json.dumps(manifest))
    old = load(folder)
    assert old.train_config["solver"] == old.solver == "sgd"
    assert old.metrics["test_rmse"] == trained.metrics["test_rmse"]
    assert old.metrics["n_test"] == 20_000


def test_factors_is_the_width_of_every_model_that_has_one():
    assert get_spec("mf-bias").make_config({"factors": 8}).factors == 8
    embnet = get_spec("embnet").make_config({"factors": 8})
    assert embnet.user_factors == embnet.item_factors == 8
    for model, old in (("bfm", "rank"), ("autorec", "hidden")):
        with pytest.warns(DeprecationWarning, match=f"'{old}' is now called 'factors'"):
            config = get_spec(model).make_config({old: 8})
        assert config.factors == 8 and old not in config.model_dump()
        assert getattr(config, old) == 8
        with pytest.raises(ConfigError, match="give only 'factors'"):
            get_spec(model).make_config({old: 8, "factors": 8})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_spec("bfm").make_config({"rank": 4}, stored=True).factors == 4


def test_the_solver_and_its_defaults_come_from_the_spec_and_join_the_config():
    spec = get_spec("mf-bias")
    _, sgd = split_hyperparameters(spec, {}, "sgd")
    _, torch = split_hyperparameters(spec, {}, "torch")
    assert (sgd.solver, sgd.epochs, sgd.lr, sgd.emb_l2) == ("sgd", 25, 0.03, 0.07)
    assert (torch.solver, torch.epochs, torch.lr, torch.weight_decay) == ("torch", 5, 5e-3, 0.1)
    with pytest.raises(ConfigError, match="has no solver 'gibbs'; choose one of sgd, torch, als"):
        split_hyperparameters(spec, {}, "gibbs")
    with pytest.raises(ConfigError, match="solver=..."):
        split_hyperparameters(spec, {"solver": "als"}, "sgd")


def test_sweeps_read_wd_as_the_old_name_of_weight_decay():
    with pytest.warns(DeprecationWarning, match="weight_decay"):
        assert expand_aliases("embnet", {"wd": 0.1, "factors": 8}) == {
            "weight_decay": 0.1, "factors": 8}


@pytest.mark.realdata
def test_train_prints_test_rmse_and_the_json_says_test(data_dir, tmp_path, capsys):
    code = main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
                 "--model", "baseline", "--ranker", "none", "--json", "--out",
                 str(tmp_path / "m")])
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and f"test RMSE {summary['test_rmse']:.4f}" in out
    assert summary["valid_rmse"] == summary["test_rmse"]  # the old key, for one release
    assert summary["solver"] == "als"


@pytest.mark.realdata
def test_weight_decay_has_one_flag_and_the_old_one_still_works(data_dir, tmp_path, capsys):
    results = []
    for flag in ("--weight-decay", "--wd"):
        code = main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split",
                     "u1", "--model", "mf-bias", "--solver", "torch", "--epochs", "1",
                     flag, "0.05", "--ranker", "none", "--json", "--out",
                     str(tmp_path / flag.strip("-"))])
        out, err = capsys.readouterr()
        assert code == 0
        assert ("embrec: warning: --wd is now --weight-decay" in err) == (flag == "--wd")
        results.append(json.loads(out.strip().splitlines()[-1]))
        assert load(results[-1]["model_dir"]).train_config["weight_decay"] == 0.05
    assert results[0]["test_rmse"] == results[1]["test_rmse"]


def test_reg_is_the_regularisation_strength_of_every_model_that_has_one():
    def config(model, solver, **values):
        return split_hyperparameters(get_spec(model), values, solver)

    assert config("mf-bias", "sgd", reg=0.05)[1].emb_l2 == 0.05
    assert config("mf-bias", "als", reg=0.05)[1].emb_l2 == 0.05
    assert config("mf-bias", "torch", reg=0.05)[1].weight_decay == 0.05
    assert config("embnet", "torch", reg=2.0)[1].weight_decay == 2.0
    assert config("autorec", "torch", reg=50.0)[0].reg == 50.0
    baseline = config("baseline", "als", reg=5.0)[0]
    assert baseline.reg_user == baseline.reg_item == 5.0
    with pytest.warns(DeprecationWarning, match="'l2' is now called 'reg'"):
        assert config("autorec", "torch", l2=50.0)[0].reg == 50.0
    with pytest.raises(ConfigError, match="reg is emb_l2 for model 'mf-bias' with solver 'sgd'"):
        config("mf-bias", "sgd", reg=0.05, emb_l2=0.1)
    with pytest.raises(ConfigError, match="'bfm' with solver 'gibbs' has no regularisation"):
        config("bfm", "gibbs", reg=0.05)


@pytest.mark.realdata
def test_the_reg_flag_sets_what_the_default_solver_reads(data_dir, tmp_path, capsys):
    code = main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
                 "--reg", "0.05", "--ranker", "none", "--json", "--out", str(tmp_path / "m")])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    trained = load(summary["model_dir"])
    assert code == 0 and trained.solver == "sgd" and trained.train_config["emb_l2"] == 0.05
