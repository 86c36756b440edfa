"""Optimisers and learning-rate schedules, stepped together.

With ``optimizer="sparse-adam"``, ``"lazy-adam"`` or ``"row-adagrad"`` the
embedding tables produce row-sparse gradients and are updated by
``torch.optim.SparseAdam``, :class:`~embrec.training.row_sparse.LazyAdam` or
:class:`~embrec.training.row_sparse.RowWiseAdagrad` (only the rows a batch
touched move, so a step costs O(batch) whatever the table size), the dense
rest by AdamW. The schedule is the one of every solver
(:mod:`embrec.training.schedule`), set before each step: one-cycle warms up over
the first quarter of the steps from ``lr/25`` to ``lr`` and anneals (cosine) to
``lr/25/1e5`` while Adam's β1 moves 0.95 → 0.85 → 0.95.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from embrec.training.config import TrainConfig
from embrec.training.row_sparse import LazyAdam, RowWiseAdagrad
from embrec.training.schedule import WARM_UP, learning_rate, one_cycle_momentum

SPARSE_OPTIMIZERS = frozenset({"sparse-adam", "lazy-adam", "row-adagrad"})
"""Optimiser choices that build embedding tables with ``sparse=True``."""
CPU_OPTIMIZERS = frozenset({"lazy-adam", "row-adagrad"})
"""Optimiser choices whose row updates are compiled CPU kernels (numpy arrays)."""


class Optimizers:
    """One or more optimisers (with their schedulers) that step as one."""

    def __init__(self, optimizers: list[torch.optim.Optimizer], schedulers: list[Any]) -> None:
        self.optimizers = optimizers
        self.schedulers = schedulers

    def zero_grad(self) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()
        for scheduler in self.schedulers:
            scheduler.step()

    @property
    def lr(self) -> float:
        return float(self.optimizers[0].param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizers": [o.state_dict() for o in self.optimizers],
            "schedulers": [s.state_dict() for s in self.schedulers],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for optimizer, saved in zip(self.optimizers, state["optimizers"]):
            optimizer.load_state_dict(saved)
        for scheduler, saved in zip(self.schedulers, state["schedulers"]):
            scheduler.load_state_dict(saved)


def sparse_parameters(module: nn.Module) -> set[int]:
    """ids of the weights of embedding tables built with ``sparse=True``."""
    return {
        id(m.weight) for m in module.modules() if isinstance(m, nn.Embedding) and m.sparse
    }


def _dense_optimizer(params: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay
        )
    # On a GPU, Adam's update of every tensor is one fused kernel (the same arithmetic).
    fused = True if all(p.is_cuda for p in params) else None
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay,
                                fused=fused)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused)


def _sparse_optimizer(params: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "lazy-adam":
        return LazyAdam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "row-adagrad":
        return RowWiseAdagrad(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SparseAdam(params, lr=config.lr)


class StepSchedule:
    """Sets an optimiser's rate (and one-cycle's β1) before each step from :func:`learning_rate`.

    The one schedule of every solver (:mod:`embrec.training.schedule`), stepped
    after each optimiser step; its state is the step count.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, config: TrainConfig,
                 total_steps: int) -> None:
        self.optimizer = optimizer
        self.peak = config.lr
        self.total = max(1, total_steps)
        self.schedule = config.schedule
        if self.schedule == "one-cycle" and self.total < 8:
            # Too few steps for a warm-up phase: anneal from the peak instead.
            self.schedule = "cosine"
        has_momentum = "betas" in optimizer.defaults or "momentum" in optimizer.defaults
        self.cycle_momentum = self.schedule == "one-cycle" and has_momentum
        self.steps = 0
        self._apply()

    def _progress(self) -> tuple[float, float]:
        if self.schedule == "one-cycle":
            last = self.total - 1
            return self.steps / last, (WARM_UP * self.total - 1) / last
        return self.steps / self.total, WARM_UP

    def _apply(self) -> None:
        t, warm = self._progress()
        lr = learning_rate(self.schedule, self.peak, t, warm)
        momentum = one_cycle_momentum(t, warm) if self.cycle_momentum else None
        for group in self.optimizer.param_groups:
            group["lr"] = lr
            if momentum is None:
                continue
            if "betas" in group:
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum

    def step(self) -> None:
        self.steps += 1
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        self._apply()


def make_optimizers(module: nn.Module, config: TrainConfig, steps_per_epoch: int) -> Optimizers:
    """The optimisers and schedulers for ``config`` over ``epochs × steps_per_epoch`` steps."""
    sparse_ids = sparse_parameters(module)
    sparse = [p for p in module.parameters() if id(p) in sparse_ids]
    dense = [p for p in module.parameters() if id(p) not in sparse_ids]
    optimizers: list[torch.optim.Optimizer] = []
    if dense:
        optimizers.append(_dense_optimizer(dense, config))
    if sparse:
        optimizers.append(_sparse_optimizer(sparse, config))
    total = config.epochs * steps_per_epoch
    schedulers = [] if config.schedule == "constant" else [
        StepSchedule(o, config, total) for o in optimizers]
    return Optimizers(optimizers, schedulers)
