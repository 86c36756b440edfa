"""Training and testing on one's own files: test ratings are matched to the model by raw id.

u1.base and u1.test read as two separate files number their items differently
(u1.test lacks some items of u1.base and has 32 ratings of items u1.base lacks),
so comparing them index by index would pair the wrong items.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embrec.cli import main
from embrec.data.align import align_ratings, known_part
from embrec.data.datasets import load_source
from embrec.data.ratings import Ratings
from embrec.data.splits import make_split
from embrec.training.fit import fit
from embrec.training.loop import evaluate

COLUMNS = ["user", "item", "rating", "timestamp"]


def read_tab(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", names=COLUMNS)


def with_strangers(data_dir: Path, tmp_path: Path) -> Path:
    """u1.test plus 3 ratings by user 5001, 2 by user 5002 and 4 of item 99999 (all unknown)."""
    test = read_tab(data_dir / "ml-100k" / "u1.test")
    extra = pd.DataFrame(
        [[5001, 1, 4, 0], [5001, 50, 5, 0], [5001, 181, 3, 0], [5002, 1, 2, 0],
         [5002, 99999, 1, 0], [1, 99999, 5, 0], [2, 99999, 4, 0], [3, 99999, 3, 0]],
        columns=COLUMNS,
    )
    path = tmp_path / "strangers.tsv"
    pd.concat([test, extra]).to_csv(path, sep="\t", header=False, index=False)
    return path


# -- the id-space alignment ---------------------------------------------------------


def test_align_ratings_maps_by_raw_id_and_marks_unknown_ids():
    train = Ratings.from_raw(np.array([10, 10, 20, 30]), np.array(["a", "b", "b", "c"]),
                             np.array([4.0, 3.0, 5.0, 1.0]))
    test = Ratings.from_raw(np.array([30, 20, 40, 40]), np.array(["b", "z", "a", "c"]),
                            np.array([2.0, 3.0, 4.0, 5.0]))
    result = align_ratings(test, train)
    aligned = result.ratings
    assert aligned.user_ids is train.user_ids and aligned.item_ids is train.item_ids
    raw_pairs = set(zip(
        [int(train.user_ids.to_raw([u])[0]) if u >= 0 else None for u in aligned.users],
        [str(train.item_ids.to_raw([i])[0]) if i >= 0 else None for i in aligned.items],
        aligned.values.tolist(),
    ))
    assert raw_pairs == {(30, "b", 2.0), (20, None, 3.0), (None, "a", 4.0), (None, "c", 5.0)}
    assert (result.unknown_users, result.unknown_items) == (1, 1)
    assert (result.unknown_user_ratings, result.unknown_item_ratings) == (2, 1)
    assert result.unknown_ratings == 3
    assert len(known_part(aligned)) == 1


def test_ratings_sharing_the_maps_are_left_as_they_are():
    train = Ratings.from_raw(np.array([1, 2, 2]), np.array([7, 7, 8]), np.array([1.0, 2.0, 3.0]))
    part = train.subset(np.array([0, 2]))
    result = align_ratings(part, train)
    assert result.ratings is part and not result.remapped


# -- fit(test=a separate test file) ------------------------------------------------


def test_a_test_file_read_on_its_own_scores_like_the_split(data_dir):
    ratings = load_source("ml-100k", data_dir=data_dir)
    split = make_split(ratings, "u1", data_dir=data_dir)
    test_file = load_source(data_dir / "ml-100k" / "u1.test")
    assert test_file.item_ids != split.test.item_ids
    trained = fit(split.train, "mf-bias", test=test_file, epochs=3)
    from_split = evaluate(trained.predictor, split.test).rmse
    assert abs(trained.metrics["test_rmse"] - from_split) < 1e-4
    assert trained.metrics["test_n_ratings"] == 20_000
    assert trained.metrics["test_unknown_users"] == 0
    # Compared index by index, as before, the same model scores far worse.
    assert evaluate(trained.predictor, test_file).rmse > from_split + 0.05


def test_unknown_ids_of_a_test_file_are_counted_and_get_the_fallback(data_dir, tmp_path):
    base_path, test_path = data_dir / "ml-100k" / "u1.base", with_strangers(data_dir, tmp_path)
    base, test = read_tab(base_path), read_tab(test_path)
    new_users = ~test["user"].isin(base["user"])
    new_items = ~test["item"].isin(base["item"])
    assert test.loc[new_users, "user"].nunique() == 2 and new_users.sum() == 5
    assert test.loc[new_items, "item"].nunique() == 33 and new_items.sum() == 36

    trained = fit(load_source(base_path), "mf-bias", test=load_source(test_path), epochs=1)
    metrics = trained.metrics
    assert metrics["test_unknown_users"] == 2 and metrics["test_unknown_user_ratings"] == 5
    assert metrics["test_unknown_items"] == 33 and metrics["test_unknown_item_ratings"] == 36
    assert metrics["test_fallback_ratings"] == int((new_users | new_items).sum())
    prediction = trained.predict([5001, 1], [50, 99999])
    item_50 = trained.item_ids.index_of(50)
    user_1 = trained.user_ids.index_of(1)
    fallback = trained.fallback
    assert prediction.ratings[0] == pytest.approx(
        fallback.global_mean + fallback.item_bias[item_50], abs=1e-5)
    assert prediction.ratings[1] == pytest.approx(
        np.clip(fallback.global_mean + fallback.user_bias[user_1], 1, 5), abs=1e-5)


# -- embrec train --train FILE [--test FILE] ----------------------------------------


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_train_on_base_and_test_files_reproduces_the_u1_split(data_dir, tmp_path, capsys):
    folder = data_dir / "ml-100k"
    code, out, _ = run_cli(
        ["train", "--train", folder / "u1.base", "--test", folder / "u1.test",
         "--model", "mf-bias", "-o", tmp_path / "files", "--json"], capsys)
    assert code == 0
    from_files = json.loads(out.strip().splitlines()[-1])
    assert "32 items (32 ratings) are unknown to the model" in out
    code, out, _ = run_cli(
        ["train", "--dataset", "ml-100k", "--data-dir", data_dir, "--split", "u1",
         "--model", "mf-bias", "-o", tmp_path / "split", "--json"], capsys)
    assert code == 0
    from_split = json.loads(out.strip().splitlines()[-1])
    # Same model on the same ratings; only the file order and the size of the item
    # table (its 32 items without training ratings) differ, so the random draws differ.
    assert abs(from_files["valid_rmse"] - from_split["valid_rmse"]) < 1e-3
    assert from_files["test_unknown_items"] == 32 and from_files["test_unknown_users"] == 0


def test_train_on_all_of_a_file(data_dir, tmp_path, capsys):
    code, out, _ = run_cli(
        ["train", "--train", data_dir / "ml-100k" / "u1.base", "--model", "baseline",
         "-o", tmp_path / "all", "--json"], capsys)
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["valid_rmse"] is None and summary["split"] == "u1.base (all)"
    bundle = json.loads((tmp_path / "all" / "bundle.json").read_text())
    assert bundle["data"]["n_train_ratings"] == 80_000


@pytest.mark.parametrize(
    "args, says",
    [
        (["--train", "a.csv", "--dataset", "ml-100k"], "--train replaces --dataset"),
        (["--train", "a.csv", "--split", "u1"], "--split splits --dataset"),
        (["--dataset", "ml-100k", "--test", "b.csv"], "--test needs --train"),
        ([], "say what to train on"),
    ],
)
def test_mixing_the_data_options_exits_2_with_one_line(args, says, tmp_path, capsys):
    code, _, err = run_cli(["train", "-o", tmp_path / "m", *args], capsys)
    assert code == 2
    assert says in err and len(err.strip().splitlines()) == 1


def test_a_missing_train_file_exits_2_naming_it(tmp_path, capsys):
    code, _, err = run_cli(["train", "--train", tmp_path / "nope.csv", "-o", tmp_path / "m"],
                           capsys)
    assert code == 2
    assert "nope.csv: no such file" in err and len(err.strip().splitlines()) == 1


def test_the_gibbs_solver_tracks_a_partly_unknown_test_file_as_the_predictor_scores_it(
    data_dir, tmp_path
):
    test = load_source(with_strangers(data_dir, tmp_path))
    trained = fit(load_source(data_dir / "ml-100k" / "u1.base"), "bfm", test=test,
                  rank=4, epochs=4, burn_in=1, seed=0)
    assert trained.metrics["test_unknown_users"] == 2
    assert trained.history.epochs[-1].valid_rmse == pytest.approx(
        trained.metrics["test_rmse"], abs=1e-6)
