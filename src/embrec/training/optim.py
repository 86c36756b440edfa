"""Optimisers and learning-rate schedules, stepped together.

With ``optimizer="sparse-adam"``, ``"lazy-adam"`` or ``"row-adagrad"`` the
embedding tables produce row-sparse gradients and are updated by
``torch.optim.SparseAdam``, :class:`~embrec.training.row_sparse.LazyAdam` or
:class:`~embrec.training.row_sparse.RowWiseAdagrad` (only the rows a batch
touched move, so a step costs O(batch) whatever the table size), the dense
rest by AdamW. Schedules follow fastai's
``fit_one_cycle``: the rate warms up over the first quarter of the steps from
``lr/25`` to ``lr`` and anneals (cosine) to ``lr/1e5`` while Adam's β1 moves
0.95 → 0.85 → 0.95.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from embrec.training.config import TrainConfig
from embrec.training.row_sparse import LazyAdam, RowWiseAdagrad

SPARSE_OPTIMIZERS = frozenset({"sparse-adam", "lazy-adam", "row-adagrad"})
"""Optimiser choices that build embedding tables with ``sparse=True``."""


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
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _sparse_optimizer(params: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "lazy-adam":
        return LazyAdam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "row-adagrad":
        return RowWiseAdagrad(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SparseAdam(params, lr=config.lr)


def _schedule(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int) -> Any:
    if config.schedule == "one-cycle" and total_steps < 8:
        # Too few steps for a warm-up phase (OneCycleLR divides by its length):
        # anneal from the peak instead.
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    if config.schedule == "one-cycle":
        has_momentum = "betas" in optimizer.defaults or "momentum" in optimizer.defaults
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.lr,
            total_steps=max(1, total_steps),
            pct_start=0.25,
            div_factor=25.0,
            final_div_factor=1e5,
            base_momentum=0.85,
            max_momentum=0.95,
            cycle_momentum=has_momentum,
        )
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    return None


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
    schedulers = [s for s in (_schedule(o, config, total) for o in optimizers) if s is not None]
    return Optimizers(optimizers, schedulers)
