"""The ``torch`` solver: minibatch gradient steps on any network, on any torch device.

Pair models minimise the mean squared error of a batch of ratings, plus
``emb_l2 · Σ‖used embedding rows‖² / B``. Row models minimise the masked mean
squared error over the observed entries of a batch of rows, plus their own L2
term scaled by ``1 / N_observed`` (so the per-batch objective is the model's
full objective divided by the number of ratings).

The network and the training tensors are moved to ``config.device`` once
(:mod:`embrec.training.batches`: permutations, batches and autoencoder rows are
made there). An epoch's loss is summed on the device and read once at its end:
no batch waits for the device (no ``.item()`` per batch). A NaN or infinite loss
is found at the end of the epoch it happened in. The held-out sets are scored
on the device too; :meth:`TorchSolver.finish` hands the network back on the CPU.
Adam and AdamW use their fused kernels on a GPU. ``lazy-adam`` and
``row-adagrad`` update rows with compiled CPU kernels and are refused on a GPU.

Mixed precision (``precision="bf16"``): each batch's forward pass runs under
``torch.autocast(device_type, dtype=torch.bfloat16)``, so the network's linear
layers multiply in bfloat16; the loss is taken in float32 from the upcast
outputs, and the float32 master weights receive float32 gradients (bfloat16
has float32's exponent range, so no loss scaling is needed). Held-out scores
and predictions run in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from embrec.data.ratings import Ratings
from embrec.device import device_name, resolve_device
from embrec.errors import ConfigError, TrainingDiverged
from embrec.models.registry import ModelConfig
from embrec.predictor import Fallback, Predictor
from embrec.training.batches import PairBatches, RowBatches
from embrec.training.config import TRAIN_KEYS, TrainConfig
from embrec.training.optim import CPU_OPTIMIZERS, SPARSE_OPTIMIZERS, make_optimizers
from embrec.training.scores import Evaluation, score_predictions
from embrec.training.solver import EpochStep, Problem, Solver


def evaluate(predictor: Predictor, ratings: Ratings) -> Evaluation:
    """A predictor's held-out loss, RMSE and MAE (see :mod:`embrec.training.scores`)."""
    raw, _ = predictor.predict(ratings.users, ratings.items, clip=False)
    return score_predictions(raw, ratings.values, predictor.scale)


class TorchSteps:
    """The network, its batches and its optimisers; one gradient step at a time."""

    def __init__(
        self,
        module: nn.Module,
        config: TrainConfig,
        train: Ratings,
        fallback: Fallback,
        *,
        rank: int = 0,
        world: int = 1,
        wrapped: nn.Module | None = None,
        device: torch.device | None = None,
    ) -> None:
        self.device = device or torch.device("cpu")
        if self.device.type != "cpu" and config.optimizer in CPU_OPTIMIZERS:
            raise ConfigError(
                f"--device {device_name(self.device)}: the {config.optimizer} optimizer updates "
                "its rows with compiled CPU kernels; use --optimizer sparse-adam or adamw on a GPU"
            )
        self.module = module.to(self.device)
        self.network = wrapped or self.module
        self.config = config
        self.train = train
        self.fallback = fallback
        if module.view == "pairs":
            self.batches: Any = PairBatches(train, config.batch_size, config.seed, rank, world,
                                            device=self.device)
        else:
            self.batches = RowBatches(train, module.orientation, config.batch_size,
                                      config.seed, rank, world, device=self.device)
        self.optimizers = make_optimizers(self.module, config, len(self.batches))
        self.after_backward: Callable[[], None] | None = None
        """Run between the backward pass and the step (a distributed run averages its
        row-sparse gradients there: :mod:`embrec.training.sparse_sync`)."""

    def forward_precision(self) -> torch.autocast:
        """The forward pass's precision: bfloat16 autocast with ``precision="bf16"``, else off.

        Only the forward pass and the loss run under it; the backward pass follows
        the forward's dtypes, and the weights it updates stay float32.
        """
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16,
                              enabled=self.config.precision == "bf16")

    def _pair_step(self, users: torch.Tensor, items: torch.Tensor, values: torch.Tensor):
        with self.forward_precision():
            predictions = self.network(users, items)
            loss = torch.nn.functional.mse_loss(predictions.float(), values)
        objective = loss
        if self.config.emb_l2:
            objective = loss + self.config.emb_l2 * self.module.penalty(users, items) / len(values)
        return loss, objective, len(values)

    def _row_step(self, rows: torch.Tensor, mask: torch.Tensor):
        with self.forward_precision():
            reconstruction = self.network(rows)
        observed = mask.sum().clamp(min=1.0)
        loss = (((reconstruction.float() - rows) * mask) ** 2).sum() / observed
        objective = loss + self.module.penalty() / self.batches.n_observed
        return loss, objective, observed

    def step_on_device(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, Any]:
        """One optimiser step; ``(loss × count, count)`` left on the device, unread."""
        loss, objective, count = (
            self._pair_step(*batch) if self.module.view == "pairs" else self._row_step(*batch)
        )
        self.optimizers.zero_grad()
        objective.backward()
        if self.after_backward is not None:
            self.after_backward()
        if self.config.grad_clip:
            nn.utils.clip_grad_norm_(self.module.parameters(), self.config.grad_clip)
        self.optimizers.step()
        return loss.detach().double() * count, count

    def _step(self, batch: tuple[torch.Tensor, ...], epoch: int) -> tuple[float, int]:
        """One step read back at once (for the learning-rate finder): ``(loss, count)``."""
        total, count = self.step_on_device(batch)
        count = int(count) if isinstance(count, int) else int(count.item())
        value = float(total) / max(1, count)
        if not np.isfinite(value):
            raise TrainingDiverged(
                f"the training loss became {value} in epoch {epoch + 1}; "
                f"lower the learning rate (it was {self.config.lr:g}, try {self.config.lr / 10:g})"
            )
        return value, count

    def predictor(self) -> Predictor:
        """Predictions of the network as it trains, computed on its device."""
        return Predictor(self.module, self.train, self.fallback, self.train.scale)


