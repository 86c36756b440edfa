"""GLocal-K: the local kernel, the whole-matrix network, and a fit on ml-100k u1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embrec.bundle import load
from embrec.errors import ConfigError
from embrec.models.base import DataShape
from embrec.models.glocal_k import GLocalK, local_kernel
from embrec.models.registry import get_spec
from embrec.recommend.foldin import make_fold_in
from embrec.training.fit import fit

SHAPE = DataShape(n_users=7, n_items=6, global_mean=3.5, rating_low=1.0, rating_high=5.0)


def test_local_kernel_is_one_at_zero_distance_and_zero_beyond_one():
    u = torch.tensor([[0.0, 0.0], [0.6, 0.0], [2.0, 0.0]])
    v = torch.tensor([[0.0, 0.0]])
    kernel = local_kernel(u, v)[:, 0]
    assert kernel.tolist() == pytest.approx([1.0, 1.0 - 0.36, 0.0])


def test_the_network_takes_the_whole_matrix_only():
    torch.manual_seed(0)
    module = GLocalK(SHAPE, hidden=4, kernel_dim=2)
    matrix = torch.rand(6, 7) * 5
    assert module(matrix).shape == (6, 7)
    assert module.encode(matrix).shape == (6, 4)
    with pytest.raises(ValueError, match="whole 6 x 7"):
        module(matrix[:3])
    # Without the global kernel the model is the local autoencoder alone.
    module.use_global = False
    torch.testing.assert_close(module(matrix), module.local(matrix))
    assert float(module.penalty().detach()) > 0


def test_config_refuses_an_even_kernel_and_unknown_keys():
    spec = get_spec("glocal-k")
    with pytest.raises(ConfigError, match="kernel_size"):
        spec.make_config({"kernel_size": 4})
    with pytest.raises(ConfigError, match="lambda"):
        spec.make_config({"lambda_3": 1.0})


@pytest.fixture(scope="module")
def trained(u1):
    return fit(u1.train, "glocal-k", test=u1.test, pretrain_epochs=12, finetune_epochs=3,
               seed=0, verbose=False)


@pytest.mark.realdata
@pytest.mark.slow
def test_a_short_fit_beats_the_baseline_on_u1(u1, trained):
    baseline = fit(u1.train, "baseline", test=u1.test, verbose=False).metrics["test_rmse"]
    rmse = trained.metrics["test_rmse"]
    assert rmse < baseline - 0.01, (rmse, baseline)
    phases = [record.phase for record in trained.history.epochs]
    assert phases[-3:] == ["fine-tune"] * 3 and phases[0] == "pre-train"


@pytest.mark.realdata
@pytest.mark.slow
def test_bundle_round_trip_and_fold_in_of_a_known_user(u1, trained, tmp_path):
    users, items = u1.test.users[:500], u1.test.items[:500]
    before, _ = trained.predictor.predict(users, items)
    reloaded = load(trained.save(tmp_path / "glocal"))
    after, _ = reloaded.predictor.predict(users, items)
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)
    # A new user who rates like user 0 scores like user 0.
    rows = np.flatnonzero(trained.train.users == 0)
    scores = make_fold_in(reloaded).scores(trained.train.items[rows], trained.train.values[rows])
    known = reloaded.predictor.score_users(np.array([0]))[0]
    assert scores.shape == known.shape
    assert np.corrcoef(scores, known)[0, 1] > 0.9
