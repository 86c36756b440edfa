"""Training, predicting and serving on a device: ``--device`` on the commands, the errors
without a GPU, data and batches on the device with no per-batch wait, and bundles that
stay device-free. Every test runs on the CPU; the ``cuda`` cases run where torch sees a GPU.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

import embrec
from embrec.cli import main
from embrec.data.synthetic import generate_ratings
from embrec.errors import ConfigError
from embrec.models.registry import get_spec
from embrec.predictor import Fallback
from embrec.recommend import recommend_for_ratings, similar_items
from embrec.recommend.interpret import item_biases, item_pca
from embrec.recommend.onboarding import onboarding_items
from embrec.training.fit import fit, split_hyperparameters
from embrec.training.solver import Problem
from embrec.training.torch_solver import TorchSolver

CUDA = torch.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not CUDA, reason="torch sees no CUDA GPU (the CPU build of torch, or no GPU)"))]
NO_GPU = pytest.mark.skipif(CUDA, reason="this machine has a CUDA GPU")
SOURCE = str(Path(embrec.__file__).parent)

# Small and quick for each model: a pair model by the torch solver, an MLP, an autoencoder.
MODELS = {
    "mf-bias": {"factors": 8},
    "embnet": {"factors": 8, "layers": "16"},
    "autorec": {"factors": 16},
}


@pytest.fixture(scope="module")
def ratings():
    return generate_ratings(120, 80, 2_400, seed=3)


@pytest.fixture(scope="module")
def split(ratings):
    return embrec.make_split(ratings, "random:0.2", seed=0)


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the errors without a GPU -----------------------------------------------------------


def assert_no_cuda_error(code: int, stderr: str) -> None:
    assert code == 2
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("embrec: error:")]
    assert len(lines) == 1, stderr
    assert "--device cuda: no CUDA GPU is visible to torch" in lines[0]
    assert "CUDA build of torch" in lines[0]
    assert "download.pytorch.org/whl/cu126" in lines[0]


@NO_GPU
def test_train_with_device_cuda_without_a_gpu_exits_2_naming_what_to_install(
    tmp_path, capsys, ratings
):
    data = tmp_path / "ratings.csv"
    data.write_text("user,item,rating\n" + "".join(
        f"{u},{i},{r:g}\n" for u, i, r in zip(ratings.users, ratings.items, ratings.values)))
    code, _, err = run_cli(["train", "--dataset", str(data), "--model", "embnet",
                            "--epochs", "1", "--device", "cuda", "--out", str(tmp_path / "m")],
                           capsys)
    assert_no_cuda_error(code, err)
    assert not (tmp_path / "m").exists()


SCORING_COMMANDS = [["recommend", "--user", "1"], ["serve"], ["similar", "1"], ["interpret"],
                    ["onboard"]]


@NO_GPU
@pytest.mark.parametrize("command", SCORING_COMMANDS, ids=lambda command: command[0])
def test_scoring_on_cuda_without_a_gpu_exits_2_naming_what_to_install(
    tmp_path, capsys, ratings, command
):
    path = fit(ratings, "mf-bias", epochs=1, verbose=False).save(tmp_path / "bundle")
    code, _, err = run_cli([command[0], str(path), *command[1:], "--device", "cuda"], capsys)
    assert_no_cuda_error(code, err)


def test_a_compiled_solver_asked_for_cuda_names_the_solver_to_use_instead(ratings):
    with pytest.raises(ConfigError) as error:
        fit(ratings, "mf-bias", solver="als", device="cuda", verbose=False)
    message = str(error.value)
    assert "\n" not in message
    assert "the als solver runs on the CPU" in message and "--solver torch" in message


def test_cpu_kernel_optimizers_are_refused_on_a_gpu(ratings, monkeypatch):
    # Pretend torch sees a GPU: the optimizer check comes before anything moves.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="lazy-adam optimizer updates its rows with compiled "
                                          "CPU kernels; use --optimizer sparse-adam"):
        fit(ratings, "mf-bias", solver="torch", optimizer="lazy-adam", device="cuda",
            verbose=False)


def test_auto_means_the_cpu_for_the_compiled_solvers_and_is_recorded_as_such(ratings):
    trained = fit(ratings, "mf-bias", epochs=1, verbose=False)  # sgd, device auto
    assert trained.solver == "sgd" and trained.train_config["device"] == "cpu"


# -- --device on the commands -------------------------------------------------------------


def test_train_records_the_device_in_the_bundle_and_the_json_summary(tmp_path, capsys, ratings):
    data = tmp_path / "ratings.csv"
    data.write_text("user,item,rating\n" + "".join(
        f"{u},{i},{r:g}\n" for u, i, r in zip(ratings.users, ratings.items, ratings.values)))
    out = tmp_path / "model"
    code, stdout, err = run_cli(["train", "--dataset", str(data), "--model", "embnet",
                                 "--epochs", "1", "--device", "cpu", "--ranker", "none",
                                 "--out", str(out), "--json"], capsys)
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["device"] == "cpu"
    assert json.loads((out / "bundle.json").read_text())["train_config"]["device"] == "cpu"


@pytest.mark.parametrize("command", ["train", "cv", "sweep", "lr-find", "recommend", "serve",
                                     "similar", "interpret", "onboard"])
def test_every_training_and_scoring_command_takes_device(command, capsys):
    assert main([command, "--help"]) == 0
    assert "--device" in capsys.readouterr().out


def test_recommend_scores_on_the_device_asked_for(tmp_path, capsys, ratings):
    path = fit(ratings, "mf-bias", epochs=1, verbose=False).save(tmp_path / "bundle")
    code, stdout, err = run_cli(["recommend", str(path), "--user", "1", "--device", "cpu",
                                 "--json"], capsys)
    assert code == 0, err
    assert len(json.loads(stdout.strip().splitlines()[-1])["items"]) == 10


@pytest.mark.parametrize("command", [["similar", "1", "--min-ratings", "1"], ["interpret"]],
                         ids=lambda command: command[0])
def test_similar_and_interpret_on_the_cpu_device_print_what_the_default_prints(
    tmp_path, capsys, ratings, command
):
    path = fit(ratings, "autorec", epochs=1, factors=8, verbose=False).save(tmp_path / "bundle")
    outputs = []
    for device in ([], ["--device", "cpu"]):
        code, stdout, err = run_cli([command[0], str(path), *command[1:], *device, "--json"],
                                    capsys)
        assert code == 0, err
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]


# -- similar, interpret and onboard score on the model's device -------------------------------


# Each way a network takes part in them: the item codes (item-based AutoRec), a forward
# pass of the new user's row (user-based AutoRec), the item embeddings and the
# predicted ratings of the known users (embnet).
EXPLORED = {
    "autorec-item": ("autorec", {"factors": 16}),
    "autorec-user": ("autorec", {"factors": 16, "orientation": "user"}),
    "embnet": ("embnet", MODELS["embnet"]),
}


@pytest.fixture(scope="module")
def explored_bundles(split, tmp_path_factory):
    folder = tmp_path_factory.mktemp("explored")
    return {name: fit(split.train, model, solver="torch", epochs=2, verbose=False,
                      **options).save(folder / name)
            for name, (model, options) in EXPLORED.items()}


def explored(model: embrec.TrainedModel) -> dict[str, object]:
    """What similar, interpret and onboard compute from a model, as plain values."""
    first = model.item_ids.to_raw([0])[0]
    similar = similar_items(model, first, n=5, space="rating")
    pca = item_pca(model)
    questions = onboarding_items(model, 4)
    answers = dict(zip(questions.item_ids, [5.0, 1.0, 4.0, 2.0]))
    folded = recommend_for_ratings(model, answers, n=5)
    return {
        "similar": (similar.item_ids, similar.similarities),
        "biases": item_biases(model, 5, min_ratings=1).to_json(),
        "pca": np.abs(pca.coordinates),  # an axis's sign is arbitrary
        "questions": questions.item_ids,
        "recommended": (folded.item_ids, folded.scores),
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(EXPLORED))
def test_similar_interpret_and_onboard_on_a_device_match_the_cpu(explored_bundles, name,
                                                                  device):
    on_cpu = explored(embrec.load(explored_bundles[name]))
    model = embrec.load(explored_bundles[name], device=device)
    assert model.predictor.device.type == device
    on_device = explored(model)
    exact = device == "cpu"
    for key, expected in on_cpu.items():
        got = on_device[key]
        if key in ("questions", "biases") or exact:
            assert repr(got) == repr(expected), key
        elif key == "pca":
            np.testing.assert_allclose(got, expected, atol=1e-4)
        else:
            assert got[0] == expected[0], key
            np.testing.assert_allclose(got[1], expected[1], atol=1e-4)


def test_a_row_fold_in_and_the_item_codes_are_the_network_on_its_device(split):
    user_based = fit(split.train, "autorec", solver="torch", epochs=1, factors=16,
                     orientation="user", verbose=False)
    row = np.zeros((1, split.train.n_items), dtype=np.float32)
    row[0, [0, 3, 7]] = [5.0, 2.0, 4.0]
    with torch.no_grad():
        direct = user_based.module.eval()(torch.from_numpy(row)).numpy()
    np.testing.assert_array_equal(user_based.predictor.forward_rows(row), direct)

    item_based = fit(split.train, "autorec", solver="torch", epochs=1, factors=16,
                     verbose=False)
    rows = torch.from_numpy(item_based.reference_train.to_csr(by="item").toarray())
    with torch.no_grad():
        codes = torch.sigmoid(item_based.module.encoder(rows))
    np.testing.assert_allclose(item_based.predictor.item_codes().cpu(), codes, atol=1e-6)


# -- fit, predict, save and load on each device --------------------------------------------


def held_out_pairs(split, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw ids of the first ``n`` test pairs."""
    test = split.test
    return test.user_ids.to_raw(test.users[:n]), test.item_ids.to_raw(test.items[:n])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("model", sorted(MODELS))
