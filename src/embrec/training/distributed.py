"""Data-parallel training over several processes: torch.distributed and DDP.

    torchrun --nproc_per_node 2 --master_addr 127.0.0.1 --master_port 29500 \\
        -m embrec train --dataset ml-1m --model mf-bias --out runs/m --distributed

Every process (rank ``r`` of ``W``) holds the whole model and the whole training
set, and trains on its shard of each epoch's permutation: the elements
``r, r + W, r + 2W, ...`` (:class:`~embrec.training.batches.PairBatches`).
:class:`~torch.nn.parallel.DistributedDataParallel` averages the gradients, so
all ranks take the same optimiser step and keep identical weights. The
row-sparse gradients of ``sparse=True`` embedding tables are averaged by
:mod:`embrec.training.sparse_sync` instead (all-gathers of each rank's lookups),
after the backward pass and before the step; DDP reduces the dense rest.

Batch size: ``batch_size`` stays the *effective* batch, the one a single process
would use. Each rank takes ``b_r = batch_size / W`` examples per step, and the
ranks' step ``k`` batches together are exactly the single-process batch ``k``::

    batch_k = perm[k·B : (k+1)·B],  rank r's part = { perm[j] : j ∈ batch_k, j ≡ r (mod W) }

For pair models the averaged gradient is then the single-process gradient of
that batch, ``(1/W) Σ_r ∇ (1/b_r) Σ_{j ∈ part_r} ℓ_j = ∇ (1/B) Σ_{j ∈ batch_k} ℓ_j``,
and the steps, schedule and result match a single process up to floating-point
summation order. Row models (autoencoders) average per-rank masked means, a
slightly different weighting of the observed entries.

Rank 0 evaluates, prints, checkpoints and saves the bundle; the others wait at
a barrier. A checkpoint holds every rank's random generator state so that
``--resume`` continues each rank's dropout stream exactly.

Devices and backends (:func:`rank_device`, :func:`process_group_backend`): on
the CPU every rank trains on the CPU and the process group is ``gloo``. On GPUs
each process trains on its own, ``cuda:LOCAL_RANK``, and the process group is
``cpu:gloo,cuda:nccl``: NCCL all-reduces the gradients on the GPUs, gloo carries
the small per-epoch exchanges of CPU tensors (the loss, the random generator
states, the stopping decision). NCCL has no sparse all-reduce, so on GPUs the
row-sparse gradients of ``sparse=True`` embedding tables (``optimizer=
"sparse-adam"``) are reduced by gloo, which reduces CUDA sparse tensors through
the host: the group is then ``gloo`` for every tensor. See docs/distributed.md.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from embrec.data.ratings import Ratings
from embrec.device import check_device_name, resolve_device
from embrec.errors import ConfigError
from embrec.models.registry import ModelConfig, ModelSpec
from embrec.predictor import Fallback
from embrec.training.config import TrainConfig
from embrec.training.history import EpochRecord, EpochTable, History
from embrec.training.loop import Trainer
from embrec.training.optim import SPARSE_OPTIMIZERS
from embrec.training.solver import shape_of
from embrec.training.sparse_sync import RowSparseSync, gathered

T = TypeVar("T")

ENV_KEYS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
LAUNCH_HINT = (
    "launch with torchrun, e.g. torchrun --nproc_per_node 2 --master_addr 127.0.0.1 "
    "--master_port 29500 -m embrec train ... --distributed"
)
DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)


@dataclass(frozen=True)
class Distributed:
    """This process's place in a distributed run (after :func:`init_distributed`)."""

    rank: int
    world: int
    local_rank: int
    local_world: int
    backend: str = "gloo"
    device: str = "cpu"
    """Where this rank trains: ``cpu`` or ``cuda:LOCAL_RANK`` (:func:`rank_device`)."""

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        dist.barrier()

    def main_first(self, action: Callable[[], T]) -> T:
        """Run ``action`` on rank 0, then on the others (they read what rank 0 cached)."""
        if not self.is_main:
            self.barrier()
        result = action()
        if self.is_main:
            self.barrier()
        return result

    def fitter(self, solver: str) -> Callable[..., tuple[nn.Module, History, ModelConfig]]:
        """The solver function of ``fit`` for this run: the PyTorch loop under DDP."""
        if solver != "torch":
            raise ConfigError(
                f"solver {solver!r} cannot train distributed; only the torch solver can "
                "(drop --solver or --distributed)"
            )

        def fit_on_rank(*args: Any, **kwargs: Any) -> tuple[nn.Module, History, ModelConfig]:
            return fit_torch_distributed(self, *args, **kwargs)

        return fit_on_rank

    def finish(self) -> None:
        """Wait for every rank (rank 0 saving the bundle), then leave the process group."""
        self.barrier()
        dist.destroy_process_group()


