"""``embrec data info|show|split`` in-process, and the installed entry point's exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from embrec.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.realdata
def test_info_json_on_ml100k(capsys, data_dir):
    code, out, _ = run_cli(capsys, "data", "info", "ml-100k", "--data-dir", str(data_dir), "--json")
    assert code == 0
    summary = last_json(out)
    assert (summary["n_ratings"], summary["n_users"], summary["n_items"]) == (100_000, 943, 1682)
    assert (summary["rating_min"], summary["rating_max"]) == (1.0, 5.0)
    assert summary["density"] == pytest.approx(100_000 / (943 * 1682))


@pytest.mark.realdata
def test_info_json_on_ml_latest_small(capsys, data_dir_with):
    data_dir = data_dir_with("ml-latest-small")
    code, out, _ = run_cli(
        capsys, "data", "info", "ml-latest-small", "--data-dir", str(data_dir), "--json"
    )
    assert code == 0
    summary = last_json(out)
    assert (summary["n_ratings"], summary["n_users"], summary["n_items"]) == (100_836, 610, 9724)
    assert (summary["rating_min"], summary["rating_max"]) == (0.5, 5.0)
    assert summary["histogram"]["0.5"] > 0 and summary["scale_step"] == 0.5


@pytest.mark.realdata
def test_info_table_on_a_file_path(capsys, data_dir):
    path = data_dir / "ml-100k" / "u.data"
    code, out, _ = run_cli(capsys, "data", "info", str(path))
    assert code == 0
    assert "100,000" in out and "per user" in out and "median" in out


@pytest.mark.realdata
def test_show_puts_titles_over_the_ratings(capsys, data_dir):
    code, out, _ = run_cli(
        capsys, "data", "show", "ml-100k", "--data-dir", str(data_dir), "--users", "5",
        "--items", "4",
    )
    assert code == 0
    assert "Star Wars" in out and "405" in out and "blank: not rated" in out


@pytest.mark.realdata
def test_split_report_on_u1(capsys, data_dir):
    code, out, _ = run_cli(
        capsys, "data", "split", "ml-100k", "--split", "u1", "--data-dir", str(data_dir), "--json"
    )
    assert code == 0
    report = last_json(out)
    assert (report["n_train"], report["n_test"]) == (80_000, 20_000)
    assert report["cold_items"] > 0 and report["cold_users"] == 0
    code, out, _ = run_cli(
        capsys, "data", "split", "ml-100k", "--split", "random:0.1", "--data-dir", str(data_dir)
    )
    assert code == 0 and "cold test items" in out and "90,000" in out


@pytest.mark.realdata
def test_bad_split_spec_is_one_line_and_exit_2(capsys, data_dir):
    code, out, err = run_cli(
        capsys, "data", "split", "ml-100k", "--split", "kfold:5", "--data-dir", str(data_dir)
    )
    assert code == 2
    assert err.count("\n") == 1 and "accepted forms" in err


def test_installed_entry_point_fails_cleanly_on_a_bad_file(tmp_path):
    bad = tmp_path / "ratings.csv"
    bad.write_text("userId,movieId,rating,timestamp\n1,2,oops,3\n")
    embrec = Path(sys.executable).with_name("embrec")
    done = subprocess.run(
        [str(embrec), "data", "info", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("embrec: error:") and "ratings.csv" in lines[0]
    assert "Traceback" not in done.stderr
