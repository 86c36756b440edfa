"""embnet's training defaults follow its table sizes: row-sparse Adam on large tables."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from embrec.data.idmap import IdMap
from embrec.data.ratings import Ratings, RatingScale
from embrec.models.embnet import LARGE_TABLE_ROWS, SPEC, sized_training_defaults
from embrec.training.fit import fit, split_hyperparameters
from embrec.training.row_kernels import lazy_adam_step, lazy_adam_step_serial
from embrec.training.row_sparse import Scratch, pick_kernel
from embrec.training.solver import shape_of
from embrec.training.threads import configure_threads


def optimizer_for(size: tuple[int, int], **values) -> str:
    return split_hyperparameters(SPEC, values, "torch", size)[1].optimizer


def test_small_tables_keep_dense_adamw():
    assert optimizer_for((943, 1_682)) == "adamw"  # ml-100k
    assert optimizer_for((6_040, 3_706)) == "adamw"  # ml-1m
    assert optimizer_for((610, 9_724)) == "adamw"  # ml-latest-small


def test_large_tables_train_with_lazy_adam_on_the_cpu():
    assert optimizer_for((53_727, 8_108), device="cpu") == "lazy-adam"
    assert optimizer_for((LARGE_TABLE_ROWS - 100, 100), device="cpu") == "lazy-adam"


def test_an_explicit_optimizer_or_a_gpu_keeps_adamw_on_large_tables():
    assert optimizer_for((53_727, 8_108), optimizer="adamw") == "adamw"
    assert optimizer_for((53_727, 8_108), device="cuda") == "adamw"


def test_without_a_size_the_defaults_are_the_specs():
    _, config = split_hyperparameters(SPEC, {}, "torch")
    assert (config.optimizer, config.batch_size, config.lr) == ("adamw", 1024, 5e-3)


def test_sized_defaults_for_an_undeclared_solver_are_refused():
    with pytest.raises(ValueError, match="undeclared solvers"):
        dataclasses.replace(SPEC, sized_defaults={"sgd": lambda *_: {}})


def sparse_catalogue(n_users: int = 25_000, n_items: int = 400, rated: int = 300) -> Ratings:
    """Ratings of the first ``rated`` users only, in tables of ``n_users`` rows."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(rated), 8).astype(np.int32)
    items = rng.integers(0, n_items, len(users)).astype(np.int32)
    keys = np.unique(users.astype(np.int64) * n_items + items)
    users, items = (keys // n_items).astype(np.int32), (keys % n_items).astype(np.int32)
    values = rng.integers(1, 6, len(users)).astype(np.float32)
    return Ratings(users, items, values, IdMap(np.arange(1, n_users + 1)),
                   IdMap(np.arange(1, n_items + 1)), RatingScale(1, 5, 1), name="catalogue")


def test_a_large_table_fit_moves_only_the_rows_it_trained_on():
    # A step costs in proportion to the batch: with dense AdamW (weight decay 1)
    # every user row would shrink on every step, rated or not.
    ratings = sparse_catalogue()
    trained = fit(ratings, "embnet", epochs=1, device="cpu", verbose=False)
    assert trained.train_config["optimizer"] == "lazy-adam"
    torch.manual_seed(0)
    initial = SPEC.build(SPEC.make_config({}), shape_of(ratings, 3.0), True)
    after = trained.module.user_factors.weight.detach()
    before = initial.user_factors.weight.detach()
    rated = np.unique(ratings.users)
    unrated = np.setdiff1d(np.arange(ratings.n_users), rated)
    assert torch.equal(after[unrated], before[unrated])
    assert not torch.equal(after[rated], before[rated])


def test_one_thread_runs_the_serial_kernel_with_the_same_result():
    previous = torch.get_num_threads()
    try:
        configure_threads(1, 0)
        assert pick_kernel(lazy_adam_step, lazy_adam_step_serial) is lazy_adam_step_serial
        configure_threads(2, 0)
        assert pick_kernel(lazy_adam_step, lazy_adam_step_serial) is lazy_adam_step
    finally:
        torch.set_num_threads(previous)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 40, 64)
    grads = rng.normal(size=(64, 6)).astype(np.float32)
    results = []
    for kernel in (lazy_adam_step, lazy_adam_step_serial):
        table = np.ones((40, 6), dtype=np.float32)
        moments = np.zeros_like(table), np.zeros_like(table)
        kernel(table, *moments, ids, grads, *Scratch(40).arrays(grads),
               0.01, 0.9, 0.999, 1e-8, 0.1, 1)
        results.append(table)
    np.testing.assert_array_equal(*results)


def test_the_size_rule_states_its_threshold_for_embrec_models():
    assert f"{LARGE_TABLE_ROWS:,}" in sized_training_defaults.__doc__.splitlines()[0]
