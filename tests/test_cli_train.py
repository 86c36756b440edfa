"""`embrec train` end to end: JSON summary, bundle, divergence message, kill and --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embrec.bundle import load
from embrec.cli import main
from embrec.cli.train import checkpoint_dir_for

EMBREC = [sys.executable, "-m", "embrec"]


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_prints_the_epoch_table_and_a_json_summary(data_dir, tmp_path, capsys):
    out = tmp_path / "model"
    code, stdout, _ = run_cli(
        ["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
         "--model", "mf-bias", "--solver", "torch", "--epochs", "3", "--out", str(out), "--json"],
        capsys,
    )
    assert code == 0
    assert "train_loss" in stdout and "valid_rmse" in stdout
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["epochs"] == 3 and summary["split"] == "u1"
    assert 0.85 < summary["valid_rmse"] < 0.97
    assert summary["ratings_per_second"] > 0 and summary["train_seconds"] > 0
    # The whole command (reading, splitting, scoring, saving) takes longer than its epochs.
    assert summary["command_seconds"] > summary["train_seconds"]
    assert 0 < summary["command_ratings_per_second"] < summary["ratings_per_second"]
    assert load(summary["model_dir"]).metrics["test_rmse"] == pytest.approx(summary["valid_rmse"])


def test_a_diverging_learning_rate_exits_2_with_one_line(data_dir, tmp_path, capsys):
    code, _, stderr = run_cli(
        ["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
         "--model", "mf", "--solver", "torch", "--lr", "1e12", "--optimizer", "sgd",
         "--schedule", "constant",
         "--out", str(tmp_path / "m")],
        capsys,
    )
    assert code == 2
    assert stderr.count("\n") == 1 and "epoch 1" in stderr and "lower the learning rate" in stderr
    assert not (tmp_path / "m").exists()


def test_an_unknown_model_exits_2_naming_the_choices(data_dir, tmp_path, capsys):
    code, _, stderr = run_cli(
        ["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--model", "svd",
         "--out", str(tmp_path / "m")],
        capsys,
    )
    assert code == 2 and "unknown model 'svd'" in stderr and "mf-bias" in stderr


def _train_args(data_dir: Path, out: Path) -> list[str]:
    return ["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
            "--model", "embnet", "--epochs", "6", "--batch-size", "128", "--threads", "1",
            "--out", str(out), "--json"]


@pytest.mark.slow
def test_killing_training_and_resuming_finishes_like_an_uninterrupted_run(data_dir, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    straight = subprocess.run(
        EMBREC + _train_args(data_dir, tmp_path / "straight"),
        capture_output=True, text=True, env=env, check=True,
    )
    expected = json.loads(straight.stdout.strip().splitlines()[-1])

    out = tmp_path / "killed"
    state = checkpoint_dir_for(out) / "state.json"
    process = subprocess.Popen(
        EMBREC + _train_args(data_dir, out), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env=env,
    )
    deadline = time.monotonic() + 120
    while not state.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # well into the next epoch
    assert process.poll() is None, "training ended before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists()

    resumed = subprocess.run(
        EMBREC + [*_train_args(data_dir, out), "--resume"],
        capture_output=True, text=True, env=env, check=True,
    )
    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert result["epochs"] == 6
    assert result["valid_rmse"] == expected["valid_rmse"]
    assert not checkpoint_dir_for(out).exists()
