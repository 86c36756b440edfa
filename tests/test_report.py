"""Reports: report.md and real PNG figures from a cv result and from a sweep file."""

from __future__ import annotations

import pytest

from embrec.cli import main
from embrec.data.datasets import load_source
from embrec.evaluation import cross_validate, sweep, write_cv_report, write_sweep_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_real_png(path, min_bytes: int = 10_000) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > min_bytes, f"{path} is only {len(data)} bytes"


@pytest.fixture(scope="module")
def ml100k(data_dir):
    return load_source("ml-100k", data_dir=data_dir)


@pytest.fixture(scope="module")
def cv_result(ml100k, data_dir):
    return cross_validate(ml100k, "mf-bias", ["u1", "u2"], data_dir=data_dir, workers=1,
                          baseline=True, epochs=2, factors=8, threads=1)


@pytest.mark.realdata
def test_cv_report_writes_markdown_and_plots(cv_result, ml100k, tmp_path):
    report = write_cv_report(cv_result, tmp_path / "cv")
    text = report.read_text()
    assert report.name == "report.md"
    for fact in (ml100k.fingerprint(), "u1, u2", "embrec version", "baseline RMSE",
                 "lift", '"factors": 8', "learning_curves.png", "activity.png"):
        assert fact in text, fact
    assert_real_png(tmp_path / "cv" / "learning_curves.png")
    assert_real_png(tmp_path / "cv" / "activity.png")
    assert (tmp_path / "cv" / "cv.json").is_file()


@pytest.mark.realdata
def test_report_command_rebuilds_a_cv_report_from_its_json(cv_result, tmp_path):
    cv_result.save(tmp_path / "cv.json")
    assert main(["report", str(tmp_path / "cv.json"), "--out", str(tmp_path / "again")]) == 0
    assert "mf-bias" in (tmp_path / "again" / "report.md").read_text()
    assert_real_png(tmp_path / "again" / "activity.png")


@pytest.mark.realdata
def test_sweep_report_plots_rmse_against_the_swept_value(ml100k, data_dir, tmp_path):
    results = tmp_path / "sweep.csv"
    result = sweep(ml100k, "mf-bias", {"lr": [0.005, 0.05]}, folds=["u1", "u2"],
                   results_path=results, data_dir=data_dir, workers=1, epochs=1, factors=4,
                   threads=1)
    report = write_sweep_report(result, tmp_path / "sweep")
    text = report.read_text()
    assert "| fold | lr=0.005 | lr=0.05 |" in text
    assert "Best: **lr=" in text and ml100k.fingerprint() in text
    for name in ("sweep.png", "learning_curves.png", "activity.png"):
        assert_real_png(tmp_path / "sweep" / name)
    assert main(["report", str(results), "--out", str(tmp_path / "from-file")]) == 0
    assert_real_png(tmp_path / "from-file" / "sweep.png")
