"""Results show themselves: a short repr, an HTML table in a notebook, a DataFrame.

Also: ``fit`` shows its epoch table by default and not with ``verbose=False``,
the CLI prints it once, and a notebook needs nothing but ``import embrec``.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import embrec
from embrec.cli import main
from embrec.evaluation.crossval import CVResult
from embrec.evaluation.sweep import sweep
from embrec.training.history import EpochTable
from embrec.training.notebook import NotebookProgress, in_notebook

pytestmark = pytest.mark.realdata

EPOCHS = 3
REPR_LIMIT = 1024
HEADER = "       epoch    train_loss"


@pytest.fixture(scope="module")
def ratings(data_dir):
    return embrec.load_dataset("ml-100k", data_dir=data_dir)


@pytest.fixture(scope="module")
def split(ratings, data_dir):
    return embrec.make_split(ratings, "u1", data_dir=data_dir)


@pytest.fixture(scope="module")
def model(split):
    return embrec.fit(split.train, test=split.test, epochs=EPOCHS, verbose=False)


def assert_shows(result, headline: str, rows: int) -> None:
    text, html, frame = repr(result), result._repr_html_(), result.to_pandas()
    assert text.startswith(headline) and len(text) < REPR_LIMIT, text
    assert html.startswith("<div><p><b>") and "<table" in html and len(html) < 4 * REPR_LIMIT
    assert len(frame) == rows


def test_fit_shows_the_epoch_table_by_default_and_is_quiet_when_asked(split, capsys):
    embrec.fit(split.train, test=split.test, epochs=EPOCHS)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(HEADER)
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]
    embrec.fit(split.train, test=split.test, epochs=EPOCHS, verbose=False)
    assert capsys.readouterr().out == ""


def test_the_train_command_prints_the_table_once(data_dir, tmp_path, capsys):
    code = main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
                 "--epochs", "2", "--out", str(tmp_path / "model")])
    out = capsys.readouterr().out
    assert code == 0 and out.count(HEADER) == 1


def test_a_trained_model_shows_its_scores_and_epochs(model, tmp_path):
    assert_shows(model, "TrainedModel mf-bias (solver sgd) on 'ml-100k[u1 train]': 943 users",
                 EPOCHS)
    assert f"test RMSE {model.metrics['test_rmse']:.4f}" in repr(model)
    assert repr(model).splitlines()[1] == "  factors=50, y_range=None"
    assert "<br>factors=50, y_range=None</p>" in model._repr_html_()
    history = model.to_pandas()
    assert history.index.tolist() == [1, 2, 3]
    assert history["valid_rmse"].iloc[-1] == pytest.approx(model.history.epochs[-1].valid_rmse)
    loaded = embrec.load(model.save(tmp_path / "bundle"))
    assert repr(loaded).splitlines()[0] == repr(model).splitlines()[0]


def test_ratings_show_their_first_rows_with_titles(ratings):
    html = ratings._repr_html_()
    assert "100,000 ratings, 943 users, 1,682 items" in html and "Kolya (1996)" in html
    frame = ratings.to_pandas()
    assert frame.shape == (100_000, 4) and frame.iloc[0].tolist()[:3] == [196, 242, 3.0]


def test_cv_result_is_the_surprise_fold_table(ratings, data_dir, tmp_path):
    cv = embrec.cross_validate(ratings, "mf-bias", folds="u1,u2,u3", data_dir=data_dir,
                               workers=1, epochs=EPOCHS)
    table = cv.to_pandas()
    assert table.index.tolist() == ["RMSE (testset)", "MAE (testset)", "Fit time", "Test time"]
    assert table.columns.tolist() == ["Fold 1", "Fold 2", "Fold 3", "Mean", "Std"]
    assert table.loc["RMSE (testset)", "Fold 2"] == cv.folds[1].rmse
    assert table.loc["RMSE (testset)", "Mean"] == pytest.approx(cv.rmse_mean)
    rmses = [f.rmse for f in cv.folds]
    assert table.loc["RMSE (testset)", "Std"] == pytest.approx(np.std(rmses, ddof=1))
    assert table.attrs["folds"] == ["u1", "u2", "u3"]
    assert_shows(cv, "Evaluating RMSE, MAE of mf-bias (solver sgd) on 3 folds of 'ml-100k'", 4)
    again = CVResult.load(cv.save(tmp_path / "cv.json"))
    assert repr(again) == repr(cv)


def test_recommendations_are_a_ranked_frame(model):
    known = embrec.recommend(model, 196, n=10)
    assert_shows(known, "10 recommendations for user 196 (known user)", 10)
    frame = known.to_pandas()
    assert frame["rank"].tolist() == list(range(1, 11))
    assert frame["item_id"].tolist() == known.item_ids
    assert frame["score"].is_monotonic_decreasing
    new = embrec.recommend_for_ratings(model, {"Star Wars (1977)": 5, "Fargo (1996)": 5}, n=5)
    assert_shows(new, "5 recommendations for a new user (fold-in", 5)
    assert "because" in new.to_pandas() and "because" not in repr(new).splitlines()[1]
    batch = embrec.recommend_many(model, [1, 2, 3], n=4)
    assert_shows(batch, "top-4 recommendations for 3 users", 12)
    assert batch.to_pandas()["user_id"].tolist() == [1] * 4 + [2] * 4 + [3] * 4


def test_similar_items_biases_and_pca_show_tables(model):
    similar = embrec.similar_items(model, "Star Wars (1977)", n=5)
    assert_shows(similar, "5 items like Star Wars (1977) (item 50)", 5)
    assert similar.to_pandas()["similarity"].is_monotonic_decreasing
    biases = embrec.item_biases(model, n=5)
    assert_shows(biases, "item biases: learned item biases of mf-bias", 10)
    assert biases.to_pandas()["end"].tolist() == ["lowest"] * 5 + ["highest"] * 5
    pca = embrec.item_pca(model)
    points = pca.to_pandas()
    assert len(points) == len(pca.item_indices) and list(points) == ["item_id", "title", "pc1",
                                                                      "pc2"]
    assert repr(pca).startswith("PCA of") and len(repr(pca)) < REPR_LIMIT


def test_a_sweep_shows_one_row_per_point(ratings, data_dir, tmp_path):
    result = sweep(ratings, "mf-bias", {"lr": [0.01, 0.03]}, folds="u1,u2", data_dir=data_dir,
                   results_path=tmp_path / "sweep.csv", workers=1, baseline=False, epochs=EPOCHS)
    assert_shows(result, "sweep of mf-bias: 2 points x 2 folds (4 fits run", 2)
    frame = result.to_pandas()
    assert frame.index.tolist() == ["lr=0.01", "lr=0.03"]
    assert frame.columns.tolist() == ["u1", "u2", "mean", "std"]
    assert f"mean RMSE {result.best()[1]:.4f}" in repr(result)


def test_embrec_exports_what_a_notebook_needs():
    from embrec.evaluation.crossval import cross_validate
    from embrec.recommend import recommend_for_ratings, similar_items

    assert embrec.cross_validate is cross_validate
    assert embrec.recommend_for_ratings is recommend_for_ratings
    assert embrec.similar_items is similar_items
    assert callable(embrec.recommend) and embrec.recommend.recommend_many is embrec.recommend_many
    code = ("import embrec.recommend.known, embrec; "
            "print(callable(embrec.recommend), embrec.recommend.similar_items.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == ["True", "similar_items"]


def test_progress_outside_a_notebook_is_text_and_inside_is_one_html_display(model):
    assert not in_notebook()
    assert EpochTable(enabled=True).notebook is None
    progress = NotebookProgress(list(EpochTable.CELLS), epochs=EPOCHS)
    progress.rows.append(["1", "0.9", "-", "-", "-", "0.01s", "100"])
    progress.done, progress.label = 1, "epoch 1/3"
    html = progress.html()
    assert '<progress value="1" max="3"' in html and "epoch 1/3" in html
    assert html.count("<tr>") == 2
