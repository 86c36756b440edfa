"""The example scripts run end to end in their quick mode, so they cannot rot.

Each example is run as a user would run it (a subprocess, ``--quick``) and must
exit 0 and end with the line comparing its result to the original experiment's.
The ml-10m fold logic of the sweep example is run on a synthetic ``ratings.dat``
sorted by user, as the real one is, where the cold-test-user warning must show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import embrec
from embrec import RatingScale, generate_ratings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIMEOUT = 300


def run_example(name: str, *args: str, cache: Path) -> list[str]:
    """Run ``examples/NAME --quick ARGS``; the lines of its output (it must exit 0)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "EMBREC_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--quick", *args],
        capture_output=True, text=True, env=env, timeout=TIMEOUT,
    )
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr
    return [line for line in done.stdout.splitlines() if line.strip()]


def split_report(lines: list[str], folds: set[str]) -> dict[str, list[str]]:
    """The split report's row of each fold (its first row: the sweep tables come later)."""
    rows: dict[str, list[str]] = {}
    for line in lines:
        fields = line.split()
        if fields[0] in folds:
            rows.setdefault(fields[0], fields)
    return rows


def assert_ends_with_comparison(lines: list[str]) -> None:
    last = lines[-1]
    assert last.startswith("embrec: ") and " | original: " in last, last


@pytest.mark.realdata
@pytest.mark.slow
def test_embedding_net_example_continues_the_first_fit(data_dir_with, tmp_path):
    data_dir = data_dir_with("ml-latest-small")
    lines = run_example("embedding_net_ml_latest_small.py", "--data-dir", str(data_dir),
                        cache=tmp_path)
    assert_ends_with_comparison(lines)
    assert "RMSE" in lines[-1] and "0.885" in lines[-1]
    rows = [line.split() for line in lines if line.split()[0].isdigit() and len(line.split()) == 5]
    assert [int(row[0]) for row in rows] == [1, 2]
    assert any(line.startswith("-- fit 1 done") for line in lines)


@pytest.mark.realdata
@pytest.mark.slow
def test_dot_product_to_neural_net_example_reaches_the_new_user(data_dir, tmp_path):
    lines = run_example("dot_product_to_neural_net.py", "--data-dir", str(data_dir),
                        "--out", str(tmp_path / "out"), cache=tmp_path / "cache")
    assert_ends_with_comparison(lines)
    assert (tmp_path / "out" / "item_pca.png").stat().st_size > 10_000
    text = "\n".join(lines)
    for step in ("The crosstab", "mf-bias with weight decay 0.1", "EmbeddingNN",
                 "Interpretation", "Bootstrapping a new user", "recommendations (fold-in"):
        assert step in text, step


@pytest.mark.realdata
@pytest.mark.slow
def test_sweep_example_says_it_runs_on_the_ml100k_stand_in(data_dir, tmp_path):
    lines = run_example("mf_folds_lr_sweep.py", "--data-dir", str(data_dir), cache=tmp_path)
    assert_ends_with_comparison(lines)
    assert any(line.startswith("STAND-IN: running on ml-100k") for line in lines)
    report = split_report(lines, {"u1", "u5", "ua"})
    assert set(report) == {"u1", "u5", "ua"}
    assert report["u1"][4] == "0"  # u.data is not sorted by user: no cold test users
    assert "stand-in for ml-10m" in lines[-1]


@pytest.mark.slow
def test_sweep_example_warns_that_every_ml10m_block_fold_tests_cold_users(tmp_path):
    synthetic = generate_ratings(300, 120, 9_000, scale=RatingScale(0.5, 5.0, 0.5), seed=3)
    order = np.lexsort((synthetic.timestamps, synthetic.users))  # sorted by user, as ratings.dat
    folder = tmp_path / "data" / "ml-10M100K"
    folder.mkdir(parents=True)
    lines = [
        f"{u}::{i}::{v:g}::{t}"
        for u, i, v, t in zip(
            synthetic.user_ids.to_raw(synthetic.users[order]),
            synthetic.item_ids.to_raw(synthetic.items[order]),
            synthetic.values[order], synthetic.timestamps[order], strict=True,
        )
    ]
    (folder / "ratings.dat").write_text("\n".join(lines) + "\n")

    output = run_example("mf_folds_lr_sweep.py", "--data-dir", str(tmp_path / "data"),
                         cache=tmp_path / "cache")
    assert_ends_with_comparison(output)
    assert not any("STAND-IN" in line for line in output)
    report = split_report(output, {"r1", "r2", "r3", "r4", "r5", "ra", "rb"})
    assert set(report) == {"r1", "r2", "r3", "r4", "r5", "ra", "rb"}
    for fold in ("r1", "r2", "r3", "r4", "r5"):
        train, test, test_users, cold_users = (int(v) for v in report[fold][1:5])
        assert train + test == 9_000 and test == 1_800
        assert cold_users >= test_users - 2  # only the users cut at a block's edges are warm
    assert int(report["rb"][4]) == 0
    warning = next(line for line in output if line.startswith("WARNING:"))
    assert "cold" in warning and "sorted by user" in warning
    assert "cold user, folded in" in "\n".join(output)


@pytest.mark.realdata
@pytest.mark.slow
def test_deep_autoencoder_example_reads_back_its_netflix_stand_in(data_dir_with, tmp_path):
    data_dir = data_dir_with("ml-latest-small")
    lines = run_example("deep_autoencoder_netflix.py", "--data-dir", str(data_dir),
                        cache=tmp_path)
    assert_ends_with_comparison(lines)
    assert any(line.startswith("STAND-IN: no combined_data_1.txt") for line in lines)
    assert any(line.startswith("Ratings('netflix': 100,836 ratings, 610 users") for line in lines)
    picks = lines[lines.index(next(x for x in lines if x.startswith("Ten recommendations"))) + 1:-1]
    assert len(picks) == 10


def test_resuming_a_checkpoint_with_more_epochs_continues_like_one_longer_fit(tmp_path):
    """The embedding-network example's 5 + 10 epochs are one 15-epoch run, split in two."""
    ratings = generate_ratings(80, 60, 2_000, seed=1)
    split = embrec.make_split(ratings, "random:0.2", seed=0)
    hyper = {"layers": [10], "biases": False, "dot_factors": 0, "optimizer": "adam",
             "lr": 1e-3, "weight_decay": 2e-5, "schedule": "constant", "batch_size": 64,
             "threads": 1}
    embrec.fit(split.train, "embnet", test=split.test, epochs=1, checkpoint_dir=tmp_path,
               **hyper)
    continued = embrec.fit(split.train, "embnet", test=split.test, epochs=3,
                           checkpoint_dir=tmp_path, resume=True, **hyper)
    straight = embrec.fit(split.train, "embnet", test=split.test, epochs=3, **hyper)
    assert [e.valid_loss for e in continued.history.epochs] == [
        e.valid_loss for e in straight.history.epochs
    ]