def test_fit_predict_and_bundle_round_trip_on_each_device(split, tmp_path, model, device):
    trained = fit(split.train, model, solver="torch", test=split.test, epochs=2,
                  device=device, verbose=False, **MODELS[model])
    assert trained.train_config["device"] == ("cuda:0" if device == "cuda" else "cpu")
    assert next(trained.module.parameters()).device.type == "cpu"
    assert trained.predictor.device.type == device
    assert np.isfinite(trained.metrics["test_rmse"]) and trained.metrics["test_rmse"] < 1.6
    users, items = held_out_pairs(split, 50)
    before = trained.predict(users, items).ratings

    loaded = embrec.load(trained.save(tmp_path / model), device=device)
    assert loaded.predictor.device.type == device
    np.testing.assert_allclose(loaded.predict(users, items).ratings, before, atol=1e-5)
    top = embrec.recommend(loaded, users[0], n=5)
    assert len(top) == 5


def test_a_bundle_records_its_training_device_but_loads_and_predicts_on_the_cpu(
    split, tmp_path
):
    device = "cuda" if CUDA else "cpu"
    trained = fit(split.train, "embnet", test=split.test, epochs=1, device=device,
                  verbose=False, **MODELS["embnet"])
    path = trained.save(tmp_path / "bundle")
    recorded = json.loads((path / "bundle.json").read_text())["train_config"]["device"]
    assert recorded == ("cuda:0" if CUDA else "cpu")
    loaded = embrec.load(path)  # the default: the CPU, wherever it was trained
    assert loaded.train_config["device"] == recorded
    assert {p.device.type for p in loaded.module.parameters()} == {"cpu"}
    assert loaded.predictor.device.type == "cpu"
    users, items = held_out_pairs(split, 20)
    np.testing.assert_allclose(loaded.predict(users, items).ratings,
                               trained.predict(users, items).ratings, atol=1e-5)