def rank_device(device: str, local_rank: int, local_world: int, gpus: int) -> str:
    """Where a rank trains: ``cpu``, or ``cuda:LOCAL_RANK``, one GPU per process.

    ``auto`` is the GPUs when this machine has one for each of its ``local_world``
    processes, else the CPU (every rank on the same kind of device); ``cuda``
    asks for the GPUs and is a ConfigError when there are too few. ``cuda:N`` is
    refused: each rank's GPU is its local rank.
    """
    check_device_name(device)
    if device == "cpu" or (device == "auto" and gpus < max(1, local_world)):
        return "cpu"
    if device not in ("auto", "cuda"):
        raise ConfigError(
            f"--device {device} --distributed: each process trains on its own GPU, "
            "cuda:LOCAL_RANK; give --device cuda"
        )
    if gpus == 0:
        resolve_device("cuda")  # the one-line error saying what to install
    if gpus < local_world:
        raise ConfigError(
            f"--device cuda --distributed: {local_world} processes on this machine need a GPU "
            f"each, and torch sees {gpus}; use --nproc_per_node {gpus} or --device cpu"
        )
    return f"cuda:{local_rank}"


def process_group_backend(device: str, sparse_gradients: bool = False) -> str:
    """The torch.distributed backend for ranks training on ``device`` (module docstring).

    ``gloo`` on the CPU; ``cpu:gloo,cuda:nccl`` on GPUs, NCCL for the gradients
    and gloo for the CPU tensors the ranks exchange once an epoch; ``gloo`` on GPUs
    with row-sparse gradients, which NCCL cannot all-reduce.
    """
    if not device.startswith("cuda") or sparse_gradients:
        return "gloo"
    return "cpu:gloo,cuda:nccl"


def read_environment(
    env: Mapping[str, str] = os.environ, backend: str = "gloo"
) -> tuple[Distributed, str, int]:
    """This rank, the master's address and port, from the variables torchrun sets.

    RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT are required; LOCAL_RANK and
    LOCAL_WORLD_SIZE default to RANK and WORLD_SIZE (one machine).
    """
    absent = [key for key in ENV_KEYS if not env.get(key)]
    if absent:
        raise ConfigError(
            f"--distributed needs {', '.join(absent)} in the environment; {LAUNCH_HINT}"
        )
    try:
        rank, world, port = int(env["RANK"]), int(env["WORLD_SIZE"]), int(env["MASTER_PORT"])
        local_rank = int(env.get("LOCAL_RANK", rank))
        local_world = int(env.get("LOCAL_WORLD_SIZE", world))
    except ValueError as error:
        raise ConfigError(
            f"--distributed: a torchrun variable is not an integer ({error})"
        ) from None
    if not 0 <= rank < world:
        raise ConfigError(f"RANK {rank} is outside 0..WORLD_SIZE-1 (WORLD_SIZE is {world})")
    return Distributed(rank, world, local_rank, local_world, backend), env["MASTER_ADDR"], port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_interface() -> str | None:
    """The name of the loopback network interface (``lo`` on Linux, ``lo0`` on macOS)."""
    names = [name for _, name in socket.if_nameindex()]
    return next((name for name in names if name.startswith("lo")), None)


