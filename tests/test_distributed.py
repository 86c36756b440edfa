"""`embrec train --distributed`: ranks on loopback, same RMSE as one process, exact resume.

The ranks are started the way torchrun starts them (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR=127.0.0.1, MASTER_PORT) so that rank 0 hosts the rendezvous store on
the loopback address alone; torchrun's own store listens on every interface, so
the test through the real ``torchrun`` runs only with EMBREC_TEST_TORCHRUN=1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from embrec.bundle import load
from embrec.cli import main
from embrec.cli.train import checkpoint_dir_for
from embrec.errors import ConfigError
from embrec.training.checkpoint import load_checkpoint
from embrec.training.distributed import (
    _loopback_store,
    per_rank_batch,
    process_group_backend,
    rank_device,
    read_environment,
)

EMBREC = [sys.executable, "-m", "embrec"]
WORLD = 2


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_ranks(args: list[str], world: int = WORLD) -> list[subprocess.Popen]:
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("TORCHELASTIC")}
    processes = []
    for rank in range(world):
        env = {
            **base, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
            "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
        }
        processes.append(subprocess.Popen(
            EMBREC + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    return processes


def finish(processes: list[subprocess.Popen], timeout: float = 240) -> list[tuple[int, str, str]]:
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise
        results.append((process.returncode, out, err))
    return results


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def train_args(data_dir: Path, out: Path, model: str, *extra: str) -> list[str]:
    return ["train", "--dataset", "ml-100k", "--data-dir", str(data_dir), "--split", "u1",
            "--model", model, "--solver", "torch", "--out", str(out), "--json", *extra]


# -- fast checks ---------------------------------------------------------------------


def test_distributed_without_torchrun_variables_names_them_and_how_to_launch():
    with pytest.raises(ConfigError, match="RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT.*torchrun"):
        read_environment({})


def test_the_effective_batch_must_split_evenly_over_the_ranks():
    assert per_rank_batch(1024, 2) == 512
    with pytest.raises(ConfigError, match="1000 does not split evenly over 3.*999 or 1002"):
        per_rank_batch(1000, 3)


@pytest.mark.parametrize("device, local_rank, local_world, gpus, expected", [
    ("cpu", 1, 2, 4, "cpu"),
    ("auto", 1, 2, 0, "cpu"),         # no GPU: the CPU
    ("auto", 1, 2, 1, "cpu"),         # fewer GPUs than processes: every rank on the CPU
    ("auto", 1, 2, 2, "cuda:1"),      # a GPU per process: its local rank's
    ("cuda", 0, 2, 2, "cuda:0"),
    ("cuda", 3, 4, 8, "cuda:3"),
])
def test_each_rank_trains_on_the_cpu_or_on_the_gpu_of_its_local_rank(
    device, local_rank, local_world, gpus, expected
):
    assert rank_device(device, local_rank, local_world, gpus) == expected


@pytest.mark.parametrize("device, gpus, says", [
    ("cuda", 1, "2 processes on this machine need a GPU each, and torch sees 1"),
    ("cuda:1", 2, "each process trains on its own GPU, cuda:LOCAL_RANK; give --device cuda"),
    ("gpu", 2, "device must be auto, cpu, cuda or cuda:N"),
])
def test_a_device_the_ranks_cannot_share_out_is_one_line_saying_what_to_give(device, gpus, says):
    with pytest.raises(ConfigError) as error:
        rank_device(device, 0, 2, gpus)
    assert says in str(error.value) and "\n" not in str(error.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_ranks_without_a_gpu_say_what_to_install():
    with pytest.raises(ConfigError, match="no CUDA GPU is visible to torch.*CUDA build of torch"):
        rank_device("cuda", 0, 2, 0)


@pytest.mark.parametrize("device, sparse, backend", [
    ("cpu", False, "gloo"),
    ("cpu", True, "gloo"),
    ("cuda:0", False, "cpu:gloo,cuda:nccl"),  # NCCL for the gradients, gloo for CPU tensors
    ("cuda:1", True, "gloo"),                 # NCCL has no sparse all-reduce
])
def test_the_backend_is_gloo_on_the_cpu_and_nccl_for_dense_gradients_on_gpus(
    device, sparse, backend
):
    assert process_group_backend(device, sparse) == backend


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux /proc/net/tcp")
def test_the_rendezvous_store_listens_on_loopback_only():
    port = free_port()
    store = _loopback_store("127.0.0.1", port, rank=0, world=1)
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                listening.append(address)
    del store
    assert listening == ["0100007F"]


# -- training under DDP --------------------------------------------------------------


def test_two_ranks_train_mf_bias_to_the_single_process_rmse(data_dir, tmp_path, capsys):
    assert main(train_args(
        data_dir, tmp_path / "single", "mf-bias", "--epochs", "3", "--threads", "1"
    )) == 0
    single = last_json(capsys.readouterr().out)

    out = tmp_path / "ddp"
    results = finish(start_ranks(
        train_args(data_dir, out, "mf-bias", "--epochs", "3", "--distributed")
    ))
    assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
    summary = last_json(results[0][1])
    assert results[1][1] == "", "only rank 0 prints"
    assert summary["epochs"] == 3
    assert summary["valid_rmse"] == pytest.approx(single["valid_rmse"], abs=0.01)
    bundle = load(out)
    assert bundle.metrics["test_rmse"] == pytest.approx(summary["valid_rmse"])
    assert bundle.provenance["processes"] == WORLD
    assert not checkpoint_dir_for(out).exists()


@pytest.mark.slow
def test_killing_both_ranks_and_resuming_finishes_like_an_uninterrupted_run(data_dir, tmp_path):
    options = ("--epochs", "3", "--batch-size", "1024", "--distributed")
    straight = finish(start_ranks(train_args(data_dir, tmp_path / "straight", "embnet", *options)))
    assert [code for code, _, _ in straight] == [0, 0], straight[0][2]
    expected = last_json(straight[0][1])

    out = tmp_path / "killed"
    state = checkpoint_dir_for(out) / "state.json"
    ranks = start_ranks(train_args(data_dir, out, "embnet", *options))
    deadline = time.monotonic() + 180
    while not state.exists() and time.monotonic() < deadline:
        assert all(rank.poll() is None for rank in ranks), "training ended before the kill"
        time.sleep(0.02)
    for rank in ranks:
        rank.send_signal(signal.SIGKILL)
    finish(ranks)
    saved = load_checkpoint(checkpoint_dir_for(out))
    assert saved["epoch"] < 2 and saved["rank_rng"].shape[0] == WORLD
    assert not out.exists()

    resumed = finish(start_ranks(train_args(data_dir, out, "embnet", *options, "--resume")))
    assert [code for code, _, _ in resumed] == [0, 0], resumed[0][2]
    summary = last_json(resumed[0][1])
    assert summary["epochs"] == 3
    assert summary["valid_rmse"] == pytest.approx(expected["valid_rmse"], abs=1e-9)


@pytest.mark.slow
def test_a_row_model_trains_under_ddp_close_to_one_process(data_dir, tmp_path, capsys):
    # Little dropout: each rank draws its own masks, and after two epochs heavy
    # dropout noise alone would separate the runs by more than the tolerance.
    light = ["-p", "dropout=0.1", "-p", "input_dropout=0"]
    assert main(train_args(
        data_dir, tmp_path / "single", "deep-ae", "--epochs", "2", "--threads", "1", *light
    )) == 0
    single = last_json(capsys.readouterr().out)
    results = finish(start_ranks(train_args(
        data_dir, tmp_path / "ddp", "deep-ae", "--epochs", "2", "--distributed", *light
    )))
    assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
    assert last_json(results[0][1])["valid_rmse"] == pytest.approx(single["valid_rmse"], abs=0.01)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mf-bias", "embnet"])  # tables alone; tables beside an MLP
def test_row_sparse_gradients_are_reduced_across_ranks(data_dir, tmp_path, capsys, model):
    options = ("--epochs", "2", "--optimizer", "lazy-adam")
    single_args = train_args(data_dir, tmp_path / "single", model, *options, "--threads", "1")
    assert main(single_args) == 0
    single = last_json(capsys.readouterr().out)
    results = finish(start_ranks(
        train_args(data_dir, tmp_path / "ddp", model, *options, "--distributed")
    ))
    assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
    assert last_json(results[0][1])["valid_rmse"] == pytest.approx(single["valid_rmse"], abs=0.01)


@pytest.mark.skipif(
    os.environ.get("EMBREC_TEST_TORCHRUN") != "1" or shutil.which("torchrun") is None
    and not (Path(sys.executable).parent / "torchrun").exists(),
    reason="torchrun's store listens on every interface; set EMBREC_TEST_TORCHRUN=1 to run",
)
def test_torchrun_launches_the_distributed_training(data_dir, tmp_path):
    torchrun = str(Path(sys.executable).parent / "torchrun")
    command = [torchrun, "--nproc_per_node", str(WORLD), "--master_addr", "127.0.0.1",
               "--master_port", str(free_port()), "-m", "embrec",
               *train_args(data_dir, tmp_path / "m", "mf-bias", "--epochs", "2", "--distributed")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert load(tmp_path / "m").metrics["test_rmse"] < 1.0
