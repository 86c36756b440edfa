"""The one epoch loop that drives every solver (:mod:`embrec.training.solver`).

Each epoch the solver trains (:meth:`~embrec.training.solver.Solver.run_epoch`)
and scores the held-out sets with its own arrays; the loop records train loss,
validation loss and RMSE, seconds and ratings per second in the
:class:`~embrec.training.history.History`, prints the epoch table, and:

* early stopping: a ``monitor`` set (carved from the training data, never the
  test set) decides the best epoch; its parameters are restored at the end, and
  ``patience`` epochs without improvement stop the run;
* checkpoints: with ``checkpoint_dir``, the loop's and the solver's state is
  saved after every epoch, and :meth:`TrainingLoop.resume` continues from it
  exactly as if the run had not been interrupted (same tables, optimiser
  moments, random streams, running sums);
* a NaN or infinite loss stops with a :class:`~embrec.errors.TrainingDiverged`
  naming the epoch; Ctrl-C ends training cleanly with the best parameters so far.

:class:`Trainer` is the loop around the ``torch`` solver, built from a network.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from embrec.data.ratings import Ratings
from embrec.errors import ConfigError, TrainingDiverged
from embrec.predictor import Fallback, Predictor
from embrec.training.checkpoint import load_checkpoint, save_checkpoint
from embrec.training.config import TrainConfig
from embrec.training.history import EpochRecord, EpochTable, History
from embrec.training.scores import Evaluation
from embrec.training.solver import Solver
from embrec.training.torch_solver import TorchSolver, evaluate

__all__ = ["Evaluation", "Trainer", "TrainingLoop", "evaluate"]


class TrainingLoop:
    """Trains ``solver`` for ``config.epochs`` epochs; see the module docstring."""

    def __init__(
        self,
        solver: Solver,
        config: TrainConfig,
        *,
        valid: Ratings | None = None,
        monitor: Ratings | None = None,
        table: EpochTable | None = None,
        checkpoint_dir: Path | None = None,
        rank: int = 0,
        on_epoch: Callable[[EpochRecord], None] | None = None,
    ) -> None:
        self.solver = solver
        self.config = config
        self.table = table or EpochTable(enabled=False)
        self.checkpoint_dir = checkpoint_dir
        self.rank = rank
        self.on_epoch = on_epoch
        solver.track = self.table.track
        solver.watch({"valid": valid, "monitor": monitor} if rank == 0 else {})
        self.history = History()
        self._best_state: Any = None
        self._best_rmse = math.inf
        self._start_epoch = 0

    def _run_epoch(self, epoch: int) -> EpochRecord:
        started = time.perf_counter()
        step = self.solver.run_epoch(epoch)
        seconds = time.perf_counter() - started
        if not math.isfinite(step.train_loss):
            raise TrainingDiverged(
                f"the training loss became {step.train_loss} in epoch {epoch + 1}; "
                f"{self.solver.diverged_hint()}"
            )
        scores = self.solver.scores()
        valid, monitor = scores.get("valid"), scores.get("monitor")
        return EpochRecord(
            epoch=epoch + 1,
            train_loss=step.train_loss,
            valid_loss=None if valid is None else valid.loss,
            valid_rmse=None if valid is None else valid.rmse,
            monitor_rmse=None if monitor is None else monitor.rmse,
            seconds=seconds,
            ratings_per_second=step.examples / max(seconds, 1e-9),
            lr=step.lr,
            phase=step.phase,
        )

    def _track_best(self, record: EpochRecord) -> bool:
        """Remember the parameters of the best monitored epoch; True if this one is the best."""
        if not self.solver.keeps_best:
            return False
        if self.solver.best_phases is not None and record.phase not in self.solver.best_phases:
            return False
        if record.monitor_rmse is None or record.monitor_rmse >= self._best_rmse:
            return False
        self._best_rmse = record.monitor_rmse
        self._best_state = self.solver.snapshot()
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
            **self.solver.state(),
            "solver": self.solver.name,
            "epoch": epoch,
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
        written_by = state.get("solver", "torch")
        if written_by != self.solver.name:
            raise ConfigError(
                f"{self.checkpoint_dir}: the checkpoint was written by the {written_by} solver, "
                f"not {self.solver.name}; resume with --solver {written_by} or delete the folder"
            )
        self.solver.load_state(state)
        self.history = History.from_json(state["history"])
        self._best_rmse = float(state["best_rmse"])
        self._best_state = state["best_state"]
        self._start_epoch = int(state["epoch"]) + 1

    # -- the run --------------------------------------------------------------------

    def _show(self, record: EpochRecord) -> None:
        every = self.solver.table_every
        if record.epoch % every == 0 or record.epoch == self.solver.epochs:
            self.table.row(record)

    def fit(self) -> History:
        """Train all epochs (or until early stopping or Ctrl-C); keep the best monitored state."""
        for record in self.history.epochs:
            self._show(record)
        try:
            epoch = self._start_epoch
            while epoch < self.solver.epochs:  # a solver may end a phase early
                record = self._run_epoch(epoch)
                self.history.epochs.append(record)
                self._track_best(record)
                self._show(record)
                if self.on_epoch is not None:
                    self.on_epoch(record)
                if self.checkpoint_dir is not None and self.rank == 0:
                    save_checkpoint(self.checkpoint_dir, self._checkpoint_state(epoch))
                if self._should_stop(record):
                    self.history.stopped = "early-stopped"
                    break
                epoch += 1
        except KeyboardInterrupt:
            self.history.stopped = "interrupted"
        if self._best_state is not None:
            self.solver.restore(self._best_state)
        return self.history


class Trainer(TrainingLoop):
    """The loop around the ``torch`` solver of one network (:mod:`embrec.training.torch_solver`)."""

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
        solver = TorchSolver.for_module(module, config, train, fallback,
                                        rank=rank, world=world, wrapped=wrapped)
        super().__init__(solver, config, valid=valid, monitor=monitor, table=table,
                         checkpoint_dir=checkpoint_dir, rank=rank, on_epoch=on_epoch)
        self.module = solver.steps.module
        self.batches = solver.steps.batches
        self.optimizers = solver.steps.optimizers
        self.train = train

    def _step(self, batch: Any, epoch: int) -> tuple[float, int]:
        return self.solver.steps._step(batch, epoch)

    def predictor(self) -> Predictor:
        return self.solver.steps.predictor()
