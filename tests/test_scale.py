"""Row-sparse optimisers: only touched rows move, Adam's maths on them, same accuracy on u1."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from embrec.training.fit import fit
from embrec.training.row_kernels import row_adagrad_step
from embrec.training.row_sparse import LazyAdam, RowWiseAdagrad, Scratch


def sparse_step(table: nn.Embedding, ids: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
    optimizer.zero_grad(set_to_none=True)
    target = torch.arange(ids.numel() * table.embedding_dim, dtype=torch.float32)
    loss = ((table(ids) - target.view(len(ids), -1).sin()) ** 2).sum()
    loss.backward()
    optimizer.step()


def twin_tables(n: int = 50, k: int = 4) -> tuple[nn.Embedding, nn.Embedding]:
    torch.manual_seed(0)
    sparse = nn.Embedding(n, k, sparse=True)
    dense = nn.Embedding(n, k)
    dense.weight.data.copy_(sparse.weight.data)
    return sparse, dense


def test_repeated_rows_have_their_gradients_summed():
    # Row-wise Adagrad with lr 1 from a zero accumulator moves a row by
    # -g_r / |g_r| (k = 1): the sign of its summed gradient, once per row.
    table = np.zeros((5, 1), dtype=np.float32)
    accumulator = np.zeros(5, dtype=np.float32)
    work = Scratch(5)
    ids = np.array([3, 1, 3, 3], dtype=np.int64)
    grads = np.array([[1.0], [2.0], [4.0], [-8.0]], dtype=np.float32)
    row_adagrad_step(table, accumulator, ids, grads, *work.arrays(grads), 1.0, 0.0, 0.0)
    assert accumulator.tolist() == [0.0, 4.0, 0.0, 9.0, 0.0]  # (2)², (1 + 4 - 8)²
    np.testing.assert_allclose(table[:, 0], [0.0, -1.0, 0.0, 1.0, 0.0])
    assert (work.slot_of == -1).all()


@pytest.mark.parametrize("optimizer_cls", [LazyAdam, RowWiseAdagrad])
def test_only_the_rows_a_batch_touches_move(optimizer_cls):
    table, _ = twin_tables()
    before = table.weight.detach().clone()
    optimizer = optimizer_cls(table.parameters(), lr=0.1, weight_decay=0.01)
    ids = torch.tensor([4, 7, 7, 20])
    for _ in range(3):
        sparse_step(table, ids, optimizer)
    moved = (table.weight.detach() != before).any(dim=1)
    assert set(torch.nonzero(moved).flatten().tolist()) == {4, 7, 20}
    for state in optimizer.state[table.weight].values():
        if isinstance(state, torch.Tensor):
            untouched = torch.ones(len(before), dtype=torch.bool)
            untouched[ids] = False
            assert not state[untouched].any()


@pytest.mark.parametrize("optimizer_cls", [LazyAdam, RowWiseAdagrad])
def test_a_gradient_naming_a_row_outside_the_table_is_refused(optimizer_cls):
    table, _ = twin_tables(10, 3)
    before = table.weight.detach().clone()
    optimizer = optimizer_cls(table.parameters(), lr=0.1)
    table.weight.grad = torch.sparse_coo_tensor(
        torch.tensor([[2, 10]]), torch.ones(2, 3), (10, 3), is_coalesced=False
    )
    with pytest.raises(ValueError, match="10-row table .* ids outside 0..9"):
        optimizer.step()
    assert torch.equal(table.weight.detach(), before)


@pytest.mark.parametrize(
    ("decay", "dense_cls"), [(0.0, torch.optim.Adam), (0.1, torch.optim.AdamW)]
)
def test_one_step_on_the_touched_rows_is_adam(decay, dense_cls):
    sparse, dense = twin_tables()
    lazy = LazyAdam(sparse.parameters(), lr=0.05, weight_decay=decay)
    reference = dense_cls(dense.parameters(), lr=0.05, weight_decay=decay)
    ids = torch.tensor([1, 9, 9, 30, 2])
    sparse_step(sparse, ids, lazy)
    sparse_step(dense, ids, reference)
    touched = ids.unique()
    torch.testing.assert_close(sparse.weight[touched], dense.weight[touched])
    torch.testing.assert_close(
        lazy.state[sparse.weight]["exp_avg_sq"][touched],
        reference.state[dense.weight]["exp_avg_sq"][touched],
    )


def test_a_row_touched_every_step_follows_adam_for_many_steps():
    sparse, dense = twin_tables()
    lazy = LazyAdam(sparse.parameters(), lr=0.02, betas=(0.8, 0.99))
    reference = torch.optim.Adam(dense.parameters(), lr=0.02, betas=(0.8, 0.99))
    ids = torch.tensor([0, 1, 2, 3, 2])
    for _ in range(20):
        sparse_step(sparse, ids, lazy)
        sparse_step(dense, ids, reference)
    torch.testing.assert_close(sparse.weight[:4], dense.weight[:4])


def test_row_adagrad_keeps_one_accumulator_per_row():
    table, _ = twin_tables(10, 3)
    optimizer = RowWiseAdagrad(table.parameters(), lr=0.5)
    before = table.weight.detach().clone()
    ids = torch.tensor([2, 2])
    sparse_step(table, ids, optimizer)
    grad = 2 * (before[2] - torch.arange(3).sin()) + 2 * (before[2] - torch.arange(3, 6).sin())
    accumulator = optimizer.state[table.weight]["sum"]
    assert accumulator.shape == (10,)
    torch.testing.assert_close(accumulator[2], grad.pow(2).mean())
    expected = before[2] - 0.5 * grad / (grad.pow(2).mean().sqrt() + 1e-8)
    torch.testing.assert_close(table.weight[2].detach(), expected)


def test_lazy_adam_trains_mf_bias_as_well_as_dense_adamw_on_u1(u1):
    options = {"factors": 50, "epochs": 5, "seed": 0, "threads": 1, "solver": "torch"}
    dense = fit(u1.train, "mf-bias", test=u1.test, optimizer="adamw", **options)
    lazy = fit(u1.train, "mf-bias", test=u1.test, optimizer="lazy-adam", **options)
    assert lazy.module.user_factors.sparse
    assert lazy.metrics["test_rmse"] == pytest.approx(dense.metrics["test_rmse"], abs=0.01)
    assert lazy.metrics["test_rmse"] < 0.94


def test_row_adagrad_trains_with_the_one_cycle_schedule(u1):
    trained = fit(u1.train, "mf-bias", test=u1.test, solver="torch", optimizer="row-adagrad",
                  lr=0.05, epochs=3, threads=1)
    assert trained.metrics["test_rmse"] < 0.97


def test_lazy_adam_resumes_from_a_checkpoint_exactly(u1, tmp_path):
    options = {"epochs": 3, "optimizer": "lazy-adam", "threads": 1, "solver": "torch"}
    straight = fit(u1.train, "mf-bias", test=u1.test, **options)

    def crash_after_second_epoch(record):
        if record.epoch == 2:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError):
        fit(u1.train, "mf-bias", checkpoint_dir=tmp_path / "ckpt",
            on_epoch=crash_after_second_epoch, **options)
    resumed = fit(u1.train, "mf-bias", test=u1.test, checkpoint_dir=tmp_path / "ckpt",
                  resume=True, **options)
    assert resumed.metrics["test_rmse"] == straight.metrics["test_rmse"]


def test_item_autorec_scores_users_from_cached_codes_not_a_full_reconstruction(u1):
    trained = fit(u1.train, "autorec", epochs=1, threads=1)
    predictor = trained.predictor
    users = np.array([0, 5, 17, 942, 5])
    scores = predictor.score_users(users)
    module = predictor.module.eval()
    with torch.no_grad():
        every_item = module(torch.from_numpy(predictor._input_rows.toarray())).numpy()
    known = predictor.item_counts > 0
    np.testing.assert_allclose(scores[:, known], every_item[:, users].T[:, known], atol=1e-5)
    assert predictor._row_outputs["item_codes"].shape == (u1.train.n_items, 500)