def _loopback_store(address: str, port: int, rank: int, world: int) -> dist.TCPStore:
    """A TCPStore whose server socket (on rank 0) is bound to the loopback address only.

    torch's own server binds every interface; binding the socket here and
    handing it over keeps a single-machine run off the network.
    """
    host = "127.0.0.1" if address == "localhost" else address
    if rank != 0:
        return dist.TCPStore(host, port, world, False, DEFAULT_TIMEOUT)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind((host, port))
    except OSError as error:
        server.close()
        raise ConfigError(
            f"cannot listen on MASTER_ADDR:MASTER_PORT {host}:{port} ({error.strerror}); "
            "pick a free port"
        ) from None
    server.listen(128)
    return dist.TCPStore(
        host, port, world, True, DEFAULT_TIMEOUT, master_listen_fd=server.detach()
    )


def init_distributed(
    device: str = "auto", optimizer: str | None = None, env: Mapping[str, str] = os.environ
) -> Distributed:
    """Join the process group described by torchrun's environment variables.

    ``device`` is the training device asked for (``--device``); the rank's own
    (:func:`rank_device`) and the backend (:func:`process_group_backend`) follow
    from it and from whether ``optimizer`` keeps embedding tables row-sparse.

    Under torchrun the ranks meet at the launcher's store. Launched by other
    means with ``MASTER_ADDR`` a loopback address, rank 0 hosts the store on that
    address alone, and gloo is pinned to the loopback interface
    (``GLOO_SOCKET_IFNAME``, unless set) whenever the master is local.
    """
    context, address, port = read_environment(env)
    trains_on = rank_device(device, context.local_rank, context.local_world,
                            torch.cuda.device_count() if torch.cuda.is_available() else 0)
    backend = process_group_backend(trains_on, optimizer in SPARSE_OPTIMIZERS)
    context = dataclasses.replace(context, backend=backend, device=trains_on)
    options: dict[str, Any] = {}
    if trains_on != "cpu":
        torch.cuda.set_device(context.local_rank)
        options["device_id"] = torch.device(trains_on)
    rank, world = context.rank, context.world
    local = is_loopback(address)
    interface = loopback_interface() if local else None
    if interface and "GLOO_SOCKET_IFNAME" not in os.environ:
        os.environ["GLOO_SOCKET_IFNAME"] = interface
    if not dist.is_initialized():
        if local and env.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
            store = _loopback_store(address, port, rank, world)
            dist.init_process_group(
                backend, store=store, rank=rank, world_size=world, timeout=DEFAULT_TIMEOUT,
                **options,
            )
        else:
            dist.init_process_group(
                backend, init_method="env://", rank=rank, world_size=world,
                timeout=DEFAULT_TIMEOUT, **options,
            )
    return context


def per_rank_batch(batch_size: int, world: int) -> int:
    """``batch_size / world``: each rank's share of the effective batch."""
    if batch_size % world:
        lower = max(world, batch_size - batch_size % world)
        raise ConfigError(
            f"batch_size {batch_size} does not split evenly over {world} processes; "
            f"use a multiple of {world}, e.g. {lower} or {lower + world}"
        )
    return batch_size // world