__all__ = ["TorchSolver", "TorchSteps", "evaluate", "resolve_device"]


class TorchSolver(Solver):
    """Every model's solver: :class:`TorchSteps` over ``config.epochs`` epochs."""

    name = "torch"
    uses = TRAIN_KEYS

    def __init__(self, problem: Problem, *, module: nn.Module | None = None, rank: int = 0,
                 world: int = 1, wrapped: nn.Module | None = None) -> None:
        super().__init__(problem)
        config = problem.config
        if module is None:
            sparse = config.optimizer in SPARSE_OPTIMIZERS
            module = problem.spec.build(problem.model_config, problem.shape, sparse)
        self.device = resolve_device(config.device)
        self.steps = TorchSteps(module, config, problem.train, problem.fallback, rank=rank,
                                world=world, wrapped=wrapped, device=self.device)

    @classmethod
    def for_module(cls, module: nn.Module, config: TrainConfig, train: Ratings,
                   fallback: Fallback, **options: Any) -> TorchSolver:
        return cls(Problem(None, None, config, train, fallback), module=module, **options)

    def run_epoch(self, epoch: int) -> EpochStep:
        steps = self.steps
        steps.module.train()
        total = torch.zeros((), dtype=torch.float64, device=steps.device)
        count: Any = 0
        for batch in self.track(steps.batches.epoch(epoch), len(steps.batches), epoch + 1):
            loss_sum, n = steps.step_on_device(batch)
            total += loss_sum
            count += n
        count = count if isinstance(count, int) else float(count)
        return EpochStep(float(total) / max(1, count), steps.optimizers.lr,
                         examples=steps.batches.n_examples)

    def scores(self) -> dict[str, Evaluation]:
        if not self.watched:
            return {}
        predictor = self.steps.predictor()
        return {name: evaluate(predictor, ratings) for name, ratings in self.watched.items()}

    def state(self) -> dict[str, Any]:
        state = {
            "model": {k: v.detach().cpu() for k, v in self.steps.module.state_dict().items()},
            "optimizers": self.steps.optimizers.state_dict(),
            "rng": torch.get_rng_state(),
        }
        if self.device.type == "cuda":  # dropout on a GPU draws from the GPU's generator
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        self.steps.module.load_state_dict(state["model"])
        self.steps.optimizers.load_state_dict(state["optimizers"])
        torch.set_rng_state(state["rng"])
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.steps.module.state_dict().items()}

    def restore(self, snapshot: dict[str, torch.Tensor]) -> None:
        self.steps.module.load_state_dict(snapshot)

    def finish(self) -> tuple[nn.Module, ModelConfig]:
        return self.steps.module.cpu(), self.problem.model_config
