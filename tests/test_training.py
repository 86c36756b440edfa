"""Training: every model learns, the loop is reproducible, diverges cleanly and resumes exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embrec.errors import ConfigError, TrainingDiverged
from embrec.training.fit import fit
from embrec.training.lr_find import lr_find


@pytest.fixture(scope="module")
def baseline_u1(u1):
    return fit(u1.train, "baseline", test=u1.test).metrics["test_rmse"]


def test_baseline_on_u1_is_the_known_figure(baseline_u1):
    # Regularised biases (λ_u = 15, λ_i = 10) score about 0.96 on u1 in the literature.
    assert 0.94 < baseline_u1 < 0.97


@pytest.mark.parametrize(
    ("model", "options", "margin"),
    [
        pytest.param("mf-bias", {"factors": 50, "epochs": 5, "solver": "torch"}, 0.03,
                     marks=pytest.mark.slow),
        pytest.param("mf", {"factors": 50, "epochs": 5, "solver": "torch"}, 0.0,
                     marks=pytest.mark.slow),
        ("mf-bias", {}, 0.04),
        ("mf", {}, 0.04),
        pytest.param("embnet", {"epochs": 4}, 0.01, marks=pytest.mark.slow),
    ],
)
def test_pair_models_beat_the_baseline_on_u1(u1, baseline_u1, model, options, margin):
    trained = fit(u1.train, model, test=u1.test, **options)
    assert trained.metrics["test_rmse"] < baseline_u1 - margin


@pytest.mark.slow
def test_item_autorec_beats_the_baseline_on_u1(u1, baseline_u1):
    trained = fit(u1.train, "autorec", test=u1.test, epochs=40, l2=100.0)
    assert trained.metrics["test_rmse"] < baseline_u1


def test_deep_autoencoder_trains_and_predicts_finite_ratings(u1):
    trained = fit(u1.train, "deep-ae", test=u1.test, epochs=3, lr=1e-3)
    losses = [e.train_loss for e in trained.history.epochs]
    assert losses[-1] < losses[0]
    assert np.isfinite(trained.metrics["test_rmse"]) and trained.metrics["test_rmse"] < 1.2


def test_same_seed_gives_the_same_numbers(u1):
    first = fit(u1.train, "mf-bias", test=u1.test, epochs=2, seed=3, threads=1, solver="torch")
    second = fit(u1.train, "mf-bias", test=u1.test, epochs=2, seed=3, threads=1, solver="torch")
    other = fit(u1.train, "mf-bias", test=u1.test, epochs=2, seed=4, threads=1, solver="torch")
    assert first.metrics["test_rmse"] == second.metrics["test_rmse"]
    assert first.metrics["test_rmse"] != other.metrics["test_rmse"]


def test_a_diverging_learning_rate_stops_with_a_message_naming_the_epoch(u1):
    with pytest.raises(TrainingDiverged, match=r"epoch 1; lower the learning rate"):
        fit(u1.train, "mf", solver="torch", epochs=2, lr=1e12, schedule="constant", optimizer="sgd")


@pytest.mark.slow
def test_early_stopping_monitors_a_carve_out_of_train_never_the_test_set(u1):
    trained = fit(
        u1.train, "mf-bias", test=u1.test, epochs=30, lr=3e-2, schedule="constant", solver="torch",
        weight_decay=0.0, valid_fraction=0.1, patience=2,
    )
    history = trained.history
    assert history.stopped == "early-stopped"
    assert len(history.epochs) < 30
    assert len(trained.train) == pytest.approx(0.9 * len(u1.train), abs=1)
    monitored = [e.monitor_rmse for e in history.epochs]
    assert history.best_epoch == int(np.argmin(monitored)) + 1


def test_unknown_hyperparameters_are_refused_with_the_accepted_list(u1):
    with pytest.raises(ConfigError, match="unknown hyperparameter 'factorz'.*factors"):
        fit(u1.train, "mf-bias", factorz=3)


@pytest.mark.slow
def test_resume_after_an_interruption_finishes_like_an_uninterrupted_run(u1, tmp_path):
    options = {"epochs": 4, "seed": 1, "threads": 1}
    straight = fit(u1.train, "embnet", test=u1.test, **options)

    class Crash(Exception):
        pass

    def crash_after_second_epoch(record):
        if record.epoch == 2:
            raise Crash

    with pytest.raises(Crash):
        fit(u1.train, "embnet", test=u1.test, checkpoint_dir=tmp_path / "ckpt",
            on_epoch=crash_after_second_epoch, **options)
    resumed = fit(u1.train, "embnet", test=u1.test, checkpoint_dir=tmp_path / "ckpt",
                  resume=True, **options)
    assert len(resumed.history.epochs) == 4
    assert resumed.metrics["test_rmse"] == straight.metrics["test_rmse"]


def test_lr_find_suggests_a_rate_below_divergence_and_plots(u1, tmp_path):
    result = lr_find(u1.train, "mf-bias", steps=60, batch_size=512)
    assert 1e-5 < result.suggestion < 1.0
    assert result.suggestion <= result.min_loss_lr
    path = result.plot(tmp_path / "lr.png")
    assert path.stat().st_size > 10_000


def test_history_is_json_serialisable(u1):
    trained = fit(u1.train, "mf-bias", test=u1.test, epochs=1)
    payload = json.loads(json.dumps(trained.history.to_json()))
    assert payload["epochs"][0]["ratings_per_second"] > 0
