"""Mixed precision (``precision="bf16"``, ``--precision bf16``): the torch solver's forward
pass in bfloat16 autocast, float32 weights, the option refused by the solvers that do not
read it, and a test RMSE on ml-100k u1 within the measured distance of float32's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import embrec
from embrec.cli import main
from embrec.data.synthetic import generate_ratings
from embrec.errors import ConfigError
from embrec.training.fit import fit

# Small and quick: an MLP over embeddings and an autoencoder, both with linear layers.
MODELS = {
    "embnet": {"factors": 8, "layers": "16"},
    "autorec": {"factors": 16},
}
BF16_RMSE_TOLERANCE = 0.002
"""|test RMSE(bf16) - test RMSE(fp32)| allowed on ml-100k u1; measured 0.00022 (embnet) and
0.00003 (autorec) with the default settings and seed 0 on a CPU: ten times the larger."""


@pytest.fixture(scope="module")
def split():
    return embrec.make_split(generate_ratings(120, 80, 2_400, seed=3), "random:0.2", seed=0)


def recording_linear_dtypes(monkeypatch) -> list[torch.dtype]:
    """The dtypes every linear layer outputs from now on (``F.linear`` watched)."""
    seen: list[torch.dtype] = []
    linear = torch.nn.functional.linear

    def watched(*args, **kwargs):
        out = linear(*args, **kwargs)
        seen.append(out.dtype)
        return out

    monkeypatch.setattr(torch.nn.functional, "linear", watched)
    return seen


@pytest.mark.parametrize("model", sorted(MODELS))
def test_bf16_multiplies_in_bfloat16_while_training_and_keeps_float32_weights(
    split, model, monkeypatch
):
    seen = recording_linear_dtypes(monkeypatch)
    trained = fit(split.train, model, solver="torch", test=split.test, epochs=2,
                  precision="bf16", verbose=False, **MODELS[model])
    assert torch.bfloat16 in seen
    assert {p.dtype for p in trained.module.parameters()} == {torch.float32}
    assert np.isfinite(trained.metrics["test_rmse"])
    assert trained.train_config["precision"] == "bf16"
    # Prediction runs in float32.
    seen.clear()
    predicted, _ = trained.predictor.predict(split.test.users[:20], split.test.items[:20])
    assert predicted.dtype == np.float32
    assert seen and set(seen) == {torch.float32}


def test_fp32_is_the_default_and_bf16_trains_close_to_it(split):
    runs = {precision: fit(split.train, "embnet", solver="torch", test=split.test, epochs=2,
                           verbose=False, **MODELS["embnet"], **options)
            for precision, options in (("fp32", {}), ("bf16", {"precision": "bf16"}))}
    assert runs["fp32"].train_config["precision"] == "fp32"
    rmse = {precision: run.metrics["test_rmse"] for precision, run in runs.items()}
    assert abs(rmse["bf16"] - rmse["fp32"]) < 0.01


def test_a_bundle_and_the_train_summary_record_the_precision(tmp_path, capsys, split):
    data = tmp_path / "ratings.csv"
    train = split.train
    data.write_text("user,item,rating\n" + "".join(
        f"{u},{i},{r:g}\n" for u, i, r in zip(train.users, train.items, train.values)))
    out = tmp_path / "model"
    code = main(["train", "--dataset", str(data), "--model", "autorec", "--epochs", "1",
                 "--precision", "bf16", "--ranker", "none", "--out", str(out), "--json"])
    stdout = capsys.readouterr().out
    assert code == 0
    assert json.loads(stdout.strip().splitlines()[-1])["precision"] == "bf16"
    assert json.loads((out / "bundle.json").read_text())["train_config"]["precision"] == "bf16"


def test_a_solver_that_does_not_read_precision_refuses_it_naming_the_solver(split):
    with pytest.raises(ConfigError) as error:
        fit(split.train, "mf-bias", precision="bf16", verbose=False)  # the sgd solver
    message = str(error.value)
    assert "training option precision is not used by the sgd solver" in message
    assert "used by the torch solver" in message


@pytest.mark.parametrize("argv, says", [
    (["--model", "mf-bias", "--precision", "bf16"], "not used by the sgd solver"),
    (["--model", "embnet", "--precision", "fp16"], "training option precision"),
])
def test_the_cli_refuses_an_unread_or_unknown_precision_in_one_line(
    tmp_path, capsys, split, argv, says
):
    data = tmp_path / "ratings.csv"
    data.write_text("user,item,rating\n1,1,4\n1,2,3\n2,1,5\n2,2,2\n3,1,4\n3,2,1\n")
    code = main(["train", "--dataset", str(data), *argv, "--epochs", "1",
                 "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("embrec: error:")]
    assert len(errors) == 1 and says in errors[0], err


@pytest.mark.slow
@pytest.mark.parametrize("model", ["embnet", "autorec"])
def test_bf16_test_rmse_on_ml100k_u1_is_within_the_measured_tolerance_of_fp32(
    data_dir, tmp_path, capsys, model
):
    rmse = {}
    for precision in ("fp32", "bf16"):
        code = main(["train", "--dataset", "ml-100k", "--data-dir", str(data_dir),
                     "--split", "u1", "--model", model, "--ranker", "none", "--json",
                     "--precision", precision, "--out", str(tmp_path / precision)])
        stdout = capsys.readouterr().out
        assert code == 0
        rmse[precision] = json.loads(stdout.strip().splitlines()[-1])["test_rmse"]
    assert abs(rmse["bf16"] - rmse["fp32"]) < BF16_RMSE_TOLERANCE, rmse
