"""`--user-col/--item-col/--rating-col/--time-col/--sep/--scale` on a real file with other names.

The file is ml-100k's u1.base rewritten with a header of unguessable names and
another separator, in the test's temporary folder (never in the project).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embrec.cli import main
from embrec.cli.reader_options import parse_scale, reader_options
from embrec.data.ratings import RatingScale
from embrec.errors import ConfigError

READER_FLAGS = ["--user-col", "member", "--item-col", "film", "--rating-col", "stars",
                "--time-col", "when", "--sep", ";", "--scale", "1..5:1"]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def u1_base(data_dir: Path) -> np.ndarray:
    return np.loadtxt(data_dir / "ml-100k" / "u1.base", dtype=np.int64)


@pytest.fixture(scope="module")
def renamed_file(tmp_path_factory, data_dir) -> Path:
    rows = u1_base(data_dir)
    path = tmp_path_factory.mktemp("own") / "my_ratings.txt"
    lines = ["when;member;stars;film"]
    lines += [f"{t};{u};{r};{i}" for u, i, r, t in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.realdata
def test_data_info_reads_renamed_columns(renamed_file, data_dir, capsys):
    rows = u1_base(data_dir)
    code, out, err = run_cli(capsys, "data", "info", str(renamed_file), *READER_FLAGS, "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["n_ratings"] == len(rows) == 80_000
    assert summary["n_users"] == len(np.unique(rows[:, 0]))
    assert summary["n_items"] == len(np.unique(rows[:, 1]))
    assert summary["mean"] == pytest.approx(rows[:, 2].mean())
    assert (summary["scale_low"], summary["scale_high"], summary["scale_step"]) == (1, 5, 1)
    assert "first_day" in summary


@pytest.mark.realdata
def test_without_the_options_the_file_is_a_one_line_error_naming_the_columns(
    renamed_file, capsys
):
    code, _, err = run_cli(capsys, "data", "info", str(renamed_file))
    assert code == 2
    assert err.count("\n") == 1 and "my_ratings.txt" in err and "member" in err


@pytest.mark.realdata
def test_positions_read_a_headerless_file_from_its_first_line(tmp_path, data_dir, capsys):
    rows = u1_base(data_dir)
    path = tmp_path / "plain.txt"
    path.write_text("".join(f"{i}|{u}|{r}\n" for u, i, r, _ in rows))
    code, out, err = run_cli(capsys, "data", "info", str(path), "--user-col", "1",
                             "--item-col", "0", "--rating-col", "2", "--sep", "|", "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["n_ratings"] == 80_000
    assert summary["n_users"] == len(np.unique(rows[:, 0]))


@pytest.mark.realdata
def test_a_rating_outside_the_declared_scale_names_file_and_line(renamed_file, capsys):
    flags = [*READER_FLAGS[:-2], "--scale", "1..4"]
    code, _, err = run_cli(capsys, "data", "info", str(renamed_file), *flags)
    assert code == 2
    assert err.count("\n") == 1 and "my_ratings.txt:" in err and "5" in err


@pytest.mark.realdata
def test_split_and_train_take_the_reader_options(renamed_file, tmp_path, capsys):
    code, out, err = run_cli(capsys, "data", "split", str(renamed_file), "--split", "random:0.2",
                             *READER_FLAGS, "--json")
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["n_train"] + report["n_test"] == 80_000
    code, out, err = run_cli(capsys, "train", "--dataset", str(renamed_file), *READER_FLAGS,
                             "--split", "random:0.2", "--model", "baseline",
                             "--out", str(tmp_path / "m"), "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert 0.9 < summary["valid_rmse"] < 1.1


@pytest.mark.realdata
def test_reader_options_with_a_dataset_name_are_a_usage_mistake(data_dir, capsys):
    code, _, err = run_cli(capsys, "data", "info", "ml-100k", "--data-dir", str(data_dir),
                           "--user-col", "user", "--sep", ",")
    assert code == 2
    assert err.count("\n") == 1
    assert "--user-col, --sep" in err and "'ml-100k' is a dataset name" in err


def test_every_command_that_reads_ratings_declares_all_reader_options(capsys):
    for command in (["data", "info"], ["data", "show"], ["data", "split"], ["train"],
                    ["lr-find"], ["cv"], ["sweep"], ["evaluate"], ["predict"]):
        assert main([*command, "--help"]) == 0
        text = capsys.readouterr().out
        for flag in ("--user-col", "--item-col", "--rating-col", "--time-col", "--sep",
                     "--scale"):
            assert flag in text, (command, flag)
        assert "LOW..HIGH[:STEP]" in text


def test_reader_options_map_to_the_readers_keywords():
    assert reader_options() == {}
    assert reader_options("uid", "3", "stars", None, "tab", "0.5..5:0.5") == {
        "user_col": "uid", "item_col": 3, "rating_col": "stars", "sep": "\t",
        "scale": RatingScale(0.5, 5.0, 0.5),
    }
    assert reader_options(time_col="ts", sep="\\t") == {"timestamp_col": "ts", "sep": "\t"}


@pytest.mark.parametrize("text", ["1-5", "5..1", "1..5:0", "1..5:9", "a..b", "1..", ""])
def test_a_malformed_scale_is_a_config_error_with_an_example(text):
    with pytest.raises(ConfigError, match=r"--scale .*1\.\.5"):
        parse_scale(text)


def test_scales_parse_with_and_without_step():
    assert parse_scale("1..10") == RatingScale(1.0, 10.0, None)
    assert parse_scale(" -10 .. 10 : 0.5 ") == RatingScale(-10.0, 10.0, 0.5)


@pytest.mark.realdata
def test_evaluate_and_predict_take_the_reader_options(renamed_file, tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "--train", str(renamed_file), *READER_FLAGS,
                           "--model", "baseline", "--out", str(tmp_path / "m"))
    assert code == 0, err
    code, out, err = run_cli(capsys, "evaluate", str(tmp_path / "m"), str(renamed_file),
                             *READER_FLAGS, "--json")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n_ratings"] == 80_000 and result["fallback_ratings"] == 0
    assert 0.85 < result["rmse"] < 0.95  # a baseline scored on its own training ratings
    code, _, err = run_cli(capsys, "predict", str(tmp_path / "m"), str(renamed_file),
                           *READER_FLAGS, "-o", str(tmp_path / "p.csv"))
    assert code == 0, err
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 80_001
