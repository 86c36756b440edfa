"""Cross-validation: folds, per-fold scores, parallel workers, the cv command's JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embrec.cli import main
from embrec.data.datasets import load_source
from embrec.data.splits import make_split
from embrec.data.synthetic import generate_ratings
from embrec.errors import ConfigError
from embrec.evaluation import CVResult, cross_validate, resolve_folds


@pytest.fixture(scope="module")
def small():
    return generate_ratings(60, 40, 900, seed=3)


@pytest.fixture(scope="module")
def ml100k(data_dir):
    return load_source("ml-100k", data_dir=data_dir)


def pairs(ratings) -> set[tuple[int, int]]:
    return set(zip(ratings.users.tolist(), ratings.items.tolist()))


def test_kfold_test_sets_are_disjoint_and_cover_the_ratings(small):
    names = resolve_folds(small, 4)
    assert names == ["kfold:4:1", "kfold:4:2", "kfold:4:3", "kfold:4:4"]
    tests = [pairs(make_split(small, name, seed=7).test) for name in names]
    assert sum(len(t) for t in tests) == len(small)
    assert set().union(*tests) == pairs(small)
    result = cross_validate(small, "baseline", 4, seed=7, workers=1)
    assert [f.fold for f in result.folds] == names
    assert sum(f.n_test for f in result.folds) == len(small)
    assert all(f.n_train + f.n_test == len(small) for f in result.folds)


def test_mean_and_sample_std_of_the_fold_scores(small):
    result = cross_validate(small, "baseline", 3, workers=1)
    rmse = np.array([f.rmse for f in result.folds])
    assert result.rmse_mean == pytest.approx(rmse.mean())
    assert result.rmse_std == pytest.approx(rmse.std(ddof=1))
    assert result.mae_mean == pytest.approx(np.mean([f.mae for f in result.folds]))


def test_folds_argument_forms(small):
    assert resolve_folds(small, "3") == ["kfold:3:1", "kfold:3:2", "kfold:3:3"]
    assert resolve_folds(small, "kfold:5:1, kfold:5:2") == ["kfold:5:1", "kfold:5:2"]
    with pytest.raises(ConfigError, match="official folds"):
        resolve_folds(small, "official")
    with pytest.raises(ConfigError, match="at least 2"):
        resolve_folds(small, 1)


@pytest.mark.realdata
def test_official_folds_give_five_results_with_provenance(ml100k, data_dir):
    result = cross_validate(ml100k, "baseline", "official", data_dir=data_dir, workers=1)
    assert result.splits == ["u1", "u2", "u3", "u4", "u5"]
    assert [f.n_test for f in result.folds] == [20_000] * 5
    assert 0.9 < result.rmse_mean < 1.0
    payload = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert payload["dataset"]["fingerprint"] == ml100k.fingerprint()
    assert payload["embrec_version"] and payload["seed"] == 0
    again = CVResult.from_json(payload)
    assert again.rmse_mean == pytest.approx(result.rmse_mean)
    assert [f.fold for f in again.folds] == result.splits


def test_early_stopping_monitors_the_training_fold_not_the_test_fold(small):
    result = cross_validate(
        small, "mf-bias", 3, workers=1, epochs=3, factors=4, valid_fraction=0.2, patience=1,
        threads=1,
    )
    for fold in result.folds:
        epochs = fold.history["epochs"]
        assert all(e["monitor_rmse"] is not None for e in epochs)
        # The test fold is reported per epoch, and the monitor is a different set.
        assert all(e["valid_rmse"] != e["monitor_rmse"] for e in epochs)
        assert fold.n_train + fold.n_test == len(small)


def test_parallel_workers_give_the_same_scores_as_one_process(small):
    serial = cross_validate(small, "baseline", 3, workers=1, baseline=False)
    parallel = cross_validate(small, "baseline", 3, workers=2)
    assert parallel.workers == 2
    assert [f.rmse for f in parallel.folds] == pytest.approx([f.rmse for f in serial.folds])


@pytest.mark.realdata
def test_ranking_against_popularity_on_u1(ml100k, data_dir):
    result = cross_validate(ml100k, "baseline", ["u1"], data_dir=data_dir, workers=1, ranking=10)
    ranking = result.folds[0].ranking
    assert set(ranking) == {"model", "recommended", "ease", "popularity"}
    for who in ranking:
        assert set(ranking[who]) >= {"precision", "recall", "ndcg", "map", "hit_rate", "coverage"}
        assert ranking[who]["k"] == 10
    # The recommended order (EASE pick score x predicted rating) beats EASE and popularity.
    assert ranking["recommended"]["ndcg"] > ranking["ease"]["ndcg"] > 0.42
    assert ranking["popularity"]["ndcg"] < 0.25


@pytest.mark.realdata
def test_cv_json_last_line(data_dir, capsys, tmp_path):
    code = main([
        "cv", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--folds", "official",
        "--model", "baseline", "--workers", "1", "--json", "--save", str(tmp_path / "cv.json"),
    ])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    payload = json.loads(out[-1])
    assert [f["fold"] for f in payload["folds"]] == ["u1", "u2", "u3", "u4", "u5"]
    for fold in payload["folds"]:
        assert {"fold", "rmse", "mae", "seconds"} <= set(fold)
    assert payload["rmse_mean"] == pytest.approx(np.mean([f["rmse"] for f in payload["folds"]]))
    assert payload["rmse_std"] > 0 and payload["mae_mean"] > 0
    assert payload["dataset"]["fingerprint"] and payload["config"]
    assert CVResult.load(tmp_path / "cv.json").splits == payload["splits"]


def test_default_workers_follow_the_solver(monkeypatch):
    from embrec.evaluation import parallel

    monkeypatch.setattr(parallel, "cpu_count", lambda: 2)
    folds = [f"u{k}" for k in range(1, 6)]
    torch_tasks = [parallel.FoldTask("embnet", {}, None, f) for f in folds]
    compiled = [parallel.FoldTask("baseline", {}, None, f) for f in folds]
    assert parallel.default_workers(torch_tasks) == 2
    assert parallel.default_workers(torch_tasks[:1]) == 1
    assert parallel.default_workers(compiled) == 1
    assert parallel.resolve_workers(3, compiled) == 3
    with pytest.raises(ConfigError, match="at least 1"):
        parallel.resolve_workers(0, compiled)
