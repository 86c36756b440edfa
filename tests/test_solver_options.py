"""The config is the truth: options a solver does not read are refused, the device is checked,
and the torch solver reads its loss from the device once per epoch, not once per batch."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import embrec
from embrec.errors import ConfigError
from embrec.training.fit import fit
from embrec.training.torch_solver import resolve_device


def test_weight_decay_with_the_default_sgd_solver_is_an_error_naming_who_uses_it(u1):
    with pytest.raises(ConfigError) as error:
        fit(u1.train, "mf-bias", weight_decay=0.1, verbose=False)
    message = str(error.value)
    assert "weight_decay is not used by the sgd solver" in message
    assert "used by the torch solver" in message
    assert "emb_l2" in message


@pytest.mark.parametrize("solver,option,value", [
    ("sgd", "batch_size", 64), ("als", "lr", 0.1), ("gibbs", "patience", 2),
    ("als", "optimizer", "adam"),
])
def test_an_option_the_chosen_solver_does_not_read_is_refused(u1, solver, option, value):
    model = "bfm" if solver == "gibbs" else "mf-bias"
    with pytest.raises(ConfigError, match=f"{option} is not used by the {solver} solver"):
        fit(u1.train, model, solver=solver, verbose=False, **{option: value})


def test_options_the_solver_reads_and_the_models_own_defaults_are_accepted(u1):
    # mf-bias's own training defaults carry weight_decay=0.1 (for the torch solver):
    # only options given explicitly are checked.
    trained = fit(u1.train, "mf-bias", test=u1.test, epochs=5, emb_l2=0.07, verbose=False)
    assert trained.solver == "sgd"
    assert trained.model_config.y_range is None  # what ran: the linear model, recorded
    assert trained.metrics["test_rmse"] < 0.96


def test_the_sgd_solver_says_it_fitted_the_linear_model(u1, capsys):
    fit(u1.train, "mf-bias", epochs=1, verbose=True)
    assert "y_range 'auto' -> None" in capsys.readouterr().err  # stdout is the epoch table


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_asking_for_cuda_without_a_gpu_is_a_one_line_error_naming_what_to_install(u1):
    with pytest.raises(ConfigError) as error:
        fit(u1.train, "mf-bias", solver="torch", device="cuda", epochs=1, verbose=False)
    message = str(error.value)
    assert "\n" not in message
    assert "--device cuda: no CUDA GPU is visible to torch" in message
    assert "CUDA build of torch" in message and "--device cpu" in message


def test_device_values_are_checked_and_auto_means_the_cpu_without_a_gpu():
    with pytest.raises(ConfigError, match="device must be auto, cpu, cuda or cuda:N"):
        fit(None, "mf-bias", device="gpu0")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"


def test_a_compiled_solver_refuses_a_gpu(u1):
    with pytest.raises(ConfigError, match="the sgd solver runs on the CPU"):
        fit(u1.train, "mf-bias", device="cuda:0", verbose=False)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_the_torch_solver_reads_the_loss_once_per_epoch_not_per_batch(u1, monkeypatch, device):
    # Reads made by embrec's own code (torch's optimisers read their CPU step counters).
    reads = {"item": 0, "float": 0}
    item, to_float = torch.Tensor.item, torch.Tensor.__float__
    source = str(Path(embrec.__file__).parent)

    def ours() -> bool:
        return sys._getframe(2).f_code.co_filename.startswith(source)

    def counted_item(self):
        reads["item"] += ours()
        return item(self)

    def counted_float(self):
        reads["float"] += ours()
        return to_float(self)

    monkeypatch.setattr(torch.Tensor, "item", counted_item)
    monkeypatch.setattr(torch.Tensor, "__float__", counted_float)
    epochs, batch = 2, 1024
    trained = fit(u1.train, "mf-bias", solver="torch", epochs=epochs, batch_size=batch,
                  device=device, verbose=False)
    batches = -(-len(u1.train) // batch)
    assert epochs * batches == 158
    # Once per epoch for the loss, never per batch (one read per batch would be 158+).
    assert reads["item"] + reads["float"] <= 4 * epochs
    assert len(trained.history.epochs) == epochs
    assert next(trained.module.parameters()).device.type == "cpu"  # bundles stay device-free
