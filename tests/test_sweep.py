"""Sweeps: search spaces, the results file, resuming an interrupted sweep, the CLI table."""

from __future__ import annotations

import json

import pytest

import embrec.training.fit as fit_module
from embrec.cli import main
from embrec.data.synthetic import generate_ratings
from embrec.errors import ConfigError, DataError
from embrec.evaluation import ResultsFile, grid_points, parse_grid, parse_space, random_points
from embrec.evaluation import sweep as run_sweep


@pytest.fixture(scope="module")
def small():
    return generate_ratings(50, 30, 700, seed=5)


@pytest.fixture
def fit_calls(monkeypatch):
    """The (model, hyperparameters) of every fit call made in this process."""
    calls: list[tuple[str, dict]] = []
    real_fit = fit_module.fit

    def counting_fit(train, model="mf-bias", **kwargs):
        calls.append((model, kwargs))
        return real_fit(train, model, **kwargs)

    monkeypatch.setattr(fit_module, "fit", counting_fit)
    return calls


def test_grid_and_space_parsing():
    grid = parse_grid(["lr=0.001,0.01", "factors=32,64", "layers=100,50;200,100"])
    assert grid == {"lr": [0.001, 0.01], "factors": [32, 64], "layers": ["100,50", "200,100"]}
    assert len(grid_points(grid)) == 8
    assert grid_points({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    space = parse_space(["lr=log:1e-4:1e-1", "factors=int:8:128", "optimizer=adam,adamw"])
    points = random_points(space, 20, seed=1)
    assert points == random_points(space, 20, seed=1)
    assert all(1e-4 <= p["lr"] <= 1e-1 and 8 <= p["factors"] <= 128 for p in points)
    assert {p["optimizer"] for p in points} <= {"adam", "adamw"}
    with pytest.raises(ConfigError, match="LOW < HIGH"):
        parse_space(["lr=log:0.1:0.01"])
    with pytest.raises(ConfigError, match="KEY=VALUES"):
        parse_grid(["lr"])


def test_sweep_table_has_folds_mean_and_std_rows(small, tmp_path):
    result = run_sweep(small, "baseline", {"reg_user": [2, 20]}, folds=3,
                       results_path=tmp_path / "s.csv", workers=1)
    table = result.table()
    assert list(table.index) == ["kfold:3:1", "kfold:3:2", "kfold:3:3", "mean", "std"]
    assert list(table.columns) == ["reg_user=2", "reg_user=20"]
    best, best_rmse = result.best()
    assert best_rmse == pytest.approx(table.loc["mean"].min())
    assert best in ({"reg_user": 2}, {"reg_user": 20})


def test_restarted_sweep_fits_only_the_new_points(small, tmp_path, fit_calls):
    path = tmp_path / "sweep.csv"
    run_sweep(small, "baseline", {"reg_user": [5, 15]}, folds=3, results_path=path, workers=1)
    assert len(fit_calls) == 6
    fit_calls.clear()
    result = run_sweep(small, "baseline", {"reg_user": [5, 15, 25]}, folds=3,
                       results_path=path, workers=1)
    assert len(fit_calls) == 3
    assert all(kwargs["reg_user"] == 25 for _, kwargs in fit_calls)
    assert (result.n_run, result.n_skipped) == (3, 6)
    fit_calls.clear()
    run_sweep(small, "baseline", {"reg_user": [5, 15, 25]}, folds=3, results_path=path, workers=1)
    assert fit_calls == []
    assert len(ResultsFile(path).read()) == 9


def test_other_fixed_settings_are_a_new_sweep_in_the_same_file(small, tmp_path, fit_calls):
    path = tmp_path / "sweep.csv"
    first = run_sweep(small, "baseline", {"reg_user": [5]}, folds=2, results_path=path,
                      workers=1, reg_item=1)
    second = run_sweep(small, "baseline", {"reg_user": [5]}, folds=2, results_path=path,
                       workers=1, reg_item=50)
    assert len(fit_calls) == 4 and second.n_skipped == 0
    assert len(second.rows) == 2 and set(second.rows["hyperparameters"]).isdisjoint(
        first.rows["hyperparameters"])
    assert second.table().loc["mean"].iloc[0] != first.table().loc["mean"].iloc[0]


def test_interrupted_sweep_resumes_after_the_rows_written(small, tmp_path, fit_calls):
    path = tmp_path / "sweep.csv"
    written = []

    def interrupt_after_two(row):
        written.append(row)
        if len(written) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(small, "mf", {"lr": [0.01, 0.02]}, folds=2, results_path=path, workers=1,
                  epochs=1, factors=2, threads=1, on_row=interrupt_after_two)
    assert len(ResultsFile(path).read()) == 2
    fit_calls.clear()
    result = run_sweep(small, "mf", {"lr": [0.01, 0.02]}, folds=2, results_path=path,
                       workers=1, epochs=1, factors=2, threads=1)
    # 2 points x 2 folds + the baseline on 2 folds, 2 of them already written.
    assert len(fit_calls) == 4
    rows = ResultsFile(path).read()
    assert len(rows) == 6
    assert not rows.duplicated(["model", "params", "fold"]).any()
    assert result.table().loc["mean"].notna().all()


def test_a_torn_last_line_is_dropped_and_earlier_rows_kept(small, tmp_path, fit_calls):
    path = tmp_path / "sweep.csv"
    run_sweep(small, "baseline", {"reg_user": [5, 15]}, folds=2, results_path=path, workers=1)
    intact = path.read_bytes()
    lines = intact.decode().splitlines(keepends=True)
    with open(path, "ab") as handle:  # a crash in the middle of writing a row
        handle.write(lines[-1][:40].encode())
    assert len(ResultsFile(path).read()) == 4
    path.write_bytes(b"".join(line.encode() for line in lines[:-1]) + lines[-1][:40].encode())
    fit_calls.clear()
    run_sweep(small, "baseline", {"reg_user": [5, 15]}, folds=2, results_path=path, workers=1)
    assert len(fit_calls) == 1
    assert path.read_bytes().startswith(b"".join(line.encode() for line in lines[:-1]))
    assert len(ResultsFile(path).read()) == 4


def test_a_file_that_is_not_a_results_file_is_refused(small, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("user,item,rating\n1,2,3\n")
    with pytest.raises(DataError, match="not a sweep results file"):
        run_sweep(small, "baseline", {"reg_user": [5]}, folds=2, results_path=path, workers=1)
    with pytest.raises(ConfigError, match="both swept and fixed"):
        run_sweep(small, "mf", {"lr": [0.1]}, folds=2, results_path=tmp_path / "x.csv", lr=0.2)


@pytest.mark.realdata
def test_sweep_command_prints_the_fold_by_value_table(data_dir, tmp_path, capsys):
    results = tmp_path / "sweep.csv"
    code = main([
        "sweep", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--folds", "u1,u2",
        "--model", "baseline", "--grid", "reg_user=5,25", "--results", str(results),
        "--workers", "1", "--json",
    ])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    payload = json.loads(out[-1])
    assert [p["label"] for p in payload["points"]] == ["reg_user=5", "reg_user=25"]
    assert set(payload["points"][0]["rmse"]) == {"u1", "u2"}
    assert payload["best"]["label"] in ("reg_user=5", "reg_user=25")
    text = "\n".join(out)
    assert "best: reg_user=" in text and "mean" in text
