"""The training loop shared by every network.

Pair models minimise the mean squared error of a batch of ratings, plus
``emb_l2 · Σ‖used embedding rows‖² / B``. Row models minimise the masked mean
squared error over the observed entries of a batch of rows, plus their own L2
term scaled by ``1 / N_observed`` (so the per-batch objective is the model's
full objective divided by the number of ratings).

Each epoch reports train loss, validation loss and RMSE, seconds and ratings per
second. A ``monitor`` set (carved from the training data, never the test set)
drives early stopping and the restoring of the best weights. A NaN or infinite
loss stops with a :class:`~embrec.errors.TrainingDiverged` naming the epoch;
Ctrl-C ends training cleanly with the best weights so far.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from embrec.data.ratings import Ratings
from embrec.errors import TrainingDiverged
from embrec.predictor import Fallback, Predictor
from embrec.training.batches import PairBatches, RowBatches
from embrec.training.checkpoint import load_checkpoint, save_checkpoint
from embrec.training.config import TrainConfig
from embrec.training.history import EpochRecord, EpochTable, History
from embrec.training.optim import make_optimizers


@dataclass
class Evaluation:
    loss: float
    rmse: float
    mae: float


def evaluate(predictor: Predictor, ratings: Ratings) -> Evaluation:
    """MSE of the raw predictions, RMSE and MAE of the predictions clipped to the scale."""
    raw, _ = predictor.predict(ratings.users, ratings.items, clip=False)
    error = raw.astype(np.float64) - ratings.values
    clipped = predictor.scale.clip(raw).astype(np.float64) - ratings.values
    return Evaluation(
        loss=float(np.mean(error**2)),
        rmse=float(np.sqrt(np.mean(clipped**2))),
        mae=float(np.mean(np.abs(clipped))),
    )


class Trainer:
    """Fits one network on one training set; see the module docstring for the objective."""

    def __init__(
        self,
        module: nn.Module,
        config: TrainConfig,
        train: Ratings,
        fallback: Fallback,
        *,
        valid: Ratings | None = None,
        monitor: Ratings | None = None,
        table: EpochTable | None = None,
        checkpoint_dir: Path | None = None,
        rank: int = 0,
        world: int = 1,
        wrapped: nn.Module | None = None,
        on_epoch: Callable[[EpochRecord], None] | None = None,
    ) -> None:
        self.module = module
        self.network = wrapped or module
        self.config = config
        self.train = train
        self.fallback = fallback
        self.valid = valid
        self.monitor = monitor
        self.table = table or EpochTable(enabled=False)
        self.checkpoint_dir = checkpoint_dir
        self.rank, self.world = rank, world
        self.on_epoch = on_epoch
        if module.view == "pairs":
            self.batches: Any = PairBatches(train, config.batch_size, config.seed, rank, world)
        else:
            self.batches = RowBatches(
                train, module.orientation, config.batch_size, config.seed, rank, world
            )
        self.optimizers = make_optimizers(module, config, len(self.batches))
        self.history = History()
        self._best_state: dict[str, torch.Tensor] | None = None
        self._best_rmse = math.inf
        self._start_epoch = 0

    # -- one step -------------------------------------------------------------------

    def _pair_step(self, users: torch.Tensor, items: torch.Tensor, values: torch.Tensor):
        predictions = self.network(users, items)
        loss = torch.nn.functional.mse_loss(predictions, values)
        objective = loss
        if self.config.emb_l2:
            objective = loss + self.config.emb_l2 * self.module.penalty(users, items) / len(values)
        return loss, objective, len(values)

    def _row_step(self, rows: torch.Tensor, mask: torch.Tensor):
        reconstruction = self.network(rows)
        observed = mask.sum().clamp(min=1.0)
        loss = (((reconstruction - rows) * mask) ** 2).sum() / observed
        objective = loss + self.module.penalty() / self.batches.n_observed
        return loss, objective, int(observed.item())

    def _step(self, batch: tuple[torch.Tensor, ...], epoch: int) -> tuple[float, int]:
        loss, objective, count = (
            self._pair_step(*batch) if self.module.view == "pairs" else self._row_step(*batch)
        )
        value = float(loss.detach())
        if not math.isfinite(value) or not math.isfinite(float(objective.detach())):
            raise TrainingDiverged(
                f"the training loss became {value} in epoch {epoch + 1}; "
                f"lower the learning rate (it was {self.config.lr:g}, try {self.config.lr / 10:g})"
            )
        self.optimizers.zero_grad()
        objective.backward()
        if self.config.grad_clip:
            nn.utils.clip_grad_norm_(self.module.parameters(), self.config.grad_clip)
        self.optimizers.step()
        return value, count

    # -- epochs ---------------------------------------------------------------------

    def predictor(self) -> Predictor:
        return Predictor(self.module, self.train, self.fallback, self.train.scale)

    def _run_epoch(self, epoch: int) -> EpochRecord:
        self.module.train()
        started = time.perf_counter()
        total, count = 0.0, 0
        batches = self.table.track(self.batches.epoch(epoch), len(self.batches), epoch + 1)
        for batch in batches:
            loss, n = self._step(batch, epoch)
            total += loss * n
            count += n
        seconds = time.perf_counter() - started
        valid = monitor = None
        if self.rank == 0:
            predictor = self.predictor()
            valid = evaluate(predictor, self.valid) if self.valid is not None else None
            monitor = evaluate(predictor, self.monitor) if self.monitor is not None else None
        return EpochRecord(
            epoch=epoch + 1,
            train_loss=total / max(1, count),
            valid_loss=None if valid is None else valid.loss,
            valid_rmse=None if valid is None else valid.rmse,
            monitor_rmse=None if monitor is None else monitor.rmse,
            seconds=seconds,
            ratings_per_second=self.batches.n_examples / max(seconds, 1e-9),
            lr=self.optimizers.lr,
        )

    def _track_best(self, record: EpochRecord) -> bool:
        """Remember the weights of the best monitored epoch; True if this one is the best."""
        if record.monitor_rmse is None or record.monitor_rmse >= self._best_rmse:
            return False
        self._best_rmse = record.monitor_rmse
        self._best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
        self.history.best_epoch = record.epoch
        return True

    def _should_stop(self, record: EpochRecord) -> bool:
        patience = self.config.patience
        if patience is None or self.history.best_epoch is None:
            return False
        return record.epoch - self.history.best_epoch >= patience

    # -- checkpoints ----------------------------------------------------------------

    def _checkpoint_state(self, epoch: int) -> dict[str, Any]:
        return {
            "epoch": epoch,
            "model": self.module.state_dict(),
            "optimizers": self.optimizers.state_dict(),
            "rng": torch.get_rng_state(),
            "history": self.history.to_json(),
            "best_rmse": self._best_rmse,
            "best_state": self._best_state,
            "config": self.config.model_dump(),
        }

    def resume(self) -> bool:
        """Load the last checkpoint if there is one; True when training will continue from it."""
        if self.checkpoint_dir is None:
            return False
        state = load_checkpoint(self.checkpoint_dir)
        if state is None:
            return False
        self.restore(state)
        return True

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's state (as :meth:`_checkpoint_state` wrote it)."""
        self.module.load_state_dict(state["model"])
        self.optimizers.load_state_dict(state["optimizers"])
        torch.set_rng_state(state["rng"])
        self.history = History.from_json(state["history"])
        self._best_rmse = float(state["best_rmse"])
        self._best_state = state["best_state"]
        self._start_epoch = int(state["epoch"]) + 1

    # -- the run --------------------------------------------------------------------

    def fit(self) -> History:
        """Train all epochs (or until early stopping or Ctrl-C); keep the best monitored weights."""
        for record in self.history.epochs:
            self.table.row(record)
        try:
            for epoch in range(self._start_epoch, self.config.epochs):
                record = self._run_epoch(epoch)
                self.history.epochs.append(record)
                self._track_best(record)
                self.table.row(record)
                if self.on_epoch is not None:
                    self.on_epoch(record)
                if self.checkpoint_dir is not None and self.rank == 0:
                    save_checkpoint(self.checkpoint_dir, self._checkpoint_state(epoch))
                if self._should_stop(record):
                    self.history.stopped = "early-stopped"
                    break
        except KeyboardInterrupt:
            self.history.stopped = "interrupted"
        if self._best_state is not None:
            self.module.load_state_dict(self._best_state)
        return self.history