# -- no per-batch wait for the device ---------------------------------------------------------


READS = ("item", "cpu", "numpy", "tolist", "__float__", "__int__", "__bool__")


@contextmanager
def counting_reads() -> Iterator[dict[str, int]]:
    """Counts the tensor reads made by embrec's own code (each one waits for the device).

    torch's optimisers read their step counters, which live on the CPU; those are not
    embrec's and are not counted.
    """
    counts = dict.fromkeys(READS, 0)
    originals = {name: getattr(torch.Tensor, name) for name in READS}

    def counted(name):
        original = originals[name]

        def read(self, *args, **kwargs):
            if sys._getframe(1).f_code.co_filename.startswith(SOURCE):
                counts[name] += 1
            return original(self, *args, **kwargs)

        return read

    for name in READS:
        setattr(torch.Tensor, name, counted(name))
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


def one_epoch_reads(train, model: str, batch_size: int, device: str) -> tuple[int, int]:
    """``(reads of the device, batches)`` in one epoch of the torch solver."""
    spec = get_spec(model)
    hyper = {**MODELS[model], "epochs": 1, "batch_size": batch_size, "device": device}
    model_config, config = split_hyperparameters(spec, hyper, "torch")
    solver = TorchSolver(Problem(spec, model_config, config, train, Fallback.fit(train)))
    with counting_reads() as counts:
        step = solver.run_epoch(0)
    assert np.isfinite(step.train_loss)
    return sum(counts.values()), len(solver.steps.batches)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("model", sorted(MODELS))
def test_an_epoch_reads_the_device_a_fixed_number_of_times_whatever_its_batches(
    ratings, model, device
):
    few, many = (40, 4) if model == "autorec" else (1024, 64)  # autorec: 80 item rows
    reads_few, batches_few = one_epoch_reads(ratings, model, few, device)
    reads_many, batches_many = one_epoch_reads(ratings, model, many, device)
    assert batches_many >= 5 * batches_few and batches_many >= 20
    # Once per epoch: the loss, and a row model's rating count and batch sizes.
    assert reads_many == reads_few <= 3
