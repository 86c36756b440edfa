"""What the training commands print: the epoch table, `embrec models`, `cv` over one fold."""

from __future__ import annotations

import io
import re

import pytest

from embrec.cli import main
from embrec.data.datasets import load_source
from embrec.data.splits import make_split
from embrec.training.fit import fit
from embrec.training.history import EpochRecord, EpochTable, format_rate, format_seconds


def header_and_rows(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [line.split() for line in text.splitlines() if line.strip()]
    start = next(i for i, cells in enumerate(lines) if cells[:1] == ["epoch"])
    rows = []
    for cells in lines[start + 1:]:
        if not cells[0].isdigit():
            break
        rows.append(cells)
    return lines[start], rows


@pytest.fixture(scope="module")
def u1(data_dir):
    return make_split(load_source("ml-100k", data_dir=data_dir), "u1", data_dir=data_dir)


@pytest.mark.parametrize(("seconds", "shown"), [
    (734.2, "734s"), (12.345, "12.3s"), (1.0, "1.00s"), (0.9999, "1.00s"),
    (0.00234, "2.34ms"), (0.000412, "412µs"), (0.0, "<1µs"),
])
def test_durations_keep_three_significant_digits(seconds, shown):
    assert format_seconds(seconds) == shown


@pytest.mark.parametrize(("rate", "shown"), [
    (812.4, "812"), (17_747, "17.7k"), (37_342_798, "37.3M"), (999_900, "1.00M"),
])
def test_throughput_is_compact(rate, shown):
    assert format_rate(rate) == shown


@pytest.mark.realdata
def test_a_compiled_sgd_run_shows_milliseconds_and_no_empty_monitor_column(u1, capsys):
    fit(u1.train, "mf-bias", test=u1.test, solver="sgd", epochs=4, verbose=True)
    header, rows = header_and_rows(capsys.readouterr().out)
    assert header == ["epoch", "train_loss", "valid_loss", "valid_rmse", "time", "ratings/s"]
    assert len(rows) == 4
    later = [row[4] for row in rows[1:]]  # the first epoch also compiles the kernels
    assert all(re.fullmatch(r"\d+(\.\d+)?(ms|µs)", cell) for cell in later), later
    for row in rows:
        assert not row[4].startswith("0.00")
        assert re.fullmatch(r"\d+(\.\d+)?[kMG]?", row[5]), row


@pytest.mark.realdata
def test_early_stopping_shows_the_monitor_column_and_no_valid_columns_without_valid(
    u1, capsys
):
    fit(u1.train, "mf-bias", solver="sgd", epochs=2, valid_fraction=0.1, patience=1,
        verbose=True)
    header, rows = header_and_rows(capsys.readouterr().out)
    assert header == ["epoch", "train_loss", "monitor_rmse", "time", "ratings/s"]
    assert all(float(row[2]) > 0 for row in rows)


def test_the_phase_column_appears_only_for_runs_that_have_phases():
    def record(epoch: int, phase: str | None) -> EpochRecord:
        return EpochRecord(epoch, 0.9, 1.0, 1.0, None, 0.0021, 38e6, 0.0, phase)

    plain, phased = io.StringIO(), io.StringIO()
    EpochTable(plain).row(record(1, None))
    table = EpochTable(phased)
    table.row(record(1, "burn-in"))
    table.row(record(2, "sampling"))
    assert plain.getvalue().split()[:4] == ["epoch", "train_loss", "valid_loss", "valid_rmse"]
    lines = [line.split() for line in phased.getvalue().splitlines()]
    assert lines[0][:2] == ["epoch", "phase"]
    assert [line[1] for line in lines[1:]] == ["burn-in", "sampling"]
    assert lines[1][-2:] == ["2.10ms", "38.0M"]


@pytest.mark.realdata
@pytest.mark.slow
def test_gibbs_marks_its_burn_in_sweeps(u1, capsys):
    fit(u1.train, "bfm", test=u1.test, epochs=4, burn_in=2, factors=4, verbose=True)
    out = capsys.readouterr().out
    assert "sweeps 1..2 are burn-in" in out and "averages the 2 sweeps after" in out
    header, rows = header_and_rows(out)
    assert header[:2] == ["epoch", "phase"]
    assert [row[1] for row in rows] == ["burn-in", "burn-in", "sampling", "sampling"]


def test_models_lists_training_defaults_beside_hyperparameters(capsys):
    from embrec.models.registry import MODELS
    from embrec.training.fit import split_hyperparameters

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "training defaults" in out
    rows = [line.split() for line in out.splitlines()]
    header = next(r for r in rows if r[:2] == ["model", "solver"])
    assert header == ["model", "solver", "epochs", "lr", "optim", "schedule", "batch", "wd",
                      "emb_l2"]
    _, sgd = split_hyperparameters(MODELS["mf-bias"], {}, "sgd")
    _, torch = split_hyperparameters(MODELS["embnet"], {}, "torch")
    assert ["mf-bias", "sgd", str(sgd.epochs), f"{sgd.lr:g}", sgd.schedule,
            f"{sgd.emb_l2:g}"] in rows
    assert ["embnet", "torch", str(torch.epochs), f"{torch.lr:g}", torch.optimizer,
            torch.schedule, str(torch.batch_size), f"{torch.weight_decay:g}",
            f"{torch.emb_l2:g}"] in rows
    assert ["bfm", "gibbs", "400"] in rows


def test_models_lists_every_preset_with_its_model_and_what_it_costs(capsys):
    from embrec.presets import PRESETS

    assert main(["models"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    for preset in PRESETS.values():
        assert [preset.name, preset.model, f"({preset.solver})"] == next(
            r[:3] for r in rows if r[:1] == [preset.name]), preset.name
    assert "minutes" in PRESETS["neural"].summary


@pytest.mark.realdata
def test_cv_over_one_fold_says_one_fold_and_no_spread(data_dir, capsys):
    code = main(["cv", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--folds", "u1",
                 "--model", "baseline", "--workers", "1", "--no-baseline"])
    assert code == 0
    out = capsys.readouterr().out
    assert "± 0.0000" not in out and "1 folds" not in out and "fold(s)" not in out
    assert "cross-validating baseline on 1 fold: u1" in out
    summary = r"baseline: test RMSE 0\.9\d{3}, MAE 0\.7\d{3} on 1 fold, u1 \(1 worker,"
    assert re.search(summary, out), out
    assert "mean ± std" not in out
