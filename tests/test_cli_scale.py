"""`embrec train` on files with other rating scales, and on files too small to train or test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embrec.cli import main


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_csv(path: Path, rows: np.ndarray) -> Path:
    lines = ["user,item,rating", *(f"{int(u)},{int(i)},{r:g}" for u, i, r in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def ml100k_rows(data_dir) -> np.ndarray:
    """ml-100k's u.data as (user, item, rating) rows: 100,000 of them."""
    rows = np.loadtxt(data_dir / "ml-100k" / "u.data", dtype=np.float64, usecols=(0, 1, 2))
    assert len(rows) == 100_000
    return rows


def test_mf_bias_trains_on_a_1_to_100_file_and_says_the_inferred_scale(
    ml100k_rows, tmp_path, capsys
):
    scaled = ml100k_rows.copy()
    scaled[:, 2] *= 20
    path = write_csv(tmp_path / "x20.csv", scaled)
    code, stdout, stderr = run_cli(
        ["train", "--dataset", str(path), "--model", "mf-bias", "--epochs", "3",
         "--out", str(tmp_path / "model"), "--json"], capsys,
    )
    assert code == 0, stderr
    assert "rating scale 20..100 taken from the lowest and highest" in stderr
    assert "nan" not in stdout.lower()
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert 20 * 0.85 < summary["valid_rmse"] < 20 * 1.0
    # The epoch table is in rating units too: its last valid_rmse is the test RMSE.
    lines = stdout.splitlines()
    header = next(line.split() for line in lines if line.split()[:1] == ["epoch"])
    last = next(line.split() for line in reversed(lines) if line.split()[:1] == ["3"])
    assert float(last[header.index("valid_rmse")]) == pytest.approx(summary["valid_rmse"],
                                                                     rel=1e-4)


def test_a_stray_low_rating_widens_the_inferred_scale_and_says_so(tmp_path, capsys):
    rows = np.array([[u, i, 1 + (u * 7 + i) % 5] for u in range(1, 31) for i in range(1, 21)],
                    dtype=np.float64)
    rows[5, 2] = -3
    path = write_csv(tmp_path / "stray.csv", rows)
    code, _, stderr = run_cli(
        ["train", "--dataset", str(path), "--model", "baseline",
         "--out", str(tmp_path / "model")], capsys,
    )
    assert code == 0, stderr
    assert "rating scale -3..5 taken from the lowest and highest of the 600 ratings" in stderr
    code, _, stderr = run_cli(
        ["train", "--dataset", str(path), "--model", "baseline", "--scale", "1..5",
         "--out", str(tmp_path / "model2")], capsys,
    )
    assert code == 2
    assert f"{path}:7: rating -3 is outside the scale 1..5" in stderr


@pytest.mark.parametrize("copies", [1, 500])
def test_one_pair_is_too_little_to_train_on(tmp_path, capsys, copies):
    path = write_csv(tmp_path / "one.csv", np.array([[1, 10, 4.0]] * copies))
    code, stdout, stderr = run_cli(
        ["train", "--dataset", str(path), "--out", str(tmp_path / "model")], capsys,
    )
    assert code == 2
    error = [line for line in stderr.splitlines() if line.startswith("embrec: error")]
    assert len(error) == 1 and "Traceback" not in stderr
    assert "has 1 training rating" in error[0] and "at least 2 distinct ratings" in error[0]
    assert "test RMSE" not in stdout
    assert not (tmp_path / "model").exists()


def test_an_empty_test_part_is_an_error_not_a_nan(tmp_path, capsys):
    train = write_csv(tmp_path / "train.csv",
                      np.array([[1, 10, 4.0], [1, 11, 3.0], [2, 10, 5.0], [2, 11, 2.0]]))
    test = tmp_path / "test.csv"
    test.write_text("user,item,rating\n")
    code, stdout, stderr = run_cli(
        ["train", "--train", str(train), "--test", str(test), "--scale", "1..5",
         "--out", str(tmp_path / "model")], capsys,
    )
    assert code == 2
    assert "nan" not in stdout
    assert stderr.strip().splitlines()[-1].startswith("embrec: error")
