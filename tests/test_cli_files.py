"""`embrec evaluate BUNDLE FILE` and `embrec predict BUNDLE FILE -o OUT` on real files.

The model is trained on u1.base; it is evaluated on u1.test plus ratings by two
users and of one item it never saw, and of 32 items of u1.test that u1.base lacks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embrec.bundle import load
from embrec.cli import main
from embrec.data.datasets import load_source
from embrec.training.fit import fit

COLUMNS = ["user", "item", "rating", "timestamp"]
STRANGERS = [[5001, 1, 4, 0], [5001, 50, 5, 0], [5001, 181, 3, 0], [5002, 1, 2, 0],
             [5002, 99999, 1, 0], [1, 99999, 5, 0], [2, 99999, 4, 0], [3, 99999, 3, 0]]


def run_cli(args: list, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def files(data_dir, tmp_path_factory) -> dict[str, Path]:
    """A bundle trained on u1.base and a test file that the model partly lacks."""
    folder = tmp_path_factory.mktemp("own")
    base_path = data_dir / "ml-100k" / "u1.base"
    test = pd.read_csv(data_dir / "ml-100k" / "u1.test", sep="\t", names=COLUMNS)
    test = pd.concat([test, pd.DataFrame(STRANGERS, columns=COLUMNS)], ignore_index=True)
    test_path = folder / "strangers.tsv"
    test.to_csv(test_path, sep="\t", header=False, index=False)
    fit(load_source(base_path), "mf-bias", epochs=3).save(folder / "bundle")
    return {"base": base_path, "test": test_path, "bundle": folder / "bundle"}


def expected_counts(files: dict[str, Path]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    base = pd.read_csv(files["base"], sep="\t", names=COLUMNS)
    test = pd.read_csv(files["test"], sep="\t", names=COLUMNS)
    return test, ~test["user"].isin(base["user"]).to_numpy(), ~test["item"].isin(
        base["item"]).to_numpy()


def test_evaluate_scores_every_rating_and_counts_what_the_model_lacks(files, capsys):
    code, out, _ = run_cli(["evaluate", files["bundle"], files["test"], "--json"], capsys)
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    test, new_users, new_items = expected_counts(files)
    assert result["n_ratings"] == len(test) == 20_008
    assert result["unknown_users"] == len(set(test["user"][new_users])) == 2
    assert result["unknown_items"] == len(set(test["item"][new_items])) == 33
    assert result["unknown_user_ratings"] == new_users.sum() == 5
    assert result["unknown_item_ratings"] == new_items.sum() == 36
    assert result["fallback_ratings"] == (new_users | new_items).sum()
    # The same figure through the raw-id predict API of the bundle.
    predicted = load(files["bundle"]).predict(test["user"].tolist(), test["item"].tolist())
    truth = test["rating"].to_numpy(dtype=np.float64)
    assert result["rmse"] == pytest.approx(
        np.sqrt(np.mean((predicted.ratings - truth) ** 2)), abs=1e-6)
    assert 0.85 < result["rmse"] < 1.0
    ranking = result["ranking"]
    assert ranking["k"] == 10 and ranking["threshold"] == 4.0
    assert 400 < ranking["n_users_evaluated"] <= 459
    assert 0 < ranking["precision"] < 1 and 0 < ranking["ndcg"] < 1
    assert "2 users (5 ratings) and 33 items (36 ratings) are unknown" in out


def test_evaluate_takes_k_and_threshold(files, capsys):
    code, out, _ = run_cli(["evaluate", files["bundle"], files["test"], "--k", "5",
                            "--threshold", "5", "--json"], capsys)
    assert code == 0
    ranking = json.loads(out.strip().splitlines()[-1])["ranking"]
    assert ranking["k"] == 5 and ranking["threshold"] == 5.0
    assert "top-5 ranking" in out


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_writes_raw_ids_predictions_and_fallback_flags(files, tmp_path, capsys, suffix):
    out_path = tmp_path / f"predictions{suffix}"
    code, out, _ = run_cli(["predict", files["bundle"], files["test"], "-o", out_path], capsys)
    assert code == 0
    table = pd.read_csv(out_path) if suffix == ".csv" else pd.read_parquet(out_path)
    test, new_users, new_items = expected_counts(files)
    assert list(table.columns) == ["user_id", "item_id", "rating", "prediction", "fallback",
                                   "reason"]
    assert table["user_id"].tolist() == test["user"].tolist()
    assert table["item_id"].tolist() == test["item"].tolist()
    assert table["rating"].tolist() == test["rating"].astype(float).tolist()
    assert table["fallback"].sum() == (new_users | new_items).sum() == 40
    reasons = table.set_index(["user_id", "item_id"])["reason"]
    assert reasons[(5001, 50)] == "unknown user" and reasons[(1, 99999)] == "unknown item"
    assert reasons[(5002, 99999)] == "unknown user and item"
    predicted = load(files["bundle"]).predict(test["user"].tolist(), test["item"].tolist())
    np.testing.assert_allclose(table["prediction"].to_numpy(), predicted.ratings, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == [out_path.name]
    assert f"wrote {len(test):,} predictions" in out
    assert "40 from the fallback (2 unknown users, 33 unknown items)" in out


def test_predict_answers_a_table_of_pairs_without_ratings(files, tmp_path, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("userId,movieId\n1,50\n1,99999\nbob,50\n 7 ,181\n1,50\n")
    out_path = tmp_path / "predictions.tsv"
    code, out, _ = run_cli(["predict", files["bundle"], pairs, "-o", out_path, "--json"], capsys)
    assert code == 0
    table = pd.read_csv(out_path, sep="\t", keep_default_na=False)
    assert list(table.columns) == ["user_id", "item_id", "prediction", "fallback", "reason"]
    assert table["user_id"].astype(str).tolist() == ["1", "1", "bob", "7", "1"]
    assert table["reason"].tolist() == ["", "unknown item", "unknown user", "", ""]
    model = load(files["bundle"])
    expected = model.predict([1, 1, "bob", 7, 1], [50, 99999, 50, 181, 50]).ratings
    np.testing.assert_allclose(table["prediction"].to_numpy(), expected, atol=1e-6)
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts["n_predictions"] == 5 and counts["n_fallback"] == 2


def test_an_empty_id_in_a_pairs_file_exits_2_naming_the_line(files, tmp_path, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("user,item\n1,50\n2,\n")
    code, _, err = run_cli(["predict", files["bundle"], pairs, "-o", tmp_path / "p.csv"], capsys)
    assert code == 2
    assert f"{pairs}:3: empty item id" in err and len(err.strip().splitlines()) == 1


def test_a_missing_ratings_file_exits_2_naming_it(files, tmp_path, capsys):
    missing = tmp_path / "nope.tsv"
    for command in (["evaluate"], ["predict", "-o", tmp_path / "p.csv"]):
        code, _, err = run_cli([*command, files["bundle"], missing], capsys)
        assert code == 2
        assert f"{missing}: no such file" in err and len(err.strip().splitlines()) == 1


def test_a_file_with_unknown_columns_exits_2_naming_the_file(files, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("who,what,how_much\n1,2,3\n")
    code, _, err = run_cli(["evaluate", files["bundle"], bad], capsys)
    assert code == 2
    assert str(bad) in err and "column" in err and len(err.strip().splitlines()) == 1


def test_a_missing_bundle_exits_2(files, tmp_path, capsys):
    code, _, err = run_cli(["evaluate", tmp_path / "no-bundle", files["test"]], capsys)
    assert code == 2
    assert "not a model bundle" in err and len(err.strip().splitlines()) == 1
