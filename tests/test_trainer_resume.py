"""One training loop for every solver: an interrupted run resumes bit for bit.

Each solver (torch, sgd, als, the baseline's closed form, gibbs) is trained on
ml-100k u1 once straight through and once interrupted (Ctrl-C after an epoch)
and resumed from its checkpoint; the two must end with identical weights and
identical epoch histories.
"""

from __future__ import annotations

import pytest
import torch

from embrec.training.fit import fit


def interrupt_after(epoch: int):
    def on_epoch(record) -> None:
        if record.epoch == epoch:
            raise KeyboardInterrupt

    return on_epoch


def straight_and_resumed(u1, tmp_path, model: str, stop_at: int, **options):
    straight = fit(u1.train, model, test=u1.test, verbose=False, **options)
    folder = tmp_path / "checkpoint"
    interrupted = fit(u1.train, model, test=u1.test, verbose=False, checkpoint_dir=folder,
                      on_epoch=interrupt_after(stop_at), **options)
    resumed = fit(u1.train, model, test=u1.test, verbose=False, checkpoint_dir=folder,
                  resume=True, **options)
    return straight, interrupted, resumed


def assert_identical(straight, resumed) -> None:
    expected, got = straight.module.state_dict(), resumed.module.state_dict()
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    assert [e.valid_rmse for e in straight.history.epochs] == \
        [e.valid_rmse for e in resumed.history.epochs]
    assert [e.train_loss for e in straight.history.epochs] == \
        [e.train_loss for e in resumed.history.epochs]
    assert straight.metrics["test_rmse"] == resumed.metrics["test_rmse"]


@pytest.mark.parametrize("solver,options", [
    ("sgd", {"epochs": 6, "lr": 0.03, "emb_l2": 0.07, "schedule": "cosine"}),
    ("als", {"epochs": 4, "emb_l2": 0.1}),
    ("torch", {"epochs": 3, "lr": 1e-2}),
])
def test_an_interrupted_mf_bias_run_resumes_bit_identically(u1, tmp_path, solver, options):
    straight, interrupted, resumed = straight_and_resumed(
        u1, tmp_path, "mf-bias", 2, solver=solver, factors=16, **options)
    assert interrupted.history.stopped == "interrupted"
    assert len(interrupted.history.epochs) == 2
    assert resumed.history.stopped == "completed"
    assert len(resumed.history.epochs) == options["epochs"]
    assert_identical(straight, resumed)
    assert resumed.metrics["test_rmse"] < 0.99  # a real fit, not a restart from scratch


def test_an_interrupted_gibbs_chain_resumes_with_its_sampler_and_posterior_sums(u1, tmp_path):
    # Interrupted during sampling (after sweep 4 of 7, burn-in 2): the resumed chain
    # needs the chain's parameters, numba's generator and the running sums.
    straight, interrupted, resumed = straight_and_resumed(
        u1, tmp_path, "bfm", 4, factors=4, epochs=7, burn_in=2, seed=3)
    assert interrupted.history.stopped == "interrupted"
    assert [e.phase for e in resumed.history.epochs] == ["burn-in"] * 2 + ["sampling"] * 5
    assert_identical(straight, resumed)
    assert resumed.metrics["test_rmse"] < 0.96


def test_the_baseline_closed_form_is_a_solver_whose_sweeps_are_epochs(u1, tmp_path):
    straight, _, resumed = straight_and_resumed(u1, tmp_path, "baseline", 3, sweeps=6)
    assert straight.solver == "als"
    assert len(straight.history.epochs) == 6
    assert_identical(straight, resumed)
    # Each sweep lowers the penalised objective; the training error settles.
    losses = [e.train_loss for e in straight.history.epochs]
    assert abs(losses[-1] - losses[-2]) < abs(losses[1] - losses[0])


@pytest.mark.parametrize("lbfgs", ["scipy", "torch"])
def test_an_interrupted_glocal_k_fit_resumes_across_its_two_phases(u1, tmp_path, lbfgs):
    # Interrupted in the second pre-training epoch of three; the resumed run goes on into
    # fine-tuning (the torch optimiser's curvature history is in the checkpoint).
    straight, interrupted, resumed = straight_and_resumed(
        u1, tmp_path, "glocal-k", 2, hidden=24, pretrain_epochs=3, finetune_epochs=2,
        lbfgs=lbfgs, seed=1)
    assert interrupted.history.stopped == "interrupted"
    assert [e.phase for e in resumed.history.epochs] == ["pre-train"] * 3 + ["fine-tune"] * 2
    assert_identical(straight, resumed)
    # Only a fine-tuning epoch may be kept (a pre-trained state's global kernel is untrained).
    assert resumed.history.best_epoch in (None, 4, 5)