class DistributedTrainer(Trainer):
    """The training loop of one rank: DDP-wrapped network, shard batches, rank-0 decisions."""

    def __init__(
        self,
        module: nn.Module,
        config: TrainConfig,
        train: Ratings,
        fallback: Fallback,
        *,
        context: Distributed,
        **options: Any,
    ) -> None:
        shard_config = config.model_copy(
            update={"batch_size": per_rank_batch(config.batch_size, context.world)}
        )
        device = torch.device(context.device)
        module = module.to(device)  # DDP wraps a module already on its rank's device
        sparse_sync = RowSparseSync(module, context.world)
        sparse_sync.broadcast()
        ignored = sparse_sync.ignored_names()
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(module, ignored)
        dense = any(p.requires_grad for name, p in module.named_parameters() if name not in ignored)
        wrapped = DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None
        ) if dense else module  # DDP refuses a module with nothing for it to reduce
        super().__init__(
            module, shard_config, train, fallback,
            rank=context.rank, world=context.world, wrapped=wrapped, **options,
        )
        if sparse_sync.tables:
            self.solver.steps.after_backward = sparse_sync
        self.config = config
        self.context = context
        self._rank_rng: torch.Tensor | None = None
        self._rank_cuda_rng: torch.Tensor | None = None

    def _run_epoch(self, epoch: int) -> EpochRecord:
        record = super()._run_epoch(epoch)
        loss = torch.tensor([record.train_loss], dtype=torch.float64)
        dist.all_reduce(loss)
        record.train_loss = float(loss.item()) / self.context.world
        record.ratings_per_second *= self.context.world
        world = self.context.world
        self._rank_rng = torch.stack(gathered(torch.get_rng_state(), world))
        if self.solver.device.type == "cuda":  # dropout on a GPU draws from its own generator
            cuda_state = torch.cuda.get_rng_state(self.solver.device)
            self._rank_cuda_rng = torch.stack(gathered(cuda_state, world))
        return record

    def _should_stop(self, record: EpochRecord) -> bool:
        decision = torch.tensor([int(super()._should_stop(record))])
        dist.broadcast(decision, src=0)
        return bool(decision.item())

    def _checkpoint_state(self, epoch: int) -> dict[str, Any]:
        state = super()._checkpoint_state(epoch)
        state["rank_rng"] = self._rank_rng
        if self._rank_cuda_rng is not None:
            state["rank_cuda_rng"] = self._rank_cuda_rng
        state["world"] = self.context.world
        return state

    def restore(self, state: dict[str, Any]) -> None:
        super().restore(state)
        rank_rng = state.get("rank_rng")
        if rank_rng is not None and int(state.get("world", 0)) == self.context.world:
            torch.set_rng_state(rank_rng[self.context.rank].clone())
            rank_cuda_rng = state.get("rank_cuda_rng")
            if rank_cuda_rng is not None and self.solver.device.type == "cuda":
                torch.cuda.set_rng_state(rank_cuda_rng[self.context.rank].clone(),
                                         self.solver.device)
        elif self.context.rank:
            torch.manual_seed(rank_seed(self.config.seed, self.context.rank) + self._start_epoch)


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s dropout stream (rank 0 keeps ``seed``)."""
    return seed + 104_729 * rank


def fit_torch_distributed(
    context: Distributed,
    spec: ModelSpec,
    model_config: ModelConfig,
    config: TrainConfig,
    train: Ratings,
    fallback: Fallback,
    *,
    valid: Ratings | None,
    monitor: Ratings | None,
    verbose: bool,
    checkpoint_dir: Path | None,
    resume: bool,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> tuple[nn.Module, History, ModelConfig]:
    """The PyTorch solver on one rank; ``fit(..., distributed=context)`` calls it."""
    config = config.model_copy(update={"device": context.device})  # cpu or cuda:LOCAL_RANK
    sparse = config.optimizer in SPARSE_OPTIMIZERS
    if sparse and "nccl" in context.backend:
        raise ConfigError(
            f"optimizer {config.optimizer} gives row-sparse gradients, which NCCL cannot "
            "all-reduce; pass it to init_distributed (embrec train --optimizer does) so the "
            "process group uses gloo"
        )
    if config.threads is None:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // context.local_world))
    module = spec.build(model_config, shape_of(train, fallback.global_mean), sparse)
    if context.rank:
        torch.manual_seed(rank_seed(config.seed, context.rank))
    trainer = DistributedTrainer(
        module, config, train, fallback, context=context,
        valid=valid if context.is_main else None,
        monitor=monitor if context.is_main else None,
        table=EpochTable(enabled=verbose and context.is_main),
        checkpoint_dir=checkpoint_dir,
        on_epoch=on_epoch,
    )
    if resume:
        trainer.resume()
    history = trainer.fit()
    module, _ = trainer.solver.finish()  # back on the CPU, as every bundle holds it
    return module, history, model_config
