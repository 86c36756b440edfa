"""The two-phase full-batch L-BFGS fit of GLocal-K (:mod:`embrec.models.glocal_k`).

As in the paper: the whole item x user matrix is one batch. Each epoch is at
most ``iterations`` L-BFGS steps (memory 10) on the objective of the module
docstring. ``optimizer="scipy"`` (the default) runs SciPy's L-BFGS-B afresh
each epoch, as the paper's code does; ``"torch"`` runs ``torch.optim.LBFGS``
(strong-Wolfe line search), afresh each epoch with ``restart``, else keeping
its curvature history within a phase.

1. **Pre-training** (``pretrain_epochs``) fits the local autoencoder alone and
   stops early once an epoch lowers the training RMSE by less than
   ``pretrain_tol`` (0: only when it rises).
2. **Fine-tuning** (``finetune_epochs``) fits the model with the global
   convolution kernel, every parameter free.

Each epoch reports the training RMSE, the validation RMSE (reported only) and,
when a monitor part was carved from the training data, its RMSE: the weights of
the best monitored fine-tuning epoch are kept. (The paper picks the best epoch
by the test RMSE; embrec never looks at the test part.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from embrec.bundle import shape_of
from embrec.data.ratings import Ratings
from embrec.errors import TrainingDiverged
from embrec.models.glocal_k import GLocalK
from embrec.models.registry import ModelConfig, ModelSpec
from embrec.predictor import Fallback, Predictor
from embrec.training.config import TrainConfig
from embrec.training.history import EpochRecord, EpochTable, History
from embrec.training.loop import evaluate

HISTORY_SIZE = 10


def dense_matrix(train: Ratings) -> tuple[torch.Tensor, torch.Tensor]:
    """The item x user rating matrix (zeros where unrated) and its mask of observed entries."""
    matrix = torch.zeros(train.n_items, train.n_users)
    items = torch.from_numpy(np.asarray(train.items, dtype=np.int64))
    users = torch.from_numpy(np.asarray(train.users, dtype=np.int64))
    matrix[items, users] = torch.from_numpy(np.asarray(train.values, dtype=np.float32))
    mask = torch.zeros_like(matrix)
    mask[items, users] = 1.0
    return matrix, mask


def scipy_lbfgsb(params: list[torch.nn.Parameter], objective: Callable[[], torch.Tensor],
                 iterations: int) -> None:
    """At most ``iterations`` steps of SciPy's L-BFGS-B (memory 10) from the current ``params``.

    The optimiser of the paper's code (through TensorFlow's ScipyOptimizerInterface):
    float64 iterates, the float32 network's objective and gradient.
    """
    from scipy.optimize import minimize
    from torch.nn.utils import parameters_to_vector, vector_to_parameters

    def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        with torch.no_grad():
            vector_to_parameters(torch.from_numpy(x).float(), params)
        for p in params:
            p.grad = None
        loss = objective()
        loss.backward()
        gradient = torch.cat([p.grad.reshape(-1) for p in params])
        return float(loss.detach()), gradient.double().numpy()

    start = parameters_to_vector(params).detach().double().numpy()
    result = minimize(value_and_gradient, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": iterations, "maxcor": HISTORY_SIZE})
    with torch.no_grad():
        vector_to_parameters(torch.from_numpy(result.x).float(), params)


class GLocalFit:
    """One fit: the module, the training matrix, and the epochs run so far."""

    def __init__(self, module: GLocalK, model_config: ModelConfig, config: TrainConfig,
                 train: Ratings, fallback: Fallback, valid: Ratings | None,
                 monitor: Ratings | None, table: EpochTable,
                 on_epoch: Callable[[EpochRecord], None] | None) -> None:
        self.module, self.model_config, self.config = module, model_config, config
        self.train, self.fallback = train, fallback
        self.valid, self.monitor = valid, monitor
        self.table, self.on_epoch = table, on_epoch
        self.matrix, self.mask = dense_matrix(train)
        self.history = History()
        self._best: tuple[float, dict[str, torch.Tensor]] | None = None
        self._phase_optimizer: tuple[str, Any] = ("", None)
        self.final_phase = "fine-tune" if module.use_global else "pre-train"

    def objective(self, reconstruct: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        error = (self.matrix - reconstruct(self.matrix)) * self.mask
        return 0.5 * error.pow(2).sum() + self.module.penalty()

    def run_epoch(self, epoch: int, phase: str, params: list[torch.nn.Parameter],
                  reconstruct: Callable[[torch.Tensor], torch.Tensor]) -> EpochRecord:
        started = time.perf_counter()
        self.module.train()
        if self.model_config.optimizer == "scipy":
            scipy_lbfgsb(params, lambda: self.objective(reconstruct),
                         int(self.model_config.iterations))
        else:
            optimizer = self._optimizer(phase, params)

            def closure() -> torch.Tensor:
                optimizer.zero_grad()
                loss = self.objective(reconstruct)
                loss.backward()
                return loss

            optimizer.step(closure)
        with torch.no_grad():
            error = (self.matrix - reconstruct(self.matrix)) * self.mask
        train_mse = float(error.pow(2).sum() / self.mask.sum())
        if not math.isfinite(train_mse):
            raise TrainingDiverged(
                f"the GLocal-K training loss became {train_mse} in {phase} epoch {epoch}; "
                "raise lambda_2 or lower iterations"
            )
        seconds = time.perf_counter() - started
        predictor = Predictor(self.module, self.train, self.fallback, self.train.scale)
        valid = evaluate(predictor, self.valid) if self.valid is not None else None
        monitor = evaluate(predictor, self.monitor) if self.monitor is not None else None
        record = EpochRecord(
            epoch=len(self.history.epochs) + 1, train_loss=train_mse,
            valid_loss=None if valid is None else valid.loss,
            valid_rmse=None if valid is None else valid.rmse,
            monitor_rmse=None if monitor is None else monitor.rmse,
            seconds=seconds, ratings_per_second=len(self.train) / max(seconds, 1e-9),
            lr=1.0, phase=phase,
        )
        self.history.epochs.append(record)
        if phase == self.final_phase:
            self._track_best(record)
        self.table.row(record)
        if self.on_epoch is not None:
            self.on_epoch(record)
        return record

    def _optimizer(self, phase: str, params: list[torch.nn.Parameter]) -> torch.optim.LBFGS:
        """A fresh L-BFGS each epoch (``restart``, the paper's), else one per phase."""
        if self.model_config.restart or self._phase_optimizer[0] != phase:
            optimizer = torch.optim.LBFGS(
                params, lr=1.0, max_iter=int(self.model_config.iterations),
                history_size=HISTORY_SIZE, line_search_fn="strong_wolfe",
            )
            self._phase_optimizer = (phase, optimizer)
        return self._phase_optimizer[1]

    def _track_best(self, record: EpochRecord) -> None:
        if record.monitor_rmse is None:
            return
        if self._best is None or record.monitor_rmse < self._best[0]:
            state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
            self._best = (record.monitor_rmse, state)
            self.history.best_epoch = record.epoch

    def pretrain(self) -> None:
        """Fit the local autoencoder (the module answers without its global kernel meanwhile)."""
        use_global, self.module.use_global = self.module.use_global, False
        try:
            self._pretrain()
        finally:
            self.module.use_global = use_global

    def _pretrain(self) -> None:
        params = [p for layer in [*self.module.hidden, self.module.output]
                  for p in layer.parameters()]
        last = math.inf
        for epoch in range(1, int(self.model_config.pretrain_epochs) + 1):
            record = self.run_epoch(epoch, "pre-train", params, self.module.local)
            rmse = math.sqrt(record.train_loss)
            if last - rmse < self.model_config.pretrain_tol:
                break
            last = rmse

    def finetune(self) -> None:
        params = list(self.module.parameters())
        for epoch in range(1, int(self.model_config.finetune_epochs) + 1):
            self.run_epoch(epoch, "fine-tune", params, self.module)

    def fit(self) -> History:
        try:
            self.pretrain()
            if self.module.use_global:
                self.finetune()
        except KeyboardInterrupt:
            self.history.stopped = "interrupted"
        if self._best is not None:
            self.module.load_state_dict(self._best[1])
        return self.history


def fit_glocal(
    spec: ModelSpec,
    model_config: ModelConfig,
    config: TrainConfig,
    train: Ratings,
    fallback: Fallback,
    *,
    valid: Ratings | None = None,
    monitor: Ratings | None = None,
    verbose: bool = True,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    **_: Any,
) -> tuple[torch.nn.Module, History, ModelConfig]:
    """The ``glocal`` solver: pre-training then fine-tuning by full-batch L-BFGS."""
    module = spec.build(model_config, shape_of(train, fallback.global_mean), False)
    epochs = int(model_config.pretrain_epochs) + int(model_config.finetune_epochs)
    table = EpochTable(enabled=verbose, epochs=epochs)
    run = GLocalFit(module, model_config, config, train, fallback, valid, monitor, table, on_epoch)
    return module, run.fit(), model_config
