"""The compiled solvers (``sgd``, ``als``) of the factorisation models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from embrec.bundle import TrainedModel
from embrec.data.ratings import Ratings
from embrec.errors import ConfigError, TrainingDiverged
from embrec.solvers.als import RatingMatrix, solve_rows
from embrec.solvers.sgd import StratifiedRatings
from embrec.training.fit import fit
from embrec.training.loop import evaluate

COLUMNS = ["user", "item", "rating", "timestamp"]


def low_rank_ratings(n_users: int = 300, n_items: int = 200, n_ratings: int = 6000,
                     seed: int = 0) -> Ratings:
    rng = np.random.default_rng(seed)
    keys = rng.choice(n_users * n_items, size=n_ratings, replace=False)
    users, items = keys // n_items, keys % n_items
    p = rng.normal(0, 0.5, (n_users, 3))
    q = rng.normal(0, 0.5, (n_items, 3))
    raw = 3.5 + (p[users] * q[items]).sum(1) + rng.normal(0, 0.3, n_ratings)
    return Ratings.from_raw(users + 1, items + 1, np.clip(np.round(raw), 1, 5))


def ml100k_fold(data_dir: Path, fold: str = "u1") -> tuple[Ratings, Ratings]:
    """Train and test ratings of an official ml-100k fold, read from its files."""
    folder = data_dir / "ml-100k"
    full = pd.read_csv(folder / "u.data", sep="\t", names=COLUMNS)
    ratings = Ratings.from_raw(
        full.user.to_numpy(), full.item.to_numpy(), full.rating.to_numpy(),
        timestamps=full.timestamp.to_numpy(), name="ml-100k",
    )
    test = pd.read_csv(folder / f"{fold}.test", sep="\t", names=COLUMNS)
    key = full.user.to_numpy(np.int64) * 100_000 + full.item.to_numpy(np.int64)
    in_test = np.isin(key, test.user.to_numpy(np.int64) * 100_000 + test.item.to_numpy(np.int64))
    return ratings.subset(~in_test), ratings.subset(in_test)


@pytest.fixture(scope="module")
def u1(data_dir: Path) -> tuple[Ratings, Ratings]:
    return ml100k_fold(data_dir, "u1")


def test_sgd_single_thread_same_seed_gives_identical_tables() -> None:
    ratings = low_rank_ratings()
    runs = [fit(ratings, "mf-bias", solver="sgd", threads=1, seed=7, epochs=5) for _ in range(2)]
    first, second = (r.module.state_dict() for r in runs)
    for name in first:
        assert torch.equal(first[name], second[name]), name
    other = fit(ratings, "mf-bias", solver="sgd", threads=1, seed=8, epochs=5)
    moved = other.module.state_dict()["user_factors.weight"]
    assert not torch.equal(first["user_factors.weight"], moved)


def test_sgd_order_is_a_stratified_permutation_of_the_ratings() -> None:
    ratings = low_rank_ratings()
    data = StratifiedRatings(ratings.users, ratings.items, ratings.values,
                             ratings.n_users, ratings.n_items, strata=3, seed=0)
    original = sorted(zip(ratings.users, ratings.items, ratings.values))
    relabelled = sorted(zip(data.user_order[data.users], data.item_order[data.items], data.values))
    assert original == relabelled
    chunk_order, shifts = data.epoch_order()
    assert sorted(chunk_order) == list(range(len(data.chunk_block)))
    assert sorted(shifts) == [0, 1, 2]


@pytest.mark.realdata
def test_sgd_two_threads_rmse_varies_less_than_0_002_on_u1(u1) -> None:
    train, test = u1
    rmses = [evaluate(fit(train, "mf-bias", solver="sgd", threads=2).predictor, test).rmse
             for _ in range(3)]
    assert max(rmses) - min(rmses) < 0.002


@pytest.mark.realdata
def test_compiled_mf_bias_beats_the_baseline_on_u1(u1) -> None:
    train, test = u1
    baseline = evaluate(fit(train, "baseline").predictor, test).rmse
    for solver in ("sgd", "als"):
        trained = fit(train, "mf-bias", solver=solver)
        rmse = evaluate(trained.predictor, test).rmse
        assert rmse < baseline - 0.01, (solver, rmse, baseline)
        assert trained.model_config.y_range is None
        assert len(trained.history.epochs) == trained.train_config["epochs"]


def test_bundle_trained_with_sgd_saves_loads_and_predicts_the_same(tmp_path: Path) -> None:
    ratings = low_rank_ratings()
    trained = fit(ratings, "mf-bias", solver="sgd", epochs=3)
    users = ratings.user_ids.to_raw(ratings.users[:50])
    items = ratings.item_ids.to_raw(ratings.items[:50])
    before = trained.predict(users, items).ratings
    trained.save(tmp_path / "model")
    loaded = TrainedModel.load(tmp_path / "model")
    assert loaded.solver == "sgd"
    assert loaded.model_config.y_range is None
    np.testing.assert_array_equal(loaded.predict(users, items).ratings, before)


def test_als_row_solve_matches_numpy_least_squares_for_one_user() -> None:
    ratings = low_rank_ratings()
    matrix = RatingMatrix(ratings.users, ratings.items, ratings.values,
                          ratings.n_users, ratings.n_items)
    rng = np.random.default_rng(1)
    k, reg, mean = 4, 0.3, float(ratings.values.mean())
    item_factors = rng.normal(0, 0.5, (ratings.n_items, k)).astype(np.float32)
    item_bias = rng.normal(0, 0.2, ratings.n_items).astype(np.float32)
    user_factors = np.zeros((ratings.n_users, k), dtype=np.float32)
    user_bias = np.zeros(ratings.n_users, dtype=np.float32)
    solve_rows(*matrix.by_user, item_factors, item_bias, user_factors, user_bias,
               mean, reg, True)
    user = int(ratings.users[0])
    mine = ratings.users == user
    n = int(mine.sum())
    design = np.hstack([item_factors[ratings.items[mine]], np.ones((n, 1))]).astype(np.float64)
    target = ratings.values[mine] - mean - item_bias[ratings.items[mine]]
    stacked = np.vstack([design, np.sqrt(reg * n) * np.eye(k + 1)])
    expected, *_ = np.linalg.lstsq(stacked, np.concatenate([target, np.zeros(k + 1)]), rcond=None)
    np.testing.assert_allclose(user_factors[user], expected[:k], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(user_bias[user], expected[k], rtol=1e-4, atol=1e-5)


def test_als_training_loss_never_rises() -> None:
    trained = fit(low_rank_ratings(), "mf", solver="als", epochs=6)
    losses = [e.train_loss for e in trained.history.epochs]
    assert all(b <= a + 1e-6 for a, b in zip(losses, losses[1:]))


def test_als_dispatches_baseline_to_its_closed_form_biases() -> None:
    trained = fit(low_rank_ratings(), "baseline", solver="als")
    assert trained.solver == "als"
    assert hasattr(trained.module, "user_bias") and not hasattr(trained.module, "user_factors")


def test_sgd_early_stopping_keeps_the_best_monitored_epoch() -> None:
    trained = fit(low_rank_ratings(), "mf-bias", solver="sgd", epochs=60, lr=0.05, emb_l2=0.0,
                  valid_fraction=0.2, patience=2)
    history = trained.history
    assert history.stopped == "early-stopped"
    best = min(history.epochs, key=lambda e: e.monitor_rmse)
    assert history.best_epoch == best.epoch


def test_compiled_solvers_refuse_a_squashed_output_range() -> None:
    with pytest.raises(ConfigError, match="y_range"):
        fit(low_rank_ratings(), "mf-bias", solver="sgd", y_range=(1.0, 5.0))


def test_sgd_divergence_names_the_epoch_and_the_learning_rate() -> None:
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        fit(low_rank_ratings(), "mf", solver="sgd", lr=50.0, epochs=2)
